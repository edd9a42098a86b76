"""KFP components of the sharded publish (logic: burger_recs.steps.commit).

``stage_shard`` stages one shard's rows; ``commit`` makes the staged shards the day at once.
Both run in the commit image. The database URL reaches them through the DATABASE_URL
environment variable (a Kubernetes Secret on a cluster), never through a parameter.
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("commit"), install_kfp_package=False)
def stage_shard(
    recommendations: Input[Dataset],
    run_id: str,
    orchestrator_run_id: str,
    shard: int,
    shards: int,
) -> int:
    """Stage one shard's rows (replacing its earlier staging); return the row count."""
    from burger_recs.runs import noted
    from burger_recs.steps import commit as step

    with noted(f"stage_shard {shard}", orchestrator_run_id):
        return step.stage_run(
            recs_path=recommendations.path,
            run_id=run_id,
            orchestrator_run_id=orchestrator_run_id,
            shard=shard,
            shards=shards,
        )


@dsl.component(base_image=image_ref("commit"), install_kfp_package=False)
def commit(
    validated: Input[Dataset],
    evaluation: Input[Artifact],
    model: Input[Model],
    eval_model: Input[Model],
    model_version: str,
    run_id: str,
    data_uri: str,
    started_at: str,
    orchestrator_run_id: str,
    shards: int,
    staged_rows: list[int],
    published: Output[Metrics],
    trends: Output[HTML],
) -> int:
    """Make the staged shards the day, atomically (if the gate allows); record the run."""
    from burger_recs.publishing import logged_outputs
    from burger_recs.runs import noted
    from burger_recs.steps import commit as step

    with noted("commit", orchestrator_run_id):
        record = step.commit_run(
            data_dir=validated.path,
            evaluation_path=evaluation.path,
            model_version=model_version,
            model_path=model.path,
            eval_model_path=eval_model.path,
            run_id=run_id,
            data_uri=data_uri,
            shards=shards,
            staged_rows=staged_rows,
            started_at=started_at,
            orchestrator_run_id=orchestrator_run_id,
            trends_path=trends.path,
        )
    figures, metadata = logged_outputs(record)  # rows, customers, coverage, churn, shares
    for name, value in figures.items():
        published.log_metric(name, value)
    published.metadata.update(metadata)
    return record.rows_written
