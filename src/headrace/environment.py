"""Snapshots of where a run happened: Python, OS, installed distributions, git state.

The snapshot is plain JSON and is stored once per distinct hash, so a thousand runs on
one machine cost one row. It records the distributions ``import`` uses: when one is
installed twice on ``sys.path``, the first copy (``packages``) and the copies it hides
(``shadowed``); for an editable install, its source folder and that folder's git commit
and uncommitted changes (``editable``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from headrace.spec.canonical import canonical_json, sha256_hex

#: Where the parsed list of installed distributions is kept between processes.
CACHE_ENV = "HEADRACE_CACHE_DIR"
_CACHE_VERSION = 1
_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth")
_memory: dict[str, dict[str, Any]] = {}
_memory_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _platform() -> dict[str, Any]:
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
    }


def _machine() -> dict[str, Any]:
    """Python, OS and the installed distributions, the latter reused while the
    distribution folders on ``sys.path`` are unchanged (see :func:`distributions`)."""
    installed = distributions()
    data = {**_platform(), "packages": installed["packages"]}
    if installed["shadowed"]:
        data["shadowed"] = installed["shadowed"]
    if installed["editable"]:
        # The git state of an editable install's source is read at every snapshot: the
        # source changes without any distribution folder changing.
        data["editable"] = {
            name: {**info, "git": _git_state(info["path"])}
            for name, info in installed["editable"].items()
        }
    return data


def distributions() -> dict[str, Any]:
    """The installed distributions as ``import`` finds them: ``packages`` (name ->
    version of the copy first on ``sys.path``), ``shadowed`` (name -> the copy used and
    the later copies it hides) and ``editable`` (name -> source folder).

    Parsing every distribution's metadata costs about a millisecond per distribution,
    so the result is kept, in memory and in the user's cache folder, under a fingerprint
    of ``sys.path``: every entry's distribution folders (``*.dist-info``, ``*.egg-info``,
    ``*.egg-link``, ``*.pth``) with their modification times. Installing, removing or
    upgrading a distribution anywhere on the path changes the fingerprint.
    """
    key = _fingerprint()
    with _memory_lock:
        found = _memory.get(key)
    if found is None:
        found = _read_cache(key)
        if found is None:
            found = _scan()
            _write_cache(key, found)
        with _memory_lock:
            _memory.clear()
            _memory[key] = found
    return found


def _fingerprint() -> str:
    entries: list[Any] = [_CACHE_VERSION, sys.executable, sys.version]
    for folder in sys.path:
        listing: list[tuple[str, int]] = []
        try:
            with os.scandir(folder or ".") as it:
                for entry in it:
                    if entry.name.endswith(_METADATA_SUFFIXES):
                        try:
                            listing.append((entry.name, entry.stat().st_mtime_ns))
                        except OSError:
                            listing.append((entry.name, -1))
        except OSError:
            pass  # a missing folder or a zip file: its name alone is in the key
        entries.append([os.path.abspath(folder or "."), sorted(listing)])
    return sha256_hex(canonical_json(entries))


def _scan() -> dict[str, Any]:
    from importlib import metadata

    packages: dict[str, str] = {}
    where: dict[str, str] = {}
    shadowed: dict[str, dict[str, Any]] = {}
    editable: dict[str, dict[str, Any]] = {}
    seen: dict[str, set[str]] = {}
    # distributions() walks sys.path in order, as import does: the first copy of a name
    # is the one import uses, later ones are hidden behind it.
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name:
            continue
        key = _normalize(name)
        folder = str(Path(str(dist.locate_file(""))).resolve())
        if key in packages:
            if folder == where[key] or folder in seen.get(key, set()):
                continue  # the same folder twice on sys.path: one copy
            seen.setdefault(key, set()).add(folder)
            source = _editable_source(dist)
            if key not in editable and source and _inside(where[key], source):
                # A src/ folder on the path ahead of the editable install of it: the
                # same project, and its code is the one import uses.
                editable[key] = {"version": packages[key], "path": source}
                continue
            if key in editable and _inside(folder, editable[key]["path"]):
                continue  # build metadata inside the editable install's own source
            entry = shadowed.setdefault(
                key, {"used": {"version": packages[key], "path": where[key]}, "hidden": []}
            )
            entry["hidden"].append({"version": dist.version, "path": folder})
            continue
        packages[key] = dist.version
        where[key] = folder
        source = _editable_source(dist)
        if source is not None:
            editable[key] = {"version": dist.version, "path": source}
    return {
        "packages": dict(sorted(packages.items())),
        "shadowed": dict(sorted(shadowed.items())),
        "editable": dict(sorted(editable.items())),
    }


def _editable_source(dist: Any) -> str | None:
    """The source folder of an editable install (PEP 610 ``direct_url.json``)."""
    try:
        text = dist.read_text("direct_url.json")
    except OSError:
        return None
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    if not (info.get("dir_info") or {}).get("editable"):
        return None
    url = str(info.get("url", ""))
    if not url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path)


def _inside(path: str, folder: str) -> bool:
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


def cache_dir() -> Path:
    """``HEADRACE_CACHE_DIR``, else ``$XDG_CACHE_HOME/headrace``, else ``~/.cache/headrace``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "headrace"


def _cache_file(key: str) -> Path:
    return cache_dir() / "environments" / f"{key[:32]}.json"


def _read_cache(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_cache_file(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    found = data.get("distributions")
    if not isinstance(found, dict) or not {"packages", "shadowed", "editable"} <= set(found):
        return None
    return found


def _write_cache(key: str, found: dict[str, Any]) -> None:
    """Best effort and atomic (write, then rename): a reader sees a whole file or none."""
    target = _cache_file(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"key": key, "distributions": found}), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        return  # a read-only home folder only costs the next process the scan


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
