"""burger_recs.cli.cluster: compile, and the KFP commands' errors (against the KFP double).

Submitting and following runs is tests/without_cluster/test_submit.py.
"""

import pytest
import yaml
from typer.testing import CliRunner

from burger_recs.cli import app


@pytest.mark.slow
def test_compile_writes_the_ir_where_asked(tmp_path):
    target = tmp_path / "ir.yaml"
    result = CliRunner().invoke(app, ["compile", "--output", str(target)])
    assert result.exit_code == 0, result.output
    spec = next(yaml.safe_load_all(target.read_text()))
    assert spec["pipelineInfo"]["name"] == "burger-recs-daily"
    assert result.stdout.startswith("compiled ")


def test_retry_of_a_run_kfp_does_not_know_fails_with_its_answer(kfp_double):
    result = CliRunner().invoke(app, ["retry", "no-such-run", "--host", kfp_double.url])
    assert result.exit_code == 1
    assert "error: no run no-such-run" in result.stderr
