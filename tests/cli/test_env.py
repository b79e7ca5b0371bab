"""`headrace env [show] RUN` and `headrace env diff RUN_A RUN_B`."""

from __future__ import annotations

from headrace.reproduce import diff_environments

from .conftest import Seeded
from .helpers import headrace


def test_env_prints_pinned_requirements(seeded: Seeded) -> None:
    result = headrace("env", seeded.first["id"][:8], home=seeded.home)
    assert result.code == 0, str(result)
    lines = result.stdout.splitlines()
    assert lines[0] == f"# environment of headrace run {seeded.first['id']} (pipeline quarterly)"
    pins = dict(line.split("==") for line in lines if not line.startswith("#"))
    assert {"pandas", "scikit-learn", "numpy"} <= set(pins)
    snapshot = headrace("env", "show", "latest", "--json", home=seeded.home).json()
    assert snapshot["run_id"] == seeded.second["id"]
    assert snapshot["packages"]["pandas"] == pins["pandas"]
    assert snapshot["source"]["file"] == "quarterly.py"


def test_env_diff_of_two_runs(seeded: Seeded) -> None:
    result = headrace(
        "env", "diff", seeded.first["id"], seeded.second["id"], "--json", home=seeded.home
    )
    assert result.code == 0, str(result)
    diff = result.json()
    assert diff["run_a"] == seeded.first["id"] and diff["run_b"] == seeded.second["id"]
    assert diff["packages"] == {"added": {}, "removed": {}, "changed": {}}  # one machine
    assert set(diff) >= {"same", "python", "os", "git", "source"}
    text = headrace("env", "diff", seeded.first["id"], "latest", home=seeded.home)
    assert text.code == 0, str(text)
    assert text.stdout.splitlines()[0] == f"a: run {seeded.first['id'][:12]} (quarterly)"
    assert "no differences" in text.stdout or "packages: same" in text.stdout


def test_diff_environments_names_every_kind_of_change() -> None:
    a = {
        "python": {"version": "3.11.7", "implementation": "CPython"},
        "os": {"system": "Linux", "machine": "x86_64"},
        "packages": {"numpy": "1.26.4", "pandas": "2.2.0", "old": "1.0"},
        "git": {"commit": "aaa", "dirty": False, "diff_hash": None},
        "source": {"file": "p.py", "sha256": "1", "text": "x"},
    }
    b = {
        "python": {"version": "3.12.1", "implementation": "CPython"},
        "os": {"system": "Darwin", "machine": "arm64"},
        "packages": {"numpy": "2.0.0", "pandas": "2.2.0", "new": "0.1"},
        "git": {"commit": "bbb", "dirty": True, "diff_hash": "f00"},
        "source": {"file": "p.py", "sha256": "2", "text": "y"},
    }
    diff = diff_environments(a, b)
    assert not diff.same
    assert diff.python == {"version": ("3.11.7", "3.12.1")}
    assert diff.os == {"system": ("Linux", "Darwin"), "machine": ("x86_64", "arm64")}
    assert diff.added == {"new": "0.1"} and diff.removed == {"old": "1.0"}
    assert diff.changed == {"numpy": ("1.26.4", "2.0.0")}
    assert diff.git == {
        "commit": ("aaa", "bbb"),
        "dirty": (False, True),
        "diff_hash": (None, "f00"),
    }
    assert diff.source == {"sha256": ("1", "2")}  # the text itself is not repeated
    assert diff_environments(a, a).same
    assert diff.to_dict()["packages"]["changed"] == {"numpy": {"a": "1.26.4", "b": "2.0.0"}}
