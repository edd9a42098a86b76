"""The same compiled pipeline, every step in its own image, through kfp.local's DockerRunner.

Needs a Docker engine and the images of `make images` (CI builds them first).
"""

import json
import re
import subprocess

import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.components.images import REPO, STEPS, image_ref
from burger_recs.contract import recommendations
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import RunFailed
from tests.support.drops import with_negative_quantity
from tests.support.pipeline import RUN_DATE, run_day, task_names

pytestmark = pytest.mark.docker

IMAGE_MAP = REPO / ".local" / "build" / "images.json"


def _run(data, root, runner, **params):
    url = f"sqlite:///{root / 'recs.db'}"
    result = run_day(data, url, root, runner=runner, quality_margin=-1.0, **params)
    with db.make_engine(url).connect() as conn:
        rows = conn.execute(
            sa.select(recommendations).order_by(
                recommendations.c.customer_id, recommendations.c.rank
            )
        ).all()
    return result, rows


@pytest.fixture(scope="module")
def docker_root(tmp_path_factory):
    return tmp_path_factory.mktemp("docker")


@pytest.fixture(scope="module")
def docker_run(shop_data, docker_root):
    return _run(shop_data, docker_root, "docker")


def _inspect(ref):
    out = subprocess.run(
        ["docker", "image", "inspect", ref], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0]["Config"]


def test_compiled_spec_pins_the_images_make_images_built():
    spec = compiled_pipeline().read_text()
    built = json.loads(IMAGE_MAP.read_text())
    assert set(built) == set(STEPS)
    for step, ref in built.items():
        assert ref == image_ref(step)
        assert f"image: {ref}" in spec


def test_every_step_ran_in_its_own_image(docker_run):
    result, _ = docker_run
    log = result.log_file.read_text()
    reported = dict(re.findall(r"step (\w+): code \S+, image (\S+)", log))
    one_shard = [step for step in STEPS if step != "commit"]  # commit: the sharded publish
    assert reported == {step: image_ref(step) for step in one_shard}
    for step in one_shard:
        env = dict(e.split("=", 1) for e in _inspect(image_ref(step))["Env"])
        assert re.search(rf"step {step}: code {re.escape(env['BURGER_RECS_CODE_VERSION'])},", log)
    assert (
        result.record.code_version
        == dict(e.split("=", 1) for e in _inspect(image_ref("publish"))["Env"])[
            "BURGER_RECS_CODE_VERSION"
        ]
    )


def test_images_run_as_non_root_with_labels():
    for step in STEPS:
        config = _inspect(image_ref(step))
        assert config["User"] == "10001:10001"
        labels = config["Labels"]
        for key in ("source", "revision", "version"):
            assert labels[f"org.opencontainers.image.{key}"] not in ("", "unknown")
        assert "PYTHONUNBUFFERED=1" in config["Env"]


def test_the_extra_ca_bundle_never_reaches_an_image():
    for step in ("base", *STEPS):
        ref = image_ref(step)
        history = subprocess.run(
            ["docker", "history", "--no-trunc", ref], capture_output=True, text=True, check=True
        ).stdout
        assert "extra-ca" not in history
        listing = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "ls", ref, "-a", "/"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert "build" not in listing


def test_containers_give_the_same_results_as_the_embedded_run(docker_run, shop_data, tmp_path):
    result, docker_rows = docker_run
    assert result.status == "published"
    _, embedded_rows = _run(shop_data, tmp_path, "subprocess")
    assert len(docker_rows) == len(embedded_rows) > 0

    def top(rows, n=3):
        best = {}
        for r in rows:
            if r.rank <= n:
                best.setdefault(r.customer_id, []).append(r.item_id)
        return best

    docker_top, embedded_top = top(docker_rows), top(embedded_rows)
    sample = sorted(embedded_top)[::10]
    agree = sum(docker_top[c] == embedded_top[c] for c in sample)
    assert agree == len(sample), f"{len(sample) - agree} of {len(sample)} customers differ"


def test_shards_run_in_the_step_images_and_publish_the_same_day(docker_run, shop_data, tmp_path):
    """``shards`` > 1 in containers: the plan, each shard's score and stage, one commit.

    The small shop is one scoring block, so shard 0 is empty and shard 1 holds every
    customer: the empty shard must stage nothing and the commit still make the whole day.
    """
    one_result, one_rows = docker_run
    result, rows = _run(shop_data, tmp_path, "docker", shards=2)
    assert result.status == "published"
    tasks = task_names(result)
    assert tasks.count("recommend-shard") == tasks.count("stage-shard") == 2
    assert "commit" in tasks and "publish" not in tasks
    log = result.log_file.read_text()
    reported = set(re.findall(r"step (\w+): code \S+, image (\S+)", log))
    # staging and the commit are steps/commit.py, in the commit image
    ran = {(s, image_ref(s)) for s in STEPS if s != "publish"}
    assert reported == ran | {("stage", image_ref("commit"))}
    assert rows == one_rows
    assert result.record.rows_written == one_result.record.rows_written == len(rows)


def test_a_broken_drop_fails_in_the_images_and_the_final_task_records_it(shop_data, tmp_path):
    broken = with_negative_quantity(shop_data, tmp_path / "broken", RUN_DATE.isoformat())
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    with pytest.raises(RunFailed) as failure:
        run_day(broken, url, tmp_path, runner="docker")
    run = failure.value.result
    assert run.record.status == "failed"
    assert run.record.message.startswith("validate failed: input data breaks the contract")
    log = run.log_file.read_text()
    assert f"step finish: code {run.record.code_version}, image {image_ref('finish')}" in log
    assert "Traceback" not in log  # an expected failure: its message alone


def test_a_rerun_in_the_images_takes_unchanged_steps_from_the_cache(
    docker_run, shop_data, docker_root
):
    """The first run's model became the champion, which evaluate and recommend take; what
    came before them is unchanged and comes from the cache, in containers too."""
    from burger_recs.pipelines.run_index import summarize_log

    first, rows = docker_run
    again, again_rows = _run(shop_data, docker_root, "docker")
    ran = {s.name for s in summarize_log(again.log_file.read_text()).steps if s.executions}
    assert {"ingest", "validate", "train"} <= set(again.cached_tasks)
    assert ran == {"check-inputs", "evaluate", "recommend", "publish", "finish"}
    assert again.status == "published" and again.run_id != first.run_id
    assert [(r.customer_id, r.rank, r.item_id) for r in again_rows] == [
        (r.customer_id, r.rank, r.item_id) for r in rows
    ]
