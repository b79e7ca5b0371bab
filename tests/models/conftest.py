"""Fixtures of the model registry tests: a home with trained versions of model ``churn``,
made once per session (in a subprocess) and copied for each test that writes to it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "feedback_loop.py"

TRAIN_TWICE = f"""
import sys
sys.path.insert(0, {str(EXAMPLE.parent)!r})
import feedback_loop
feedback_loop.training(n=800)
feedback_loop.training(n=800, C=0.01, seed=8)
"""


def make_home(folder: Path, code: str = TRAIN_TWICE) -> Path:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_") and k != "PYTHONPATH"
    }
    env.update(HEADRACE_HOME=str(folder), PYTHONPATH=str(REPO / "src"), HEADRACE_USER="trainer")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with churn v1 (seed 7, C=1) and v2 (seed 8, C=0.01), no aliases."""
    return make_home(tmp_path_factory.mktemp("models") / "home")


@pytest.fixture
def trained(
    trained_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A private copy of the trained home, made the active home."""
    from headrace.store.stores import close_stores

    home = tmp_path / "home"
    shutil.copytree(trained_template, home)
    monkeypatch.setenv("HEADRACE_HOME", str(home))
    monkeypatch.setenv("HEADRACE_USER", "tester")
    for var in ("HEADRACE_METADATA_URL", "HEADRACE_ARTIFACT_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    yield home
    close_stores()
