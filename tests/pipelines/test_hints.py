"""Every command `burger-recs run` prints for the user runs as printed.

A run on a database that is not the default (a relative SQLite path, as a user types it)
fails at publish; each command its failure prints is run as printed: `logs` shows what failed,
and `resume`, once the fault is gone, publishes the day. Each command the published run
prints is then run as printed too.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from burger_recs import db
from burger_recs.cli import app
from tests.support.database import recommendations_refused
from tests.support.pipeline import FAST_PARAMS, RUN_DATE

pytestmark = pytest.mark.slow  # kfp.local pipeline runs

GATE_OFF = {"quality_margin": -1.0}  # so that this small shop's first model serves


def printed_commands(output: str) -> tuple[list[list[str]], list[Path]]:
    """The commands an output tells the user to run (indented lines that start with the
    program, as words), and the files it tells them to open."""
    commands, files = [], []
    for line in output.splitlines():
        if not line.startswith("  "):
            continue
        words = shlex.split(line)
        if words and words[0].endswith("burger-recs"):
            commands.append(words[1:])
        elif words[:1] == ["open"]:
            files.append(Path(words[1]))
    return commands, files


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_every_command_a_failed_and_a_published_run_print_runs_as_printed(
    shop_data, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the CLI's runs live in ./.local
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    url = "sqlite:///elsewhere.db"  # not the default, relative
    assert invoke("migrate", "--database-url", url).exit_code == 0
    engine = db.make_engine(url)
    params = [f"--param={name}={value}" for name, value in (FAST_PARAMS | GATE_OFF).items()]
    with recommendations_refused(engine):
        failed = invoke(
            "run",
            *("--data", str(shop_data), "--run-date", RUN_DATE.isoformat()),
            *("--database-url", url, "--quiet", *params),
        )
    assert failed.exit_code == 1, failed.output
    commands, _ = printed_commands(failed.stdout)
    assert sorted(c[0] for c in commands) == ["logs", "resume"], failed.stdout
    assert all(c[c.index("--database-url") + 1] == url for c in commands), commands

    logs = invoke(*next(c for c in commands if c[0] == "logs"))
    assert logs.exit_code == 0, logs.output
    assert "publish" in logs.stdout and "read-only today" in logs.stdout

    resumed = invoke(*next(c for c in commands if c[0] == "resume"))
    assert resumed.exit_code == 0, resumed.output
    assert ": published" in resumed.stdout

    commands, files = printed_commands(resumed.stdout)
    assert sorted(c[0] for c in commands) == ["recs", "runs"], resumed.stdout
    for command in commands:
        done = invoke(*command)
        assert done.exit_code == 0, (command, done.output)
    recs = invoke(*next(c for c in commands if c[0] == "recs"))
    assert f"on {RUN_DATE}" in recs.stdout and " 1. " in recs.stdout
    assert files and all(f.is_file() for f in files), files
    engine.dispose()
