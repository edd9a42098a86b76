"""KFP component: recommend (logic: burger_recs.steps.recommend)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components.images import image_ref


@dsl.component(base_image=image_ref("recommend"), install_kfp_package=False)
def recommend(
    model: Input[Model],
    validated: Input[Dataset],
    k: int,
    exclude_ordered: bool,
    recommendations: Output[Dataset],
) -> int:
    """Score every customer in blocks and keep the top k items; return the row count."""
    from burger_recs.steps import recommend as step

    return step.run(model.path, validated.path, recommendations.path, k, exclude_ordered)
