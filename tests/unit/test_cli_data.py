"""burger_recs.cli.data: generate-data and import-movielens write drops, or say what is wrong."""

from typer.testing import CliRunner

from burger_recs.cli import app

SMALL = ["--customers", "40", "--days", "3", "--items", "8", "--end-date", "2026-03-28"]


def test_generate_data_writes_the_days_and_replaces_them_only_with_force(tmp_path):
    out = tmp_path / "drops"
    first = CliRunner().invoke(app, ["generate-data", "--out", str(out), *SMALL])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == [
        "date=2026-03-26",
        "date=2026-03-27",
        "date=2026-03-28",
    ]
    assert "wrote 3 days (2026-03-26..2026-03-28)" in first.stdout
    again = CliRunner().invoke(app, ["generate-data", "--out", str(out), *SMALL])
    assert again.exit_code == 1 and "(use --force to replace)" in again.stderr
    forced = CliRunner().invoke(app, ["generate-data", "--out", str(out), *SMALL, "--force"])
    assert forced.exit_code == 0, forced.output


def test_import_movielens_names_the_missing_folder(tmp_path):
    missing = tmp_path / "ml-100k"
    result = CliRunner().invoke(app, ["import-movielens", str(missing), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert str(missing) in result.stderr
