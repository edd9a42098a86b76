"""KFP component: check_inputs (logic: burger_recs.steps.check_inputs).

It runs on every run: it resolves the run date, fingerprints the files ingest will read and
looks up the champion model, so that the steps a cache may serve key on them.
"""

from typing import NamedTuple

from kfp import dsl

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("check_inputs"), install_kfp_package=False)
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
    from burger_recs.steps import check_inputs as step

    with noted("check-inputs", orchestrator_run_id):
        return step.run(
            data_uri=data_uri,
            run_date=run_date,
            window_days=window_days,
            scheduled_at=scheduled_at,
            day_closes_at=day_closes_at,
        )
