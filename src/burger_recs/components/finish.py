"""KFP component: finish, the pipeline's final task (logic: burger_recs.steps.finish).

It runs under ``dsl.ExitHandler`` whatever the steps did, records the run's outcome in
``pipeline_runs`` and alerts on a failed run, or a day served despite what a person should
know (no model promoted for days, an unusual day, a failure after the day went live). The
database URL and the webhook URL reach it through the environment (Kubernetes Secrets on a
cluster), never as parameters.
"""

from kfp import dsl

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("finish"), install_kfp_package=False)
def finish(
    status: dsl.PipelineTaskFinalStatus,
    run_id: str,
    orchestrator_run_id: str,
    run_date: str,
    scheduled_at: str,
    day_closes_at: str,
    created_at: str,
    data_uri: str,
    gated_days_to_alert: int,
) -> str:
    """Record how the run ended (published, gated or failed, naming the step); alert."""
    from burger_recs.steps import finish as step

    return step.run(
        state=status.state,
        run_id=run_id,
        orchestrator_run_id=orchestrator_run_id,
        run_date=run_date,
        data_uri=data_uri,
        scheduled_at=scheduled_at,
        day_closes_at=day_closes_at,
        created_at=created_at,
        group=status.pipeline_task_name,
        gated_days_to_alert=gated_days_to_alert,
    )
