"""A whole pipeline on an fsspec artifact store (in-memory and file://), not the local folder."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from headrace import ArtifactCorruptedError, Client

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from quarterly import quarterly


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_quarterly_on_an_fsspec_store(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    uri = (
        f"memory://headrace-{uuid.uuid4().hex}"
        if scheme == "memory"
        else f"file://{tmp_path / 'remote'}"
    )
    monkeypatch.setenv("HEADRACE_ARTIFACT_URI", uri)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = quarterly(n=400)
    assert run.status == "completed"
    model = Client().artifact("model")
    assert model.uri.startswith(f"{scheme}://")
    assert 0.4 < Client().artifact("metrics").load()["accuracy"] <= 1.0
    again = quarterly(n=400)
    assert all(s.cache_hit for s in again.steps.values())


def test_a_corrupted_remote_object_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    root = f"memory://headrace-{uuid.uuid4().hex}"
    monkeypatch.setenv("HEADRACE_ARTIFACT_URI", root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    quarterly(n=300)
    raw = Client().artifact("raw")
    fs = fsspec.filesystem("memory")
    files = [
        p for p in fs.find(raw.uri.removeprefix("memory://")) if not p.endswith(".manifest.json")
    ]
    with fs.open(files[0], "rb") as handle:
        data = bytearray(handle.read())
    data[len(data) // 2] ^= 0xFF
    with fs.open(files[0], "wb") as handle:
        handle.write(bytes(data))
    # The verified local copy made while the pipeline ran stays good; a fresh cache must
    # download the damaged bytes and refuse them.
    from headrace.store.stores import close_stores

    close_stores()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
    with pytest.raises(ArtifactCorruptedError):
        Client().artifact("raw").load()
