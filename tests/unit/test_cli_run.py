"""burger_recs.cli.run: `burger-recs run` and `resume` refuse what cannot run, saying why.

The runs themselves are tests/pipelines/ (kfp.local).
"""

from typer.testing import CliRunner

from burger_recs.cli import app


def test_run_refuses_a_data_folder_that_does_not_exist(tmp_path):
    result = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert f"--data {tmp_path / 'nowhere'}: no such folder" in result.stderr


def test_run_refuses_a_malformed_or_unknown_parameter(tmp_path):
    malformed = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--param", "k"])
    assert malformed.exit_code == 1 and "--param 'k': expected NAME=VALUE" in malformed.stderr
    unknown = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--param", "top=5"])
    assert unknown.exit_code == 1 and "--param top: no such parameter" in unknown.stderr
    typed = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--param", "k=five"])
    assert typed.exit_code == 1 and "--param k=five: expected int" in typed.stderr


def test_resume_names_a_run_it_cannot_find(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["resume", "20261124-081502-3fa1"])
    assert result.exit_code == 1
    assert "no local run 20261124-081502-3fa1" in result.stderr
