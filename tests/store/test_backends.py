"""The byte backends: one conformance suite every backend passes, then local specifics."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from headrace.errors import UnsafePathError
from headrace.store import backends
from headrace.store.backends import ByteBackend, FsspecBackend, LocalBackend, validate_key

BACKENDS = ["local", "fsspec-file", "fsspec-memory"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ByteBackend]:
    if request.param == "local":
        yield LocalBackend(tmp_path / "root")
    elif request.param == "fsspec-file":
        yield FsspecBackend((tmp_path / "root").as_uri())
    else:
        name = f"/headrace-test-{uuid.uuid4().hex}"
        yield FsspecBackend(f"memory://{name}")
        memory = fsspec.filesystem("memory")
        for key in [k for k in memory.store if k.startswith(name + "/")]:
            memory.store.pop(key, None)


def _read(backend: ByteBackend, key: str) -> bytes:
    with backend.open_read(key) as source:
        return source.read()


def test_satisfies_the_protocol(backend: ByteBackend) -> None:
    assert isinstance(backend, ByteBackend)


def test_write_read_round_trip_returns_size_and_digest(backend: ByteBackend) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # several copy chunks
    size, digest = backend.write_atomic("objects/ab/x/data.bin", io.BytesIO(data))
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert _read(backend, "objects/ab/x/data.bin") == data
    assert backend.exists("objects/ab/x/data.bin")
    assert not backend.exists("objects/ab/x/other.bin")


def test_overwrite_replaces_whole_file(backend: ByteBackend) -> None:
    backend.write_atomic("a/b", io.BytesIO(b"first version, long"))
    backend.write_atomic("a/b", io.BytesIO(b"second"))
    assert _read(backend, "a/b") == b"second"


def test_missing_key_raises_file_not_found(backend: ByteBackend) -> None:
    with pytest.raises(FileNotFoundError):
        backend.open_read("nope/nothing")


def test_list_files_is_recursive_with_sizes(backend: ByteBackend) -> None:
    backend.write_atomic("objects/a/1", io.BytesIO(b"1"))
    backend.write_atomic("objects/a/deep/er/2", io.BytesIO(b"22"))
    backend.write_atomic("other/3", io.BytesIO(b"333"))
    entries = {e.key: e for e in backend.list_files("objects")}
    assert {k: e.size for k, e in entries.items()} == {"objects/a/1": 1, "objects/a/deep/er/2": 2}
    assert all(e.mtime is not None and not e.is_link for e in entries.values())
    assert backend.list_files("missing") == []


def test_no_temporary_files_left_after_writes(backend: ByteBackend) -> None:
    for i in range(5):
        backend.write_atomic(f"k/{i}", io.BytesIO(b"x" * i))
    assert backend.list_files("tmp") == []


def test_delete_file_and_folder(backend: ByteBackend) -> None:
    backend.write_atomic("d/1", io.BytesIO(b"1"))
    backend.write_atomic("d/sub/2", io.BytesIO(b"2"))
    backend.write_atomic("keep", io.BytesIO(b"k"))
    backend.delete("d/1")
    assert not backend.exists("d/1")
    backend.delete("d")
    assert backend.list_files("d") == []
    backend.delete("d")  # missing is fine
    assert _read(backend, "keep") == b"k"


def test_failed_write_leaves_nothing(backend: ByteBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    backend.write_atomic("f", io.BytesIO(b"old"))

    def broken(source: io.BufferedIOBase, target: io.BufferedIOBase) -> tuple[int, str]:
        target.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backends, "copy_hashing", broken)
    with pytest.raises(OSError):
        backend.write_atomic("f", io.BytesIO(b"new content"))
    with pytest.raises(OSError):
        backend.write_atomic("g", io.BytesIO(b"new content"))
    monkeypatch.undo()
    assert _read(backend, "f") == b"old"
    assert not backend.exists("g")
    assert backend.list_files("tmp") == []


def test_uri_names_the_key_under_the_root(backend: ByteBackend) -> None:
    assert backend.uri("objects/ab/cd") == backend.root_uri + "/objects/ab/cd"


def test_every_method_validates_keys(backend: ByteBackend) -> None:
    calls: list[Callable[[], object]] = [
        lambda: backend.exists("../x"),
        lambda: backend.open_read("../x"),
        lambda: backend.write_atomic("../x", io.BytesIO(b"")),
        lambda: backend.list_files("../x"),
        lambda: backend.delete("../x"),
        lambda: backend.local_path("../x"),
        lambda: backend.uri("../x"),
    ]
    for call in calls:
        with pytest.raises(UnsafePathError):
            call()


# -- the validator ---------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "objects/ab/" + "f" * 64 + "/data.npy",
        ".hidden",
        "a/.b/c..d",
        "name with spaces/x",
        "r\u00e9sum\u00e9/\u30c7\u30fc\u30bf.parquet",
        "100%.txt",
        "~tilde",
        "a-b_c+d=e,f'g(h)!@$&",
    ],
)
def test_accepts_ordinary_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "a/../b",
        "..",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "C:/x",
        "a#b",
        "a?b",
        "a;b",
        "%2e%2e/x",
        "a\x00b",
        "a\nb",
        "...",
        ". .",
        "name.",
        "name ",
        "a*",
        "a[0]",
        "\u202egnp.exe",
        "\ud800",
        "\uff0e\uff0e/x",
        "x" * 3000,
        "s" * 256,
    ],
)
def test_rejects_unsafe_keys(key: str) -> None:
    with pytest.raises(UnsafePathError):
        validate_key(key)


@pytest.mark.parametrize("key", [None, b"bytes", 3, Path("a")])
def test_rejects_non_strings(key: object) -> None:
    with pytest.raises(UnsafePathError):
        validate_key(key)


# -- LocalBackend specifics --------------------------------------------------------


def test_local_temp_folder_is_private_and_files_read_only(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    assert stat.S_IMODE((tmp_path / "root" / "tmp").stat().st_mode) == 0o700
    backend.write_atomic("objects/x", io.BytesIO(b"x"))
    assert stat.S_IMODE((tmp_path / "root" / "objects" / "x").stat().st_mode) & 0o222 == 0
    assert backend.local_path("objects/x") == tmp_path.resolve() / "root" / "objects" / "x"
    assert backend.root_uri == (tmp_path / "root").resolve().as_uri()


def test_local_write_fsyncs_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(tmp_path / "root")
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    backend.write_atomic("new/folder/file", io.BytesIO(b"x"))
    # the file, the folder it was renamed into, and the parents of the two new folders
    assert len(synced) >= 4
    synced.clear()
    LocalBackend(tmp_path / "fast", fsync=False).write_atomic("a", io.BytesIO(b"x"))
    assert synced == []


def test_local_refuses_a_tmp_that_is_a_link(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "tmp").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError):
        LocalBackend(tmp_path / "root")


def test_local_delete_removes_a_link_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    backend = LocalBackend(tmp_path / "root")
    (backend.root / "objects").mkdir()
    (backend.root / "objects" / "link").symlink_to(outside)
    backend.delete("objects/link")
    assert not (backend.root / "objects" / "link").exists()
    assert (outside / "precious").read_text() == "keep"


def test_local_listing_reports_links_without_following(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    backend = LocalBackend(tmp_path / "root")
    backend.write_atomic("objects/a", io.BytesIO(b"a"))
    (backend.root / "objects" / "dirlink").symlink_to(outside)
    (backend.root / "objects" / "filelink").symlink_to(outside / "secret")
    entries = {e.key: e.is_link for e in backend.list_files("objects")}
    assert entries == {"objects/a": False, "objects/dirlink": True, "objects/filelink": True}


def test_fsspec_without_rename_writes_directly(tmp_path: Path) -> None:
    backend = FsspecBackend((tmp_path / "root").as_uri(), atomic_rename=False)
    assert backend.write_atomic("a/b", io.BytesIO(b"data"))[0] == 4
    assert (tmp_path / "root" / "a" / "b").read_bytes() == b"data"
    assert backend.local_path("a/b") is None


def test_importing_backends_does_not_import_fsspec() -> None:
    src = Path(backends.__file__).parents[2]
    code = (
        "import sys, headrace.store.artifacts, headrace.store.backends; "
        "assert 'fsspec' not in sys.modules, 'fsspec imported eagerly'"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
