"""Helpers of the reliability tests: child processes, and a full check of a store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from headrace import Client
from headrace.errors import HeadraceError
from headrace.store.artifacts import MANIFEST_SUFFIX, ArtifactStore

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SRC = REPO / "src"


@pytest.fixture
def flow_dir(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The marker folder of ``flows.transform`` ($FLOW_DIR), with the home made active."""
    folder = tmp_path / "flow"
    folder.mkdir()
    monkeypatch.setenv("FLOW_DIR", str(folder))
    yield folder
    (folder / "hold").unlink(missing_ok=True)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: this source tree and this folder importable,
    the given home, no other HEADRACE_ setting, no colour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HEADRACE_") or k == "HEADRACE_CACHE_DIR"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE)])
    env["HEADRACE_HOME"] = str(home)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def headrace(*args: str, home: Path, cwd: Path | None = None, **extra: str) -> Done:
    """``python -m headrace.cli ARGS`` in a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "headrace.cli", *args],
        capture_output=True,
        text=True,
        env=child_env(home, **extra),
        cwd=cwd or home.parent,
        timeout=120,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def python(code: str, *args: str, home: Path, **extra: str) -> Done:
    """``python -c CODE ARGS`` in a child process."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=child_env(home, **extra),
        cwd=home.parent,
        timeout=120,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def one_error_line(done: Done, code: int = 1) -> str:
    """Exit ``code`` with exactly one line on stderr, ``Error: ...``; that line."""
    assert done.code == code, str(done)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), str(done)
    return lines[0]


@dataclass(frozen=True)
class StoreCheck:
    complete: set[str]  # objects whose manifest and every file verified
    partial: set[str]  # object folders that are not (has() is false for each)
    temp: list[str]  # leftover keys under tmp/


def object_hashes(store: ArtifactStore) -> dict[str, bool]:
    """Every object in the store: hash -> whether its manifest exists."""
    found: dict[str, bool] = {}
    for entry in store.backend.list_files("objects"):
        parts = entry.key.split("/")
        if len(parts) == 3 and parts[2].endswith(MANIFEST_SUFFIX):
            found[parts[2].removesuffix(MANIFEST_SUFFIX)] = True
        elif len(parts) > 3:
            found.setdefault(parts[2], False)
    return found


def check_store(client: Client) -> StoreCheck:
    """Verify every object that exists; fail if ``has()`` is true for a partial object or
    an artifact version points at anything that is not a complete, verified object."""
    stores = client.stores
    store = stores.artifacts
    complete: set[str] = set()
    partial: set[str] = set()
    for content_hash in object_hashes(store):
        if store.has(content_hash):
            try:
                store.fetch(content_hash, verify=True)
            except HeadraceError as exc:  # pragma: no cover - the failure being tested for
                pytest.fail(f"has() is true for {content_hash} but it does not verify: {exc}")
            complete.add(content_hash)
        else:
            partial.add(content_hash)
    referenced = stores.metadata.referenced_hashes()
    assert referenced <= complete, f"versions point at missing objects: {referenced - complete}"
    temp = [e.key for e in store.backend.list_files("tmp")]
    return StoreCheck(complete=complete, partial=partial, temp=temp)
