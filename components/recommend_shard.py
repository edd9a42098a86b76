"""KFP component: recommend_shard (logic: burger_recs.steps.recommend, one shard)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components.images import image_ref


@dsl.component(base_image=image_ref("recommend"), install_kfp_package=False)
def recommend_shard(
    model: Input[Model],
    validated: Input[Dataset],
    k: int,
    exclude_ordered: bool,
    shard: int,
    shards: int,
    recommendations: Output[Dataset],
) -> int:
    """Score one shard of the customers in blocks, keep the top k; return the row count."""
    from burger_recs.steps import recommend as step

    return step.run(
        model.path, validated.path, recommendations.path, k, exclude_ordered, shard, shards
    )
