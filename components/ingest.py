"""KFP component: ingest (logic: burger_recs.steps.ingest)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.images import image_ref


@dsl.component(base_image=image_ref("ingest"), install_kfp_package=False)
def ingest(
    data_uri: str,
    run_date: str,
    window_days: int,
    scheduled_at: str,
    day_closes_at: str,
    run_id: str,
    orchestrator_run_id: str,
    drop: Output[Dataset],
) -> NamedTuple("Run", run_date=str, started_at=str):
    """Read the window of daily drops ending at the run date (empty: the scheduled day).

    Returns the resolved run date and the time the run started, for the later steps.
    """
    from burger_recs.runs import noted
    from burger_recs.steps import ingest as step

    with noted("ingest", run_id, orchestrator_run_id):
        return step.run(
            data_uri=data_uri,
            run_date=run_date,
            window_days=window_days,
            out_dir=drop.path,
            scheduled_at=scheduled_at,
            day_closes_at=day_closes_at,
        )
