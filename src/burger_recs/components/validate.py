"""KFP component: validate (logic: burger_recs.steps.validate)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("validate"), install_kfp_package=False)
def validate(
    drop: Input[Dataset],
    validated: Output[Dataset],
    report: Output[Markdown],
):
    """Check the drop against the data contract; fail the run listing every problem."""
    from burger_recs.runs import noted
    from burger_recs.steps import validate as step

    with noted("validate"):
        step.run(drop_dir=drop.path, out_dir=validated.path, report_path=report.path)
