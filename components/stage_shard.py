"""KFP component: stage_shard (logic: burger_recs.steps.publish.stage_run).

The database URL reaches this step through the DATABASE_URL environment variable (a
Kubernetes Secret on a cluster), never through a parameter.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input

from components.images import image_ref


@dsl.component(base_image=image_ref("publish"), install_kfp_package=False)
def stage_shard(
    recommendations: Input[Dataset],
    run_id: str,
    orchestrator_run_id: str,
    shard: int,
    shards: int,
) -> int:
    """Stage one shard's rows (replacing its earlier staging); return the row count."""
    from burger_recs.steps import publish as step

    return step.stage_run(recommendations.path, run_id, orchestrator_run_id, shard, shards)
