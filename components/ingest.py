"""KFP components of ingest (logic: burger_recs.steps.ingest).

``check_drops`` runs on every run: it resolves the run date and fingerprints the files ingest
will read. ``ingest`` takes that fingerprint as a parameter, so that a cache (kfp.local's, or
KFP's on a cluster) serves it again only while the day and the drops are unchanged.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.images import image_ref


@dsl.component(base_image=image_ref("ingest"), install_kfp_package=False)
def check_drops(
    data_uri: str,
    run_date: str,
    window_days: int,
    scheduled_at: str,
    day_closes_at: str,
    orchestrator_run_id: str,
) -> NamedTuple("Check", run_date=str, fingerprint=str):
    """Resolve the run date (empty: the scheduled day); fingerprint the window's drops."""
    from burger_recs.runs import noted
    from burger_recs.steps import ingest as step

    with noted("ingest", orchestrator_run_id):
        return step.check(
            data_uri=data_uri,
            run_date=run_date,
            window_days=window_days,
            scheduled_at=scheduled_at,
            day_closes_at=day_closes_at,
        )


@dsl.component(base_image=image_ref("ingest"), install_kfp_package=False)
def ingest(
    data_uri: str,
    run_date: str,
    window_days: int,
    fingerprint: str,
    orchestrator_run_id: str,
    drop: Output[Dataset],
) -> None:
    """Read the window of daily drops ending at the run date.

    ``fingerprint`` (from check_drops) is not read here: it is in the cache key.
    """
    from burger_recs.runs import noted
    from burger_recs.steps import ingest as step

    with noted("ingest", orchestrator_run_id):
        step.run(data_uri=data_uri, run_date=run_date, window_days=window_days, out_dir=drop.path)
