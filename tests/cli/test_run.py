"""`headrace run`: parameters, run config, cache, the printed summary, a failing step."""

from __future__ import annotations

from pathlib import Path

from .conftest import Seeded
from .helpers import assert_one_line_error, headrace


def test_seeded_runs_record_parameters_and_cache(seeded: Seeded) -> None:
    first, second = seeded.first, seeded.second
    assert first["status"] == second["status"] == "completed"
    assert first["parameters"] == {"n": 400, "seed": 7, "C": 1.0}
    assert second["parameters"]["C"] == 0.5  # -p values are read as JSON
    names = [s["name"] for s in second["steps"]]
    assert names == ["load_data", "split_by_quarter", "fit", "evaluate"]
    hits = {s["name"]: s["cache_hit"] for s in second["steps"]}
    assert hits == {"load_data": True, "split_by_quarter": True, "fit": False, "evaluate": False}
    fit = second["steps"][2]
    assert fit["cache_reason"] == "parameter C changed (1.0 -> 0.5)"
    assert fit["upstream"] == ["split_by_quarter"]
    assert fit["outputs"]["model"]["version"] == 2


def test_parameters_are_json_or_plain_strings(tiny: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = headrace("run", f"{tiny}:tiny", "-p", "n=4", "-p", "label=north", "--json", home=home)
    assert result.code == 0, str(result)
    run = result.json()
    assert run["parameters"] == {"n": 4, "label": "north"}
    doubled = next(s for s in run["steps"] if s["name"] == "double")
    assert doubled["outputs"]["doubled"]["version"] == 1


def test_config_file_and_no_cache(tiny: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "run.yaml"
    config.write_text("parameters:\n  n: 2\nsteps:\n  double:\n    parameters:\n      factor: 3\n")
    first = headrace("run", f"{tiny}:tiny", "--config", config, home=home)
    assert first.code == 0, str(first)
    again = headrace("run", f"{tiny}:tiny", "--config", config, "--no-cache", "--json", home=home)
    assert again.code == 0, str(again)
    steps = {s["name"]: s for s in again.json()["steps"]}
    assert again.json()["parameters"]["n"] == 2
    assert not steps["double"]["cache_hit"]
    assert steps["double"]["cache_reason"] == "caching is off for this step"
    # Text output: the summary `runs show` prints, with the step tree.
    assert first.stdout.startswith("run ")
    assert "parameters   n=2 label=x" in first.stdout
    assert "make  completed" in first.stdout
    assert "└─ double  completed" in first.stdout
    assert "→ doubled v1" in first.stdout


def test_failing_step_prints_the_run_and_names_the_step(tiny: Path, tmp_path: Path) -> None:
    result = headrace("run", f"{tiny}:broken", home=tmp_path / "home")
    line = assert_one_line_error(result, 1, "step 'explode'", "ValueError: boom in explode")
    assert "failed" in line
    assert "└─ explode  failed" in result.stdout
    assert "error: ValueError: boom in explode" in result.stdout
