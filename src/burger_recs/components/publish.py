"""KFP component: publish (logic: burger_recs.steps.publish).

The database URL reaches this step through the DATABASE_URL environment variable (a
Kubernetes Secret on a cluster), never through a parameter.
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("publish"), install_kfp_package=False)
def publish(
    recommendations: Input[Dataset],
    validated: Input[Dataset],
    evaluation: Input[Artifact],
    model: Input[Model],
    eval_model: Input[Model],
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str,
    orchestrator_run_id: str,
    published: Output[Metrics],
    trends: Output[HTML],
) -> int:
    """Replace the day's recommendations atomically (if the gate allows); record the run."""
    from burger_recs.publishing import logged_outputs
    from burger_recs.runs import noted
    from burger_recs.steps import publish as step

    with noted("publish", orchestrator_run_id):
        record = step.run(
            recs_path=recommendations.path,
            data_dir=validated.path,
            evaluation_path=evaluation.path,
            model_version=model_version,
            model_path=model.path,
            eval_model_path=eval_model.path,
            run_id=run_id,
            data_uri=data_uri,
            started_at=started_at,
            orchestrator_run_id=orchestrator_run_id,
            trends_path=trends.path,
        )
    figures, metadata = logged_outputs(record)  # rows, customers, coverage, churn, shares
    for name, value in figures.items():
        published.log_metric(name, value)
    published.metadata.update(metadata)
    return record.rows_written
