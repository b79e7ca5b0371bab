"""Every ```python block in README.md and docs/*.md runs, in order, one file per page, in a fresh home.

(docs/data.md, docs/cli.md and docs/notebooks.md have their own tests.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
SRC = Path(__file__).resolve().parents[1] / "src"
OWN_TESTS = {"data.md", "cli.md", "notebooks.md"}
README = DOCS.parent / "README.md"
PAGES = [
    README,
    *sorted(
        p for p in DOCS.glob("*.md") if p.name not in OWN_TESTS and "```python" in p.read_text()
    ),
]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_doc_examples_run(page: Path, tmp_path: Path) -> None:
    script = tmp_path / f"doc_{page.stem}.py"
    script.write_text("\n\n".join(python_blocks(page)), encoding="utf-8")
    env = {**os.environ, "HEADRACE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{page.name}:\n{proc.stderr[-3000:]}"


def test_there_are_doc_pages_with_examples() -> None:
    assert {"concepts.md", "caching.md", "lineage.md", "configuration.md"} <= {
        p.name for p in PAGES
    }
