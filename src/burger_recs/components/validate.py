"""KFP component: validate (logic: burger_recs.steps.validate)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("validate"), install_kfp_package=False)
def validate(
    drop: Input[Dataset],
    validated: Output[Dataset],
    report: Output[Markdown],
    volume_drop: float,
    volume_spike: float,
    mix_shift: float,
    accept_unusual_day: bool,
):
    """Check the drop against the data contract, and its day against the recent past.

    Fails the run listing every problem, or the unusual day's figures.
    """
    from burger_recs.runs import noted
    from burger_recs.settings import DayCheckSettings
    from burger_recs.steps import validate as step

    with noted("validate"):
        step.run(
            drop_dir=drop.path,
            out_dir=validated.path,
            report_path=report.path,
            day_check=DayCheckSettings(
                volume_drop=volume_drop, volume_spike=volume_spike, mix_shift=mix_shift
            ),
            accept_unusual_day=accept_unusual_day,
        )
