"""`headrace reproduce`: pinned files, a rerun, and a bit-for-bit comparison per step."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Seeded
from .helpers import assert_one_line_error, headrace

NOISY = """\
import random
from typing import Annotated

from headrace import pipeline, step


@step
def numbers(n: int = 3) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def jitter(numbers: list[int]) -> Annotated[list[float], "noisy"]:
    return [x + random.random() for x in numbers]


@step
def total(noisy: list[float]) -> Annotated[float, "total"]:
    return sum(noisy)


@pipeline
def noisy(n: int = 3) -> None:
    total(jitter(numbers(n=n)))
"""


def test_quarterly_reproduces_bit_identical(
    seeded: Seeded, seeded_copy: Path, tmp_path: Path
) -> None:
    target = tmp_path / "repro"
    result = headrace(
        "reproduce", seeded.first["id"][:12], "--dir", target, "--json", home=seeded_copy
    )
    assert result.code == 0, str(result)
    report = result.json()
    assert report["identical"] is True and report["nondeterministic"] == []
    assert [(s["name"], s["status"]) for s in report["steps"]] == [
        ("load_data", "identical"),
        ("split_by_quarter", "identical"),
        ("fit", "identical"),
        ("evaluate", "identical"),
    ]
    assert report["parameters"] == {"n": 400, "seed": 7, "C": 1.0}
    assert report["environment"]["packages"] == {"added": {}, "removed": {}, "changed": {}}
    requirements = (target / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "pandas==" in requirements
    assert json.loads((target / "environment.json").read_text())["python"]
    assert "def quarterly" in (target / "source" / "quarterly.py").read_text()
    assert json.loads((target / "reproduction.json").read_text())["identical"] is True

    rerun = headrace("runs", "show", report["rerun_id"], "--json", home=seeded_copy).json()
    assert rerun["origin_run_id"] == seeded.first["id"]
    assert all(not s["cache_hit"] for s in rerun["steps"])


def test_unseeded_randomness_is_named(tmp_path: Path) -> None:
    pipeline_file = tmp_path / "noisy.py"
    pipeline_file.write_text(NOISY)
    home = tmp_path / "home"
    assert headrace("run", f"{pipeline_file}:noisy", "-p", "n=5", home=home).code == 0
    result = headrace("reproduce", "latest", "--dir", tmp_path / "out", home=home)
    line = assert_one_line_error(result, 1, "jitter", "not deterministic")
    assert "total" not in line  # it only inherited the difference
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert "identical" in rows["numbers"]
    assert "not deterministic" in rows["jitter"]
    assert "different" in rows["total"] and "inputs differ" in rows["total"]
    assert "1 of 3 steps bit-identical" in result.stdout


def test_changed_and_missing_source_are_reported(tiny: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = headrace("run", f"{tiny}:tiny", "--json", home=home)
    assert first.code == 0, str(first)
    run_id = first.json()["id"]

    tiny.write_text(tiny.read_text() + "\n# an edit after the run\n")
    changed = headrace("reproduce", run_id, "--dir", tmp_path / "a", "--json", home=home)
    assert changed.code == 0, str(changed)  # comments do not change what the steps compute
    report = changed.json()
    assert report["source"]["status"] == "changed"
    assert report["source"]["recorded_sha256"] != report["source"]["current_sha256"]
    assert all(not s["code_changed"] for s in report["steps"])

    tiny.unlink()
    missing = headrace("reproduce", run_id, "--dir", tmp_path / "b", home=home)
    assert_one_line_error(missing, 1, str(tiny), "no longer exists", "source/tiny.py")
    assert (tmp_path / "b" / "requirements.txt").is_file()
    assert "def tiny" in (tmp_path / "b" / "source" / "tiny.py").read_text()
