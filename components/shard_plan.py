"""KFP component: shard_plan (logic: burger_recs.steps.recommend.shard_plan)."""

from kfp import dsl

from components.images import image_ref


@dsl.component(base_image=image_ref("recommend"), install_kfp_package=False)
def shard_plan(shards: int) -> list:
    """Return the shard numbers 0 .. shards - 1: the items of the ParallelFor over shards."""
    from burger_recs.steps import recommend as step

    return step.shard_plan(shards)
