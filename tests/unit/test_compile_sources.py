"""A compiled pipeline knows what it was compiled from: an edit never runs stale, silently."""

from typer.testing import CliRunner

from burger_recs.cli import app
from burger_recs.components import images
from burger_recs.pipelines import compile as compiling


def _one_source(monkeypatch, tmp_path, text):
    """Make the pipeline's sources one file of tmp_path, a component, holding ``text``."""
    component = tmp_path / "src" / "burger_recs" / "components" / "recommend.py"
    component.parent.mkdir(parents=True, exist_ok=True)
    component.write_text(text)
    monkeypatch.setattr(images, "REPO", tmp_path)
    monkeypatch.setattr(images, "library_modules", lambda _m: frozenset({"c.recommend"}))
    monkeypatch.setattr(images, "module_path", lambda _m: component)
    return component


def test_an_edit_of_a_source_makes_the_compiled_pipeline_stale(monkeypatch, tmp_path):
    component = _one_source(monkeypatch, tmp_path, "k = k\n")
    ir = tmp_path / "pipeline.yaml"
    ir.write_text("# IR\n")
    assert compiling.stale_sources(ir)  # compiled before sources were recorded
    compiling.sources_file(ir).write_text(compiling.sources_digest() + "\n")
    assert not compiling.stale_sources(ir)
    component.write_text("k = min(k, 3)\n")
    assert compiling.stale_sources(ir)


def test_run_compiles_a_stale_pipeline_again_before_it_runs(monkeypatch, tmp_path):
    real = compiling.compiled_pipeline().read_text()
    _one_source(monkeypatch, tmp_path, "k = min(k, 3)\n")
    ir = tmp_path / "pipelines" / "compiled" / "daily_recommendations.yaml"
    ir.parent.mkdir(parents=True)
    ir.write_text(real)  # compiled before the edit
    compiling.sources_file(ir).write_text("0000000000000000\n")
    compiled = []

    def compile_pipeline(target):
        compiled.append(target)
        compiling.sources_file(target).write_text(compiling.sources_digest() + "\n")
        return target

    monkeypatch.setattr(compiling, "compile_pipeline", compile_pipeline)
    monkeypatch.setattr(compiling, "compiled_pipeline", lambda: ir)
    monkeypatch.chdir(tmp_path)
    # The run stops right after (no data): what matters is that it compiled first.
    result = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "none")])
    assert compiled == [ir]
    assert "was compiled from other sources than these: compiling it again" in result.stdout
    assert "no such folder" in result.stderr
    again = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "none")])
    assert compiled == [ir] and "compiling it again" not in again.stdout
