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
