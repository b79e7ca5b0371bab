"""`headrace gc`: a dry run by default; --delete removes only garbage."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from .helpers import headrace, tree_of


def _plant_garbage(artifacts: Path) -> tuple[Path, Path]:
    old = time.time() - 2 * 3600
    leftover = artifacts / "tmp" / "crashed-write"
    leftover.write_bytes(b"x" * 100)
    digest = hashlib.sha256(b"nobody references this").hexdigest()
    orphan = artifacts / "objects" / digest[:2] / digest
    orphan.mkdir(parents=True)
    (orphan / "data.bin").write_bytes(b"y" * 1000)
    manifest = orphan.parent / f"{digest}.manifest.json"
    manifest.write_text("{}")
    for path in (leftover, orphan / "data.bin", manifest):
        os.utime(path, (old, old))
    return leftover, orphan


def test_gc_reports_then_deletes_only_garbage(seeded_copy: Path) -> None:
    artifacts = seeded_copy / "artifacts"
    leftover, orphan = _plant_garbage(artifacts)
    kept = {k: v for k, v in tree_of(artifacts / "objects").items() if orphan.name not in k}

    dry = headrace("gc", home=seeded_copy)
    assert dry.code == 0, str(dry)
    assert dry.stdout.startswith(
        "would remove 1 temporary entry and 1 unreferenced artifact object"
    )
    assert "(1102 bytes)" in dry.stdout
    assert leftover.exists() and orphan.exists()

    done = headrace("gc", "--delete", "--json", home=seeded_copy)
    assert done.code == 0, str(done)
    report = done.json()
    assert report["dry_run"] is False
    assert report["unreferenced"] == [orphan.name]
    assert len(report["temporary"]) == 1 and report["bytes"] == 1102
    assert not leftover.exists() and not orphan.exists()
    assert tree_of(artifacts / "objects") == kept  # every referenced object is still there
