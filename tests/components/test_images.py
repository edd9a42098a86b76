"""components/images.py: content tags follow exactly the files an image is built from."""

import pytest

from components import images


def test_steps_import_only_what_they_need():
    train_modules = images.library_modules("burger_recs.steps.train")
    assert "burger_recs.steps.validate" in train_modules  # train reads validated data
    assert "burger_recs.steps.publish" not in train_modules
    assert "burger_recs.db" not in train_modules
    assert "burger_recs.db" in images.library_modules("burger_recs.steps.publish")


def test_build_inputs_list_real_files_including_lock_and_step_module():
    names = {p.relative_to(images.REPO).as_posix() for p in images.build_inputs("recommend")}
    assert "requirements.lock" in names
    assert "src/burger_recs/steps/recommend.py" in names
    assert "src/burger_recs/scoring.py" in names
    assert "src/burger_recs/steps/publish.py" not in names


def test_a_change_to_one_module_changes_only_the_tags_of_images_that_copy_it(monkeypatch):
    before = {s: images.content_tag(s) for s in images.STEPS}
    target = images.LIBRARY / "steps" / "publish.py"
    original = target.read_bytes()
    images.content_tag.cache_clear()
    try:
        target.write_bytes(original + b"\n# changed\n")
        after = {s: images.content_tag(s) for s in images.STEPS}
    finally:
        target.write_bytes(original)
        images.content_tag.cache_clear()
    changed = {s for s in images.STEPS if before[s] != after[s]}
    assert changed == {"publish"}


def test_image_ref_uses_registry_and_rejects_unknown_steps():
    assert images.image_ref("train", "registry.example.com/shop/").startswith(
        "registry.example.com/shop/burger-recs-train:"
    )
    with pytest.raises(ValueError, match="unknown step 'serve'"):
        images.image_ref("serve")
