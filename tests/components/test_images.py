"""components/images.py: content tags follow exactly the files an image is built from."""

import shutil

import pytest

from burger_recs.components import images


def _copied(image):
    return set(images.copied_files(images.dockerfile(image)))


@pytest.mark.parametrize("step", images.STEPS)
def test_each_image_copies_every_module_its_step_imports(step):
    in_image = _copied(images.BASE) | _copied(step)
    needed = {
        images.module_path(m).relative_to(images.REPO).as_posix()
        for m in images.library_modules(f"burger_recs.steps.{step}")
    }
    missing = needed - in_image
    assert not missing, f"images/{step}/Dockerfile must COPY {sorted(missing)}"


def test_base_holds_the_pinned_dependency_files_and_no_step_module():
    base = _copied(images.BASE)
    assert {"requirements.in", "requirements.lock"} <= base
    assert not any("/steps/" in f and not f.endswith("__init__.py") for f in base)
    # The extra CA bundle is a builder-stage input only: it is neither hashed nor kept.
    assert not any(f.startswith(".local/") for f in base)


def test_import_graph_follows_lazy_imports_and_parents():
    modules = images.library_modules("burger_recs.steps.evaluate")
    assert "burger_recs.report" in modules
    assert {"burger_recs", "burger_recs.steps"} <= modules
    assert "burger_recs.cli" not in modules


def _tags():
    images.content_tag.cache_clear()
    return {s: images.content_tag(s) for s in (*images.STEPS, images.BASE)}


@pytest.mark.parametrize(
    ("changed_file", "expected"),
    [
        ("src/burger_recs/steps/recommend.py", {"recommend"}),
        # Steps never import steps: a step's edit retags its own image only.
        ("src/burger_recs/steps/train.py", {"train"}),
        ("src/burger_recs/steps/publish.py", {"publish"}),
        ("src/burger_recs/steps/commit.py", {"commit"}),
        # What steps share is library code: the model module is in the images that read models
        # (publishing keeps a promoted model's scorers; the check finds the champion through
        # the same module, which reads models only then).
        (
            "src/burger_recs/model.py",
            {"train", "evaluate", "recommend", "publish", "commit", "ingest"},
        ),
        ("src/burger_recs/contract.py", {"base", *images.STEPS}),
        ("src/burger_recs/cli/run.py", set()),  # not in any image
    ],
)
def test_a_change_retags_exactly_the_images_that_copy_the_file(
    changed_file, expected, tmp_path, monkeypatch
):
    # Work on a copy of the build inputs, never on the tree itself.
    for name in ("images", "src"):
        shutil.copytree(images.REPO / name, tmp_path / name)
    for name in ("requirements.in", "requirements.lock"):
        shutil.copyfile(images.REPO / name, tmp_path / name)
    monkeypatch.setattr(images, "REPO", tmp_path)
    monkeypatch.setattr(images, "IMAGES", tmp_path / "images")
    before = _tags()
    target = tmp_path / changed_file
    target.write_bytes(target.read_bytes() + b"\n# changed\n")
    after = _tags()
    images.content_tag.cache_clear()
    assert {name for name in before if before[name] != after[name]} == expected


def test_image_ref_uses_registry_and_rejects_unknown_steps():
    assert images.image_ref("train", "registry.example.com/shop/").startswith(
        "registry.example.com/shop/burger-recs-train:"
    )
    with pytest.raises(ValueError, match="unknown step 'serve'"):
        images.image_ref("serve")
