"""KFP components of ingest (logic: burger_recs.steps.ingest).

``check_inputs`` runs on every run: it resolves the run date, fingerprints the files ingest
will read and looks up the champion model. ``ingest`` takes that fingerprint as a parameter,
and evaluate and recommend the champion's version, so that a cache (kfp.local's, or KFP's on
a cluster) serves them again only while the day, the drops and the champion are unchanged.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("ingest"), install_kfp_package=False)
def check_inputs(
    data_uri: str,
    run_date: str,
    window_days: int,
    scheduled_at: str,
    day_closes_at: str,
    orchestrator_run_id: str,
) -> NamedTuple("Check", run_date=str, fingerprint=str, champion=str):
    """Resolve the run date (empty: the scheduled day), fingerprint the drops, name the champion."""
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

    ``fingerprint`` (from check_inputs) is not read here: it is in the cache key.
    """
    from burger_recs.runs import noted
    from burger_recs.steps import ingest as step

    with noted("ingest", orchestrator_run_id):
        step.run(data_uri=data_uri, run_date=run_date, window_days=window_days, out_dir=drop.path)
