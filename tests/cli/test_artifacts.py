"""`headrace artifacts list|show|load` and `headrace lineage` on the seeded home."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Seeded
from .helpers import assert_one_line_error, headrace, tree_of

NAMES = {"raw", "train", "test", "model", "metrics"}


def test_list_one_row_per_name_and_versions_of_one(seeded: Seeded) -> None:
    text = headrace("artifacts", "list", home=seeded.home)
    assert text.code == 0, str(text)
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines()[1:]}
    assert set(rows) == NAMES
    assert rows["model"][1:3] == ["2", "2"]  # latest version, number of versions
    assert rows["raw"][3] == "pandas.DataFrame"
    listed = headrace("artifacts", "list", "--json", home=seeded.home).json()
    assert {a["name"] for a in listed} == NAMES
    versions = headrace("artifacts", "list", "model", "--json", home=seeded.home).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["producer_run_id"] == seeded.second["id"]


def test_show_names_producer_and_consumers(seeded: Seeded) -> None:
    result = headrace("artifacts", "show", "raw:1", "--json", home=seeded.home)
    assert result.code == 0, str(result)
    shown = result.json()
    assert shown["name"] == "raw" and shown["version"] == 1
    assert shown["metadata"]["rows"] == 400
    assert shown["producer"]["step"] == "load_data"
    assert shown["producer"]["run_id"] == seeded.first["id"]
    consumers = {(c["run_id"], c["step"], c["cache_hit"]) for c in shown["consumers"]}
    assert consumers == {
        (seeded.first["id"], "split_by_quarter", False),
        (seeded.second["id"], "split_by_quarter", True),
    }
    text = headrace("artifacts", "show", "model", home=seeded.home)
    assert text.code == 0, str(text)
    assert text.stdout.startswith("model:2\n")
    assert f"step fit of run {seeded.second['id'][:12]} (quarterly)" in text.stdout
    assert "step evaluate of run" in text.stdout


def test_load_writes_by_type(seeded: Seeded, tmp_path: Path) -> None:
    csv = tmp_path / "raw.csv"
    result = headrace("artifacts", "load", "raw", "--out", csv, home=seeded.home)
    assert result.code == 0, str(result)
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("date,region,tenure_months") and len(lines) == 401
    metrics = tmp_path / "metrics.json"
    assert headrace("artifacts", "load", "metrics:1", "--out", metrics, home=seeded.home).code == 0
    assert set(json.loads(metrics.read_text())) == {"accuracy", "roc_auc", "rows"}
    model = tmp_path / "model"
    result = headrace("artifacts", "load", "model", "--out", model, home=seeded.home)
    assert result.code == 0, str(result)
    assert "stored file" in result.stdout
    assert [p.name for p in model.iterdir()]  # the materializer's files, copied


def test_load_refuses_bad_targets_and_writes_nothing(seeded: Seeded, tmp_path: Path) -> None:
    text = tmp_path / "raw.txt"
    result = headrace("artifacts", "load", "raw", "--out", text, home=seeded.home)
    assert_one_line_error(result, 2, ".csv or .parquet")
    taken = tmp_path / "taken.json"
    taken.write_text("keep")
    result = headrace("artifacts", "load", "metrics", "--out", taken, home=seeded.home)
    assert_one_line_error(result, 2, "--force")
    assert tree_of(tmp_path) == {"taken.json": 4}


def test_lineage_text_both_directions(seeded: Seeded) -> None:
    result = headrace("lineage", "model:1", home=seeded.home)
    assert result.code == 0, str(result)
    out = result.stdout
    upstream, downstream = out.split("\nupstream\n")[1].split("\ndownstream\n")
    assert "└─ fit  run" in upstream
    assert "train:1" in upstream and "raw:1" in upstream
    assert "load_data" in upstream and "n=400 seed=7" in upstream
    assert "evaluate" in downstream and "metrics:1" in downstream


def test_lineage_json_and_dot(seeded: Seeded) -> None:
    up = headrace("lineage", "model", "--upstream", "--json", home=seeded.home)
    assert up.code == 0, str(up)
    graph = up.json()
    assert "downstream" not in graph
    assert {a["name"] for a in graph["upstream"]["artifacts"]} == {"train", "raw"}
    assert {s["name"] for s in graph["upstream"]["step_runs"]} == {
        "fit",
        "split_by_quarter",
        "load_data",
    }
    dot = headrace("lineage", "raw", "--downstream", "--dot", home=seeded.home)
    assert dot.code == 0, str(dot)
    assert dot.stdout.startswith("digraph lineage {")
    assert dot.stdout.rstrip().endswith("}")
    assert 'label="raw:1' in dot.stdout and "->" in dot.stdout


def test_artifacts_diff_of_two_dataset_versions(seeded: Seeded) -> None:
    compared = headrace("artifacts", "diff", "train:1", "test:1", "--json", home=seeded.home)
    assert compared.code == 0, str(compared)
    report = compared.json()
    assert report["rows_a"] > report["rows_b"] > 0
    assert report["added"] == [] and report["removed"] == []
    assert "monthly_spend" in {c["column"] for c in report["drift"]["columns"] if c["drifted"]}
    text = headrace("artifacts", "diff", "train:1", "test:1", home=seeded.home)
    assert text.code == 0
    assert text.stdout.startswith("train:1 -> test:1: compatible")
    assert "drifted       monthly_spend" in text.stdout


def test_artifacts_diff_bad_inputs(seeded: Seeded) -> None:
    not_a_frame = headrace("artifacts", "diff", "model:1", "train:1", home=seeded.home)
    assert not_a_frame.code == 1
    assert not_a_frame.stderr.strip() == (
        "Error: model:1 is a sklearn.linear_model._logistic.LogisticRegression, not a DataFrame: "
        "diff compares dataset versions"
    )
    missing = headrace("artifacts", "diff", "train:1", "train:99", home=seeded.home)
    assert (
        missing.code == 1
        and "train" in missing.stderr
        and len(missing.stderr.strip().splitlines()) == 1
    )
    bad = headrace("artifacts", "diff", "train:one", "train:1", home=seeded.home)
    assert bad.code == 2


def test_artifacts_diff_options(seeded: Seeded) -> None:
    tested = headrace(
        "artifacts", "diff", "train:1", "test:1", "--method", "test", "--json", home=seeded.home
    )
    assert tested.code in (0, 1), str(tested)
    assert tested.json()["drift"]["method"] == "test"
    bad = headrace("artifacts", "diff", "train:1", "test:1", "--threshold", "2", home=seeded.home)
    assert bad.code == 2
