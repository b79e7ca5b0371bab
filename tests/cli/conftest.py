"""Fixtures of the command-line tests: one seeded home shared by the read-only tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import EXAMPLE, TINY, headrace


@dataclass(frozen=True)
class Seeded:
    """A home with two runs of the quarterly example: ``first`` (C=1.0) and ``second``
    (C=0.5, so load_data and split_by_quarter are cache hits and model gets version 2).
    Both are the JSON ``headrace run --json`` printed."""

    home: Path
    first: dict[str, Any]
    second: dict[str, Any]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    home = tmp_path_factory.mktemp("seeded") / "home"
    first = headrace("run", f"{EXAMPLE}:quarterly", "-p", "n=400", "--json", home=home)
    assert first.code == 0, str(first)
    second = headrace(
        "run", f"{EXAMPLE}:quarterly", "-p", "n=400", "-p", "C=0.5", "--json", home=home
    )
    assert second.code == 0, str(second)
    return Seeded(home=home, first=first.json(), second=second.json())


@pytest.fixture
def seeded_copy(seeded: Seeded, tmp_path: Path) -> Path:
    """A private copy of the seeded home, for tests that write to it."""
    target = tmp_path / "home"
    shutil.copytree(seeded.home, target)
    return target


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A small pipeline file (no pandas): pipelines ``tiny`` and ``broken``."""
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "tiny.py"
    path.write_text(TINY, encoding="utf-8")
    return path
