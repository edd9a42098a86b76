"""The compiled pipeline run by kfp.local on a small generated shop (``shop_data`` fixture)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from burger_recs.components.cluster import TASKS as TASK_SETTINGS
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import LocalRun, run_pipeline

RUN_DATE = dt.date(2026, 3, 30)
# Small enough for seconds per run, large enough for the model to beat popularity.
SHOP = {"customers": 400, "days": 35, "items": 30, "seed": 7}
FAST_PARAMS = {"epochs": 10, "window_days": 21, "holdout_days": 7}

# The pipeline's tasks, for every test that names them: the cluster settings list each task
# once, in pipeline order (their keys; KFP names a task like its step, "-" for "_").
TASKS = tuple(step.replace("_", "-") for step in TASK_SETTINGS)
FINAL = "finish"
"""The exit handler's final task, which records every run."""
SHARDED = ("shard-plan", "recommend-shard", "stage-shard", "commit")
"""The tasks of a sharded day (``shards`` > 1), in place of recommend and publish."""
ONE_SHARD_DAY = tuple(t for t in TASKS if t not in SHARDED and t != FINAL)
"""The tasks of a day in one shard, in order: the check, ingest ... publish."""
CACHEABLE = frozenset(t for t in ONE_SHARD_DAY if TASK_SETTINGS[t.replace("-", "_")].cache)
"""The tasks of a one-shard day that a cache may serve."""
ALWAYS_RUN = frozenset(ONE_SHARD_DAY) - CACHEABLE | {FINAL}
"""The tasks that run on every run: the check, publish and the final task."""


def day_arguments(data: Path | str, **params: object) -> dict[str, object]:
    """The arguments of a quick run of RUN_DATE on ``data``: FAST_PARAMS, then ``params``."""
    return {"data_uri": str(data), "run_date": RUN_DATE.isoformat(), **FAST_PARAMS, **params}


def run_day(
    data: Path | str, url: str, root: Path, *, runner: str = "subprocess", **params: object
) -> LocalRun:
    """Run the checked-in compiled pipeline for RUN_DATE quietly (raises RunFailed)."""
    arguments = day_arguments(data, **params)
    return run_pipeline(compiled_pipeline(), arguments, url, root, runner=runner, quiet=True)


def task_names(result: LocalRun) -> list[str]:
    """The tasks a kfp.local run ran, sorted (one output folder each; loop tasks one per item)."""
    return sorted(p.parent.name for p in result.artifacts.glob("*/**/executor_output.json"))
