"""burger_recs.cli.backfill: the options that belong to one kind of backfill only, and the range.

Backfills that run are tests/pipelines/test_backfill.py and
tests/without_cluster/test_backfill_cluster.py.
"""

import pytest
from typer.testing import CliRunner

from burger_recs.cli import app

RANGE = ["--from", "2026-03-01", "--to", "2026-03-03"]


def _backfill(tmp_path, *options):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    return CliRunner().invoke(app, ["backfill", *RANGE, "--database-url", url, *options])


@pytest.mark.parametrize("option", [["--max-concurrency", "3"], ["--host", "http://kfp:8888"]])
def test_cluster_options_are_refused_without_cluster(tmp_path, option):
    result = _backfill(tmp_path, *option)
    assert result.exit_code == 1
    assert f"{option[0]}: only with --cluster" in result.stderr


def test_the_runner_is_refused_with_cluster(tmp_path):
    result = _backfill(tmp_path, "--cluster", "--runner", "docker")
    assert result.exit_code == 1
    assert "--runner: a local backfill's option" in result.stderr


def test_run_date_is_the_backfills_own(tmp_path):
    result = _backfill(tmp_path, "--param", "run_date=2026-03-01")
    assert result.exit_code == 1 and "--param run_date" in result.stderr


def test_a_range_backwards_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    command = ["backfill", "--from", "2026-03-03", "--to", "2026-03-01", "--database-url", url]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1
    assert "the first day 2026-03-03 is after the last day 2026-03-01" in result.stderr
