"""burger_recs.version: the code version, which tells two different edits apart."""

import subprocess

from burger_recs.version import git_version


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_two_different_uncommitted_edits_get_two_versions_that_keep_the_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "steps.py").write_text("k = 10\n")
    (repo / ".gitignore").write_text("*.log\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    commit = git_version(repo)
    assert commit is not None and len(commit) == 12

    (repo / "steps.py").write_text("k = 3\n")
    one = git_version(repo)
    (repo / "steps.py").write_text("k = 5\n")
    other = git_version(repo)
    assert one.startswith(f"{commit}-dirty-") and other.startswith(f"{commit}-dirty-")
    assert one != other
    (repo / "steps.py").write_text("k = 3\n")
    assert git_version(repo) == one  # the same edit, the same version

    (repo / "new_step.py").write_text("x = 1\n")  # an untracked file counts
    with_new = git_version(repo)
    assert with_new != one
    (repo / "new_step.py").write_text("x = 2\n")
    assert git_version(repo) != with_new
    (repo / "new_step.py").unlink()
    (repo / "run.log").write_text("ignored files do not count\n")
    assert git_version(repo) == one
    (repo / "steps.py").write_text("k = 10\n")
    assert git_version(repo) == commit  # clean again


def test_outside_a_work_tree_there_is_no_git_version(tmp_path):
    assert git_version(tmp_path) is None
