"""KFP component: ingest (logic: burger_recs.steps.ingest)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.images import image_ref


@dsl.component(base_image=image_ref("ingest"), install_kfp_package=False)
def ingest(data_uri: str, run_date: str, window_days: int, drop: Output[Dataset]) -> NamedTuple(
    "Run", run_date=str, started_at=str
):
    """Read the window of daily drops ending at run_date (empty: today, UTC).

    Returns the resolved run date and the time the run started, for the later steps.
    """
    from burger_recs.steps import ingest as step

    return step.run(
        data_uri=data_uri, run_date=run_date, window_days=window_days, out_dir=drop.path
    )
