"""The checked-in IR is exactly what the pipeline compiles to today."""

import pytest
import yaml

from burger_recs.components.images import STEPS, image_ref
from burger_recs.pipelines.compile import compile_pipeline, compiled_pipeline


@pytest.mark.slow  # compiles the pipeline: seconds
def test_checked_in_ir_matches_a_fresh_compile(tmp_path):
    fresh = compile_pipeline(tmp_path / "fresh.yaml").read_text()
    assert fresh == compiled_pipeline().read_text(), (
        "pipelines/compiled/daily_recommendations.yaml is stale: run `make compile` and commit it"
    )


def test_ir_pins_every_step_to_its_content_tagged_image():
    spec = next(yaml.safe_load_all(compiled_pipeline().read_text()))
    executors = spec["deploymentSpec"]["executors"]
    images = {name.removeprefix("exec-"): e["container"]["image"] for name, e in executors.items()}
    # A step's task is named like it (check_inputs: check-inputs); the shard tasks run in
    # the images of the steps whose code they call.
    sharded = {
        "shard-plan": "recommend",
        "recommend-shard": "recommend",
        "stage-shard": "commit",
        "commit": "commit",
    }
    expected = {step.replace("_", "-"): image_ref(step) for step in STEPS}
    expected |= {task: image_ref(step) for task, step in sharded.items()}
    assert images == expected
    for executor in executors.values():
        command = " ".join(executor["container"]["command"])
        assert "pip install" not in command  # images carry their packages; nothing at run time


def test_ir_has_the_documented_parameters():
    spec = next(yaml.safe_load_all(compiled_pipeline().read_text()))
    params = spec["root"]["inputDefinitions"]["parameters"]
    for name in (
        "run_date",
        "data_uri",
        "k",
        "window_days",
        "holdout_days",
        "exclude_ordered",
        "loss",
        "epochs",
        "no_components",
        "learning_rate",
        "quality_margin",
    ):
        assert name in params
    assert params["k"]["defaultValue"] == 10
    assert "database" not in " ".join(params).lower()  # secrets never travel as parameters


def test_the_checked_in_ir_names_the_sources_it_was_compiled_from():
    from burger_recs.pipelines.compile import sources_digest, sources_file, stale_sources

    recorded = sources_file(compiled_pipeline()).read_text().strip()
    assert recorded == sources_digest(), (
        "pipelines/compiled/ was compiled from other sources: run `make compile` and commit it"
    )
    assert not stale_sources(compiled_pipeline())
