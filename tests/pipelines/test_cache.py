"""Cached reruns: kfp.local serves a step again only when nothing it depends on changed.

Every test here tries to trick the cache (an edited drop, a changed parameter, an edited step,
a stale compiled pipeline) and checks which steps ran, from the run log, and what was
published, from the database.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from burger_recs import db
from burger_recs.contract import recommendations
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import (
    LocalRun,
    RunFailed,
    cache_folder,
    earlier_run,
    run_pipeline,
    stale_images,
)
from burger_recs.pipelines.run_index import summarize_log
from tests.support.database import recommendations_refused
from tests.support.pipeline import ALWAYS_RUN, CACHEABLE, RUN_DATE, day_arguments

pytestmark = pytest.mark.slow  # kfp.local pipeline runs, seconds each

# The gate off, so that the first run's model becomes the champion on this small shop.
GATE_OFF = {"quality_margin": -1.0}


def ran(result: LocalRun) -> set[str]:
    """The tasks the run executed (not served from the cache), from its log."""
    steps = summarize_log(result.log_file.read_text()).steps
    return {s.name for s in steps if s.executions}


def published_day(url: str) -> list[tuple]:
    with db.make_engine(url).connect() as conn:
        query = sa.select(
            recommendations.c.customer_id, recommendations.c.rank, recommendations.c.item_id
        ).where(recommendations.c.run_date == RUN_DATE)
        return sorted(conn.execute(query).all())


@pytest.fixture
def shop(shop_data: Path, tmp_path: Path) -> Path:
    """A copy of the generated shop that a test may edit."""
    return Path(shutil.copytree(shop_data, tmp_path / "shop"))


@pytest.fixture
def first(shop: Path, tmp_path: Path) -> tuple[Path, str, LocalRun]:
    """One uncached run of RUN_DATE (the cache is empty), its root and database."""
    root = tmp_path / "local"
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    arguments = day_arguments(shop, **GATE_OFF)
    result = run_pipeline(compiled_pipeline(), arguments, url, root, quiet=True)
    assert result.status == "published"
    assert ran(result) == CACHEABLE | ALWAYS_RUN and not result.cached
    return root, url, result


@pytest.fixture
def settled(first: tuple[Path, str, LocalRun], shop: Path) -> tuple[Path, str, LocalRun]:
    """The first run, then a rerun: the first run's model became the champion, which
    evaluate and recommend take, so they run once more; from then on nothing changes."""
    root, url, _ = first
    again = rerun(shop, url, root)
    assert {"evaluate", "recommend"} <= ran(again)  # the champion changed
    assert {"ingest", "validate", "train"} <= set(again.cached_tasks)
    return root, url, again


def rerun(shop: Path, url: str, root: Path, ir: Path | None = None, **params) -> LocalRun:
    pipeline = ir or compiled_pipeline()
    arguments = day_arguments(shop, **{**GATE_OFF, **params})
    return run_pipeline(pipeline, arguments, url, root, quiet=True)


def test_an_unchanged_rerun_runs_only_the_check_publish_and_finish(settled, shop):
    root, url, before = settled
    rows = published_day(url)
    again = rerun(shop, url, root)
    assert ran(again) == ALWAYS_RUN
    assert set(again.cached_tasks) == CACHEABLE
    assert again.status == "published" and again.run_id != before.run_id
    assert again.record.model_version == before.record.model_version
    assert published_day(url) == rows
    # The reports of the served steps are found in the run that computed them.
    assert (again.folder / "report.html").read_bytes() == (
        before.folder / "report.html"
    ).read_bytes()
    assert (again.folder / "validation.md").is_file()


def test_a_drop_edited_in_place_is_read_again(first, shop):
    root, url, _ = first
    orders = shop / f"date={RUN_DATE.isoformat()}" / "orders.csv"
    lines = orders.read_text().splitlines()
    header, row = lines[0], lines[1].split(",")
    quantity = header.split(",").index("quantity")
    row[quantity] = str(int(row[quantity]) + 1)  # same file name, one value changed
    orders.write_text("\n".join([header, ",".join(row), *lines[2:]]) + "\n")
    again = rerun(shop, url, root)
    assert {"ingest", "validate", "train"} <= ran(again)
    assert "ingest" not in again.cached_tasks


def test_a_new_drop_file_in_the_window_is_read_again(first, shop):
    root, url, _ = first
    day = shop / f"date={RUN_DATE.isoformat()}"
    (day / "notes.txt").write_text("delivered late\n")  # ingest does not read it...
    again = rerun(shop, url, root)
    assert "ingest" in ran(again)  # ...but the window's files changed: read again


def test_a_changed_parameter_reruns_the_steps_that_take_it(first, shop):
    root, url, _ = first
    again = rerun(shop, url, root, k=5)
    assert {"evaluate", "recommend"} <= ran(again)
    assert {"ingest", "validate", "train"} <= set(again.cached_tasks)
    with db.make_engine(url).connect() as conn:
        ranks = conn.execute(
            sa.select(sa.func.max(recommendations.c.rank)).where(
                recommendations.c.run_date == RUN_DATE
            )
        ).scalar()
    assert ranks == 5


def test_a_step_whose_image_changed_runs_again(settled, shop, tmp_path, monkeypatch):
    """An edit of steps/recommend.py gives the recommend image a new content tag; compiled,
    the IR names it, and only recommend (and what always runs) runs again."""
    import burger_recs.components.images as images

    root, url, _ = settled
    old = images.content_tag("recommend")
    new = "0123456789abcdef"
    ir = tmp_path / "daily_recommendations.yaml"
    ir.write_text(compiled_pipeline().read_text().replace(f"recommend:{old}", f"recommend:{new}"))
    current = images.content_tag
    monkeypatch.setattr(
        images, "content_tag", lambda image: new if image == "recommend" else current(image)
    )
    again = rerun(shop, url, root, ir=ir)
    assert ran(again) == {"recommend"} | ALWAYS_RUN
    assert set(again.cached_tasks) == CACHEABLE - {"recommend"}


def test_a_compiled_pipeline_older_than_the_code_runs_without_the_cache(first, shop, tmp_path):
    root, url, _ = first
    old_tag = "fedcba9876543210"
    text = compiled_pipeline().read_text()
    tag = text.split("burger-recs-train:")[1][:16]
    ir = tmp_path / "daily_recommendations.yaml"
    ir.write_text(text.replace(f"burger-recs-train:{tag}", f"burger-recs-train:{old_tag}"))
    assert stale_images(ir.read_text()) == ["train"]
    again = rerun(shop, url, root, ir=ir)
    assert ran(again) == CACHEABLE | ALWAYS_RUN and not again.cached


def test_no_cache_runs_every_step(first, shop):
    root, url, _ = first
    again = run_pipeline(
        compiled_pipeline(), day_arguments(shop, **GATE_OFF), url, root, quiet=True, cache=False
    )
    assert ran(again) == CACHEABLE | ALWAYS_RUN and not again.cached


def test_a_deleted_run_folder_is_never_served(first, shop):
    root, url, before = first
    shutil.rmtree(before.folder)
    again = rerun(shop, url, root)
    assert ran(again) == CACHEABLE | ALWAYS_RUN
    assert list(cache_folder(root).glob("*.json"))


def test_another_day_shares_nothing_it_should_not(first, shop):
    root, url, _ = first
    other = run_pipeline(
        compiled_pipeline(),
        {**day_arguments(shop, **GATE_OFF), "run_date": "2026-03-29"},
        url,
        root,
        quiet=True,
    )
    assert ran(other) == CACHEABLE | ALWAYS_RUN


def test_a_failed_run_resumes_with_the_steps_that_succeeded_from_the_cache(settled, shop):
    """publish fails (the database refuses the day's rows); once the fault is gone, the run
    is resumed from its folder: same arguments, the steps before publish from the cache."""
    root, url, _ = settled
    with (
        recommendations_refused(db.make_engine(url)),
        pytest.raises(RunFailed, match="read-only today") as failed,
    ):
        rerun(shop, url, root, k=7)
    broken = failed.value.result
    assert broken.record.status == "failed"
    assert "publish failed" in broken.record.message
    earlier = earlier_run(root, broken.run_id)
    assert earlier.started.runner == "subprocess" and earlier.arguments["k"] == 7
    arguments = {k: v for k, v in earlier.arguments.items() if k != "run_id"}
    resumed = run_pipeline(compiled_pipeline(), arguments, url, root, quiet=True)
    assert resumed.status == "published"
    assert set(resumed.cached_tasks) == CACHEABLE
    assert ran(resumed) == ALWAYS_RUN


def test_resume_with_a_param_fixes_a_run_a_bad_parameter_failed(shop, tmp_path, monkeypatch):
    """`--param epochs=0` fails at train; `resume RUN --param epochs=2`, as the failure's hint
    says, runs it again with the steps before train from the cache, and publishes."""
    from typer.testing import CliRunner

    from burger_recs.cli import app
    from burger_recs.runs import find_run

    monkeypatch.chdir(tmp_path)  # the CLI's runs live in ./.local
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    with pytest.raises(RunFailed, match="train") as failed:
        run_pipeline(
            compiled_pipeline(),
            day_arguments(shop, **GATE_OFF, epochs=0),
            url,
            tmp_path / ".local",
            quiet=True,
        )
    broken = failed.value.result.run_id
    cli = CliRunner()
    refused = cli.invoke(
        app, ["resume", broken, "--param", "run_date=2026-01-01", "--database-url", url]
    )
    assert refused.exit_code == 1 and "resume runs the day of run" in refused.stderr
    resumed = cli.invoke(
        app, ["resume", broken, "--param", "epochs=2", "--database-url", url, "--quiet"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert "from cache" in resumed.stdout and "ingest" in resumed.stdout  # before train
    (run_id,) = re.findall(r"^run (\S+) for ", resumed.stdout, re.MULTILINE)
    record = find_run(db.make_engine(url), run_id)
    assert record.status in ("published", "gated"), record.message
    result = earlier_run(tmp_path / ".local", run_id)
    assert result.arguments["epochs"] == 2
