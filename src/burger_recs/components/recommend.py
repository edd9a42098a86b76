"""KFP components of the recommend step (logic: burger_recs.steps.recommend).

``recommend`` scores every customer; the sharded path plans the shards (``shard_plan``) and
scores one shard per task (``recommend_shard``). All three run in the recommend image.
"""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("recommend"), install_kfp_package=False)
def recommend(
    model: Input[Model],
    validated: Input[Dataset],
    evaluation: Input[Artifact],
    k: int,
    exclude_ordered: bool,
    recommendations: Output[Dataset],
) -> int:
    """Score every customer by the scorer that serves the day (evaluation); keep the top k."""
    from burger_recs.runs import noted
    from burger_recs.steps import recommend as step

    with noted("recommend"):
        return step.run(
            model_path=model.path,
            data_dir=validated.path,
            evaluation_path=evaluation.path,
            out_path=recommendations.path,
            k=k,
            exclude_ordered=exclude_ordered,
        )


@dsl.component(base_image=image_ref("recommend"), install_kfp_package=False)
def shard_plan(shards: int) -> list:
    """Return the shard numbers 0 .. shards - 1: the items of the ParallelFor over shards."""
    from burger_recs.runs import noted
    from burger_recs.steps import recommend as step

    with noted("shard_plan"):
        return step.shard_plan(shards=shards)


@dsl.component(base_image=image_ref("recommend"), install_kfp_package=False)
def recommend_shard(
    model: Input[Model],
    validated: Input[Dataset],
    evaluation: Input[Artifact],
    k: int,
    exclude_ordered: bool,
    shard: int,
    shards: int,
    recommendations: Output[Dataset],
) -> int:
    """Score one shard of the customers in blocks, keep the top k; return the row count."""
    from burger_recs.runs import noted
    from burger_recs.steps import recommend as step

    with noted(f"recommend_shard {shard}"):
        return step.run(
            model_path=model.path,
            data_dir=validated.path,
            evaluation_path=evaluation.path,
            out_path=recommendations.path,
            k=k,
            exclude_ordered=exclude_ordered,
            shard=shard,
            shards=shards,
        )
