"""scripts/bench.py keeps a scale's section whole when a run measures only some parts."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench"]


@pytest.mark.parametrize(
    ("key", "part"),
    [
        ("step:recommend", "recommend"),
        ("raw:recommend", "recommend"),
        ("step:recommend-shard-0", "publish"),
        ("step:publish:sqlite", "publish"),
        ("step:sharded-publish:postgresql", "publish"),
        ("raw:copy:postgresql", "publish"),
        ("raw:read_csv", "ingest"),
        ("inprocess", "pipeline"),
        ("shortest", "pipeline"),
        ("step:validate", None),
        ("step:evaluate", None),
    ],
)
def test_every_measurement_belongs_to_its_part(bench, key, part):
    assert bench.part_of(key) == part


def test_a_partial_run_replaces_its_parts_and_keeps_the_rest(bench):
    def stored(seconds):
        return {"name": "", "seconds": seconds, "wall": seconds, "max_rss_mb": 1.0, "extra": {}}

    old = {k: {**stored(9.0), "measured": "2026-01-01T10:00:00+00:00"} for k in (
        "step:ingest", "raw:read_csv", "step:train", "raw:train", "step:validate")}  # fmt: skip
    fresh = {
        k: bench.Measured(k, seconds=1.0, wall=1.0, max_rss_mb=2.0)
        for k in ("step:ingest", "step:validate", "step:train", "raw:train", "step:evaluate")
    }
    merged = bench.merge_results(old, fresh, {"train"}, "2026-02-02T10:00:00+00:00")
    assert set(merged) == set(old) | set(fresh)
    # train measured now: both sides of its ratio are this run's
    assert merged["step:train"]["measured"] == merged["raw:train"]["measured"]
    assert merged["raw:train"]["measured"] == "2026-02-02T10:00:00+00:00"
    # ingest was only run to feed train: its ratio keeps the pair from the earlier run
    assert merged["step:ingest"] == old["step:ingest"]
    assert merged["raw:read_csv"] == old["raw:read_csv"]
    # figures without a baseline take the newest measurement
    assert merged["step:validate"]["seconds"] == merged["step:evaluate"]["seconds"] == 1.0
