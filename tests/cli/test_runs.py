"""`headrace runs list|show` on the seeded home."""

from __future__ import annotations

from .conftest import Seeded
from .helpers import headrace


def test_list_shows_both_runs_newest_first(seeded: Seeded) -> None:
    result = headrace("runs", "list", home=seeded.home)
    assert result.code == 0, str(result)
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "PIPELINE", "STATUS", "STARTED", "DURATION", "PARAMETERS"]
    ids = [row.split()[0] for row in rows]
    assert ids[:2] == [seeded.second["id"][:12], seeded.first["id"][:12]]
    assert "C=0.5" in rows[0]


def test_list_filters_as_json(seeded: Seeded) -> None:
    result = headrace(
        "runs",
        "list",
        "--pipeline",
        "quarterly",
        "--status",
        "completed",
        "--limit",
        "1",
        "--json",
        home=seeded.home,
    )
    assert result.code == 0, str(result)
    listed = result.json()
    assert [r["id"] for r in listed] == [seeded.second["id"]]
    assert listed[0]["parameters"] == {"n": 400, "seed": 7, "C": 0.5}
    none = headrace(
        "--home", seeded.home, "runs", "list", "--pipeline", "other", "--json", home=None
    )
    assert none.code == 0 and none.json() == []


def test_show_prints_the_step_tree(seeded: Seeded) -> None:
    result = headrace("runs", "show", "latest", home=seeded.home)
    assert result.code == 0, str(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"run {seeded.second['id'][:12]}  quarterly  completed")
    assert any(line.strip().startswith("parameters   n=400 seed=7 C=0.5") for line in lines)
    tree = "\n".join(lines[lines.index("") + 1 :])
    assert "load_data  completed" in tree and "cache hit" in tree
    assert "└─ split_by_quarter  completed" in tree
    assert "│  → train v1" in tree and "│  → test v1" in tree
    assert "└─ fit  completed" in tree
    assert "cache miss: parameter C changed (1.0 -> 0.5)" in tree
    assert "→ model v2" in tree
    assert "└─ evaluate  completed" in tree and "(also after split_by_quarter)" in tree
    assert "KiB" in tree  # sizes


def test_show_json_by_unique_prefix(seeded: Seeded) -> None:
    result = headrace("runs", "show", seeded.first["id"][:10], "--json", home=seeded.home)
    assert result.code == 0, str(result)
    run = result.json()
    assert run["id"] == seeded.first["id"]
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["load_data"]["cache_reason"] == "no earlier run of this step"
    assert steps["evaluate"]["upstream"] == ["fit", "split_by_quarter"]
    assert steps["split_by_quarter"]["outputs"]["train"]["size"] > 0
    assert steps["split_by_quarter"]["metadata"]["train_rows"] > 0
