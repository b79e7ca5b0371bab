"""Environment snapshots: what they hold, and that the git state is read at each run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from headrace import environment


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def test_snapshot_holds_python_os_packages_and_source(tmp_path: Path) -> None:
    source = tmp_path / "flow.py"
    source.write_text("print('hi')\n")
    snap = environment.snapshot(str(source))
    assert snap["python"]["version"].count(".") == 2
    assert snap["os"]["system"]
    assert "pytest" in snap["packages"]
    assert snap["source"]["text"] == "print('hi')\n"
    assert snap["git"] is None  # not a repository
    assert environment.environment_hash(snap) == environment.environment_hash(dict(snap))
    assert "pytest==" in environment.requirements(snap)


def test_git_state_is_read_again_after_the_tree_changes(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(
        tmp_path,
        "-c",
        "user.email=a@b",
        "-c",
        "user.name=a",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    source = tmp_path / "flow.py"
    source.write_text("A = 1\n")
    _git(tmp_path, "add", "flow.py")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "flow")
    clean = environment.snapshot(str(source))["git"]
    assert clean["dirty"] is False and clean["diff_hash"] is None
    source.write_text("A = 2\n")
    dirty = environment.snapshot(str(source))["git"]
    assert dirty["dirty"] is True and dirty["diff_hash"]
    assert dirty["commit"] == clean["commit"]
