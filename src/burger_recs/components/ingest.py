"""KFP component: ingest (logic: burger_recs.steps.ingest).

It takes the fingerprint of the drops (check_inputs) as a parameter: a cache serves it again
only while the drops it reads are unchanged.
"""

from kfp import dsl
from kfp.dsl import Dataset, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("ingest"), install_kfp_package=False)
def ingest(
    data_uri: str,
    run_date: str,
    window_days: int,
    fingerprint: str,
    drop: Output[Dataset],
) -> None:
    """Read the window of daily drops ending at the run date.

    ``fingerprint`` (from check_inputs) is not read here: it is in the cache key.
    """
    from burger_recs.runs import noted
    from burger_recs.steps import ingest as step

    with noted("ingest"):
        step.run(data_uri=data_uri, run_date=run_date, window_days=window_days, out_dir=drop.path)
