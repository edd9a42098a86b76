"""burger_recs.cli.quality: `burger-recs quality` needs the MovieLens folder and says so.

The report itself is tests/unit/test_quality.py (on a small MovieLens-shaped folder).
"""

from typer.testing import CliRunner

from burger_recs.cli import app


def test_quality_names_the_missing_folder(tmp_path):
    missing = tmp_path / "ml-100k"
    result = CliRunner().invoke(app, ["quality", str(missing), "--seeds", "1"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and str(missing) in result.stderr
