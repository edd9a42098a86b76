"""burger_recs.cli: one app whose commands come from the group modules, options declared once."""

import pytest
import typer
from typer.testing import CliRunner

from burger_recs import cli

EVERY_COMMAND = {
    "run",
    "resume",
    "generate-data",
    "import-movielens",
    "backfill",
    "recs",
    "runs",
    "index",
    "diff",
    "logs",
    "migrate",
    "rollback",
    "compile",
    "submit",
    "retry",
    "watch-day",
    "reconcile-schedule",
    "build-images",
    "render-prod",
    "push-prod-images",
    "quality",
}


def _commands() -> dict:
    group = typer.main.get_command(cli.app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_group_registers_its_commands_and_each_has_help():
    commands = _commands()
    assert set(commands) == EVERY_COMMAND
    for name in commands:
        result = CliRunner().invoke(cli.app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


# Options that mean one thing wherever they appear. (--registry means the step images'
# registry where a pipeline runs, but build-images' target and production's registry
# elsewhere: those commands declare their own.)
SHARED = {
    "--param": None,
    "--run-date": None,
    "--database-url": None,
    "--registry": {"run", "backfill", "submit"},
}


@pytest.mark.parametrize("option", sorted(SHARED))
def test_a_shared_option_reads_the_same_in_every_command(option):
    """Declared once (cli/common.py): the same help wherever a command takes it."""
    within = SHARED[option]
    helps = {
        name: param.help
        for name, command in _commands().items()
        for param in command.params
        if option in param.opts and (within is None or name in within)
    }
    assert len(helps) >= 2, helps
    assert len(set(helps.values())) == 1, helps


def test_no_arguments_prints_the_commands():
    result = CliRunner().invoke(cli.app, [])
    assert "run" in result.output and "backfill" in result.output


def test_printed_commands_run_where_the_user_is_and_name_a_database_not_found_by_default(
    tmp_path, monkeypatch
):
    import sys

    from burger_recs.cli import common

    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    script = venv / "burger-recs"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "run"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv not activated
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert common.program() == ".venv/bin/burger-recs"
    assert common.hint("runs") == ".venv/bin/burger-recs runs"
    assert common.hint("runs", database_url=common.default_database_url()) == (
        ".venv/bin/burger-recs runs"
    )
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert common.hint("logs", "r-1", database_url=other) == (
        f".venv/bin/burger-recs logs r-1 --database-url {other}"
    )
    secret = "postgresql://shop:s3cret@db.example/recs"
    assert common.hint("runs", database_url=secret) == (
        '.venv/bin/burger-recs runs --database-url "$DATABASE_URL"'
    )
    monkeypatch.setenv("DATABASE_URL", secret)  # the user's environment finds it by default
    assert common.hint("runs", database_url=secret) == ".venv/bin/burger-recs runs"
    monkeypatch.setenv("PATH", f"{venv}:/usr/bin:/bin")  # activated: the bare name works
    assert common.program() == "burger-recs"
