"""components/images.py: each image holds what its code imports, and its tag follows exactly that.

No Dockerfile lists a library module: the import graph decides what an image holds
(``image_modules``), ``make images`` stages those modules (``stage``), and an image's content
tag hashes them.
"""

import re
import shutil

import pytest

from burger_recs.components import images

IMAGES_WITH_MODULES = (images.BASE, *images.STEPS, images.RECONCILER, *images.SERVICES)


def _holds(image):
    """The repository paths of the modules an image holds: the base's and its own."""
    own = set(images.module_files(image))
    return own if image == images.BASE else own | set(images.module_files(images.BASE))


def _paths(modules):
    return {images.module_path(m).relative_to(images.REPO).as_posix() for m in modules}


@pytest.mark.parametrize("step", images.STEPS)
def test_each_step_image_holds_every_module_its_component_runs(step):
    assert f"burger_recs.steps.{step}" in images.entry_modules(step)
    needed = _paths(
        frozenset().union(*(images.library_modules(m) for m in images.entry_modules(step)))
    )
    assert needed <= _holds(step), sorted(needed - _holds(step))
    # ... and no other step's module: steps never import steps.
    others = {f"src/burger_recs/steps/{s}.py" for s in images.STEPS if s != step}
    assert not others & _holds(step)


def test_the_base_holds_what_every_step_needs_and_nothing_one_step_alone_needs():
    base = set(images.module_files(images.BASE))
    assert {"src/burger_recs/runs.py", "src/burger_recs/db.py"} <= base  # every step's noted()
    for step in images.STEPS:
        assert not set(images.module_files(step)) & base
    assert "src/burger_recs/model.py" not in base  # train and others, not finish
    assert not any("/deploy/" in f or ("/steps/" in f and "__init__" not in f) for f in base)


def test_the_reconciler_has_its_own_image_and_the_emulator_its_own():
    assert "src/burger_recs/deploy/schedule.py" in images.module_files(images.RECONCILER)
    assert "src/burger_recs/sample_bucket.py" in images.module_files("gcs-emulator")
    assert not any("/steps/" in f for f in images.module_files(images.RECONCILER))


@pytest.mark.parametrize("image", IMAGES_WITH_MODULES)
def test_no_dockerfile_lists_a_library_module(image):
    copied = images.copied_files(images.dockerfile(image))
    assert not [f for f in copied if f.startswith("src/")], images.dockerfile(image)
    assert re.search(
        r"^COPY \.local/build/modules/(\$\{IMAGE\}|" + re.escape(image) + ")/ /opt/app/$",
        images.dockerfile(image).read_text(),
        re.M,
    )


def test_staging_copies_exactly_the_images_modules(tmp_path):
    staged = images.stage("train", tmp_path)
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    assert files == {f.removeprefix("src/") for f in images.module_files("train")}
    assert "burger_recs/steps/train.py" in files


def test_base_holds_the_pinned_dependency_files():
    base = set(images.copied_files(images.dockerfile(images.BASE)))
    assert {"requirements.in", "requirements.lock"} <= base
    # The extra CA bundle is a builder-stage input only: it is neither hashed nor kept.
    assert not any(f.startswith(".local/") for f in base)


def test_import_graph_follows_lazy_imports_and_parents():
    modules = images.library_modules("burger_recs.steps.evaluate")
    assert "burger_recs.report" in modules
    assert {"burger_recs", "burger_recs.steps"} <= modules
    assert "burger_recs.cli" not in modules


def _tags():
    images.clear_caches()
    return {s: images.content_tag(s) for s in (*IMAGES_WITH_MODULES,)}


@pytest.fixture(scope="module")
def build_inputs(tmp_path_factory):
    """A copy of the build inputs (never the tree itself), and the tags of its images."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("images", "src"):
        shutil.copytree(images.REPO / name, root / name)
    for name in ("requirements.in", "requirements.lock", "requirements-dev.lock"):
        shutil.copyfile(images.REPO / name, root / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images, "REPO", root)
        patch.setattr(images, "LIBRARY", root / "src" / "burger_recs")
        patch.setattr(images, "IMAGES", root / "images")
        tags = _tags()
    images.clear_caches()
    return root, tags


@pytest.mark.parametrize(
    ("changed_file", "expected"),
    [
        ("src/burger_recs/steps/recommend.py", {"recommend"}),
        # Steps never import steps: a step's edit retags its own image only.
        ("src/burger_recs/steps/train.py", {"train"}),
        ("src/burger_recs/steps/publish.py", {"publish"}),
        ("src/burger_recs/steps/commit.py", {"commit"}),
        # The run's check has its own module: a model edit leaves ingest alone.
        ("src/burger_recs/steps/check_inputs.py", {"check_inputs"}),
        (
            "src/burger_recs/model.py",
            {"train", "evaluate", "recommend", "publish", "commit", "check_inputs"},
        ),
        # What every image holds is the base's: all of them retag.
        ("src/burger_recs/contract.py", set(IMAGES_WITH_MODULES)),
        # The reconciler is in its own image only.
        ("src/burger_recs/deploy/schedule.py", {images.RECONCILER}),
        # A component's body is in the compiled IR, not in an image: no image retags.
        ("src/burger_recs/components/train.py", set()),
        ("src/burger_recs/cli/run.py", set()),  # not in any image
        ("src/burger_recs/quality/report.py", set()),
    ],
)
def test_a_change_retags_exactly_the_images_that_hold_the_file(
    changed_file, expected, build_inputs, monkeypatch
):
    root, before = build_inputs
    monkeypatch.setattr(images, "REPO", root)
    monkeypatch.setattr(images, "LIBRARY", root / "src" / "burger_recs")
    monkeypatch.setattr(images, "IMAGES", root / "images")
    target = root / changed_file
    original = target.read_bytes()
    target.write_bytes(original + b"\n# changed\n")
    try:
        after = _tags()
    finally:
        target.write_bytes(original)
        images.clear_caches()
    assert {name for name in before if before[name] != after[name]} == expected


def test_image_ref_uses_registry_and_rejects_unknown_steps():
    assert images.image_ref("train", "registry.example.com/shop/").startswith(
        "registry.example.com/shop/burger-recs-train:"
    )
    assert "/burger-recs-check-inputs:" in images.image_ref("check_inputs")
    with pytest.raises(ValueError, match="unknown step 'serve'"):
        images.image_ref("serve")
