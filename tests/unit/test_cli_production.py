"""burger_recs.cli.production: render-prod checks the committed rendering; push needs a registry.

The rendering itself is tests/production/test_render.py.
"""

import pytest
from typer.testing import CliRunner

from burger_recs.cli import app


@pytest.mark.slow
def test_render_prod_check_passes_on_the_committed_rendering():
    result = CliRunner().invoke(app, ["render-prod", "--check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(("rendering current", "rendering pending"))


def test_push_prod_images_says_where_it_pushes_by_default():
    result = CliRunner().invoke(app, ["push-prod-images", "--help"])
    assert result.exit_code == 0
    assert "registry.example.com/burger-recs" in result.output
