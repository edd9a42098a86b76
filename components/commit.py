"""KFP component: commit (logic: burger_recs.steps.publish.commit_run).

The database URL reaches this step through the DATABASE_URL environment variable (a
Kubernetes Secret on a cluster), never through a parameter.
"""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.images import image_ref


@dsl.component(base_image=image_ref("publish"), install_kfp_package=False)
def commit(
    validated: Input[Dataset],
    evaluation: Input[Artifact],
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str,
    orchestrator_run_id: str,
    shards: int,
    staged_rows: list[int],
    published: Output[Metrics],
) -> int:
    """Make the staged shards the day, atomically (if the gate allows); record the run."""
    from burger_recs.steps import publish as step

    record = step.commit_run(
        validated.path,
        evaluation.path,
        model_version,
        run_id,
        data_uri,
        shards,
        staged_rows,
        started_at,
        orchestrator_run_id,
    )
    published.log_metric("rows_written", record.rows_written)
    published.log_metric("customers", record.customers or 0)
    published.metadata["status"] = record.status
    published.metadata["code_version"] = record.code_version
    return record.rows_written
