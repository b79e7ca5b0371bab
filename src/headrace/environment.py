"""Snapshots of where a run happened: Python, OS, installed distributions, git state.

The snapshot is plain JSON and is stored once per distinct hash, so a thousand runs on
one machine cost one row.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from headrace.spec.canonical import canonical_json, sha256_hex


@functools.lru_cache(maxsize=1)
def _machine() -> dict[str, Any]:
    from importlib import metadata

    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            packages[_normalize(name)] = dist.version
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "packages": dict(sorted(packages.items())),
    }


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _git_state(folder: str) -> dict[str, Any] | None:
    # Not cached: the work tree may change between two runs of one process (a notebook),
    # and the record must say what it was at this run.
    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, check=True, timeout=10
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").decode().strip()
        diff = git("diff", "HEAD", "--no-ext-diff", "--binary")
        untracked = git("ls-files", "--others", "--exclude-standard").decode().split()
    except (OSError, subprocess.SubprocessError):
        return None
    return {
        "commit": commit,
        "dirty": bool(diff or untracked),
        "diff_hash": hashlib.sha256(diff).hexdigest() if diff else None,
        "untracked_files": len(untracked),
    }


def snapshot(
    source_file: str | None = None,
    *,
    source_text: str | None = None,
    source_name: str | None = None,
) -> dict[str, Any]:
    """The environment of this process; git state of the folder holding ``source_file``.

    ``source_text`` is the pipeline's captured source when no file holds it (a notebook):
    it is recorded as the source, named ``source_name``, with the git state of the
    working folder."""
    data = dict(_machine())
    data["git"] = None
    data["source"] = None
    if source_file and Path(source_file).is_file():
        data["git"] = _git_state(str(Path(source_file).resolve().parent))
        text = Path(source_file).read_text(encoding="utf-8", errors="replace")
        data["source"] = {"file": Path(source_file).name, "sha256": sha256_hex(text), "text": text}
    elif source_text is not None:
        data["git"] = _git_state(os.getcwd())
        name = source_name or "pipeline.py"
        data["source"] = {
            "file": name,
            "sha256": sha256_hex(source_text),
            "text": source_text,
            "captured": True,
        }
    return data


def environment_hash(data: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(data))


def requirements(data: dict[str, Any]) -> str:
    """Pinned requirements.txt text for a snapshot's installed distributions."""
    lines = [f"{name}=={version}" for name, version in data.get("packages", {}).items()]
    return "\n".join(lines) + "\n"
