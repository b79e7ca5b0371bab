"""The artifact store: one behaviour suite run on every backend, then crash, concurrency,
disk-full and garbage-collection cases."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import fsspec
import pytest

from headrace.errors import (
    ArtifactCorruptedError,
    ArtifactNotFoundError,
    HeadraceError,
    StoreError,
    UnsafePathError,
)
from headrace.store import backends
from headrace.store.artifacts import (
    MANIFEST_SUFFIX,
    ArtifactStore,
    open_artifact_store,
)
from headrace.store.backends import FsspecBackend, LocalBackend

SRC = Path(backends.__file__).parents[2]
BACKENDS = ["local", "fsspec-file", "fsspec-memory"]
# Locks the manifest format: a change here changes every artifact's identity.
KNOWN_HASH = "ca67a8c98e2e98d016231f5e287ee959e3bd8bb8149befb4ed0b418b2d7dad08"


def _make_store(kind: str, tmp_path: Path) -> ArtifactStore:
    """Each backend opened through its flavor, as a stack opens it."""
    from headrace import flavors

    cache = tmp_path / "cache"
    if kind == "local":
        return open_artifact_store(str(tmp_path / "store"), cache_dir=cache)
    if kind == "fsspec-file":  # the generic fsspec flavor on a file:// URL
        backend = flavors.create("artifacts", "fsspec", {}, (tmp_path / "store").as_uri())
        return ArtifactStore(backend, cache_dir=cache)
    return open_artifact_store(f"memory:///headrace-test-{uuid.uuid4().hex}", cache_dir=cache)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    made = _make_store(request.param, tmp_path)
    yield made
    if request.param == "fsspec-memory":
        memory = fsspec.filesystem("memory")
        root = made.root_uri.removeprefix("memory://")
        for key in [k for k in memory.store if k.startswith(root + "/")]:
            memory.store.pop(key, None)


@pytest.fixture
def local_store(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "store"))


def local_root(store: ArtifactStore) -> Path:
    assert isinstance(store.backend, LocalBackend)
    return store.backend.root


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def read_tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


NESTED = {
    "model.bin": os.urandom(2 * (1 << 20) + 3),
    "meta/schema.json": b'{"columns": ["a", "b"]}',
    "meta/deep/er/notes.txt": b"nested three levels",
    "empty.txt": b"",
    "unicode-名前.txt": "données".encode(),
}


def _prefix(content_hash: str) -> str:
    return f"objects/{content_hash[:2]}/{content_hash}"


def _replace(store: ArtifactStore, key: str, data: bytes) -> None:
    store.backend.write_atomic(key, io.BytesIO(data))


def _read(store: ArtifactStore, key: str) -> bytes:
    with store.backend.open_read(key) as source:
        return source.read()


def _object_hashes(store: ArtifactStore) -> set[str]:
    return {
        e.key.split("/")[2].removesuffix(MANIFEST_SUFFIX)
        for e in store.backend.list_files("objects")
    }


# -- behaviour every backend shares ------------------------------------------------


def test_round_trip_of_nested_folder(store: ArtifactStore, tmp_path: Path) -> None:
    stored = store.put_dir(write_tree(tmp_path / "in", NESTED))
    assert stored.files == len(NESTED)
    assert stored.size == sum(len(v) for v in NESTED.values())
    assert stored.uri == f"{store.root_uri}/{_prefix(stored.hash)}"
    assert store.has(stored.hash)
    fetched = store.fetch(stored.hash)
    assert read_tree(fetched) == NESTED
    assert read_tree(store.fetch(stored.hash, verify=False)) == NESTED


def test_manifest_format_is_stable(store: ArtifactStore, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "in", {"a.txt": b"hello\n", "sub/b.txt": b"world\n"})
    assert store.put_dir(folder).hash == KNOWN_HASH


def test_identical_content_is_stored_once(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.put_dir(write_tree(tmp_path / "one", NESTED))
    second = store.put_dir(write_tree(tmp_path / "two", NESTED))
    assert first == second
    assert _object_hashes(store) == {first.hash}
    assert store.backend.list_files("tmp") == []


def test_different_content_gets_a_different_hash(store: ArtifactStore, tmp_path: Path) -> None:
    base = store.put_dir(write_tree(tmp_path / "a", {"x": b"1", "y": b"2"})).hash
    variants = [
        {"x": b"1", "y": b"3"},  # other bytes
        {"x": b"1", "z": b"2"},  # other name
        {"x": b"1", "d/y": b"2"},  # other folder
        {"x": b"1"},  # fewer files
        {"x": b"1", "y": b"2", "e": b""},  # an extra empty file
    ]
    hashes = {store.put_dir(write_tree(tmp_path / f"v{i}", v)).hash for i, v in enumerate(variants)}
    assert len(hashes) == len(variants) and base not in hashes


def test_hash_ignores_creation_order_and_times(store: ArtifactStore, tmp_path: Path) -> None:
    names = list(NESTED)
    forward = write_tree(tmp_path / "forward", NESTED)
    backward = write_tree(tmp_path / "backward", {n: NESTED[n] for n in reversed(names)})
    os.utime(backward / "model.bin", (1, 1))
    assert store.put_dir(forward).hash == store.put_dir(backward).hash


def test_empty_folder_is_an_object(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    stored = store.put_dir(tmp_path / "empty")
    assert (stored.files, stored.size) == (0, 0)
    assert store.has(stored.hash)
    assert list(store.fetch(stored.hash).iterdir()) == []


def test_missing_object(store: ArtifactStore) -> None:
    absent = "0" * 64
    assert not store.has(absent)
    with pytest.raises(ArtifactNotFoundError, match=absent):
        store.fetch(absent)
    with pytest.raises(KeyError):
        store.fetch(absent)


def test_put_dir_of_a_missing_folder(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        store.put_dir(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(StoreError):
        store.put_dir(tmp_path / "file")


# -- corruption ---------------------------------------------------------------------


@pytest.fixture
def stored(store: ArtifactStore, tmp_path: Path) -> tuple[ArtifactStore, str]:
    files = {"a.bin": b"A" * 1000, "sub/b.bin": b"B" * 500}
    return store, store.put_dir(write_tree(tmp_path / "in", files)).hash


def test_flipped_byte_is_detected(stored: tuple[ArtifactStore, str]) -> None:
    store, h = stored
    key = f"{_prefix(h)}/sub/b.bin"
    data = bytearray(_read(store, key))
    data[250] ^= 0x01
    _replace(store, key, bytes(data))
    assert store.has(h)  # has() does not hash
    with pytest.raises(ArtifactCorruptedError) as caught:
        store.fetch(h)
    assert h in str(caught.value) and "sub/b.bin" in str(caught.value)


def test_truncated_file_is_detected_even_without_hashing(stored: tuple[ArtifactStore, str]) -> None:
    store, h = stored
    _replace(store, f"{_prefix(h)}/a.bin", b"A" * 999)
    assert not store.has(h)
    for verify in (True, False):
        with pytest.raises(ArtifactCorruptedError, match=r"a\.bin"):
            store.fetch(h, verify=verify)


def test_deleted_file_is_detected(stored: tuple[ArtifactStore, str]) -> None:
    store, h = stored
    store.backend.delete(f"{_prefix(h)}/sub/b.bin")
    assert not store.has(h)
    with pytest.raises(ArtifactCorruptedError, match=r"sub/b\.bin.*missing"):
        store.fetch(h)


def test_extra_file_is_detected(stored: tuple[ArtifactStore, str]) -> None:
    store, h = stored
    _replace(store, f"{_prefix(h)}/planted.py", b"import os")
    with pytest.raises(ArtifactCorruptedError, match=r"planted\.py"):
        store.fetch(h)


def test_deleted_manifest_makes_the_object_absent(stored: tuple[ArtifactStore, str]) -> None:
    store, h = stored
    store.backend.delete(_prefix(h) + MANIFEST_SUFFIX)
    assert not store.has(h)
    with pytest.raises(ArtifactNotFoundError):
        store.fetch(h)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.replace(b'"size":500', b'"size":501'),
        lambda m: m.replace(b'"format"', b'"files2":[],"format"'),
        lambda m: m[:-1],
        lambda m: b"",
        lambda m: b"\xff\xfe not json",
    ],
    ids=["size", "field", "truncated", "empty", "binary"],
)
def test_edited_manifest_is_detected(
    stored: tuple[ArtifactStore, str], edit: Callable[[bytes], bytes]
) -> None:
    store, h = stored
    key = _prefix(h) + MANIFEST_SUFFIX
    edited = edit(_read(store, key))
    assert edited != _read(store, key)
    _replace(store, key, edited)
    assert not store.has(h)
    with pytest.raises(ArtifactCorruptedError, match=h):
        store.fetch(h)


def test_put_dir_repairs_a_damaged_object(
    stored: tuple[ArtifactStore, str], tmp_path: Path
) -> None:
    store, h = stored
    store.backend.delete(f"{_prefix(h)}/a.bin")
    assert store.put_dir(tmp_path / "in").hash == h
    assert store.has(h)
    assert read_tree(store.fetch(h))["a.bin"] == b"A" * 1000


def test_flipping_a_byte_in_each_of_many_artifacts_is_always_refused(tmp_path: Path) -> None:
    local_store = ArtifactStore(LocalBackend(tmp_path / "store", fsync=False))
    hashes = []
    for i in range(100):
        folder = write_tree(tmp_path / f"in{i}", {"data": f"artifact {i} ".encode() * 20})
        hashes.append(local_store.put_dir(folder).hash)
    for i, h in enumerate(hashes):
        path = local_store.fetch(h) / "data"
        data = bytearray(path.read_bytes())
        data[i % len(data)] ^= 0x80
        os.chmod(path, 0o644)
        path.write_bytes(bytes(data))
    refused = 0
    for h in hashes:
        with pytest.raises(ArtifactCorruptedError):
            local_store.fetch(h)
        refused += 1
    assert refused == 100


# -- remote backends: the local cache -----------------------------------------------


@pytest.fixture
def remote(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(
        FsspecBackend(f"memory:///headrace-test-{uuid.uuid4().hex}"), cache_dir=tmp_path / "cache"
    )


def test_remote_fetch_fills_a_private_cache(remote: ArtifactStore, tmp_path: Path) -> None:
    h = remote.put_dir(write_tree(tmp_path / "in", NESTED)).hash
    fetched = remote.fetch(h)
    assert fetched.is_relative_to(tmp_path / "cache")
    assert read_tree(fetched) == NESTED
    for folder in (tmp_path / "cache", tmp_path / "cache" / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_remote_fetch_uses_the_cache(
    remote: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = remote.put_dir(write_tree(tmp_path / "in", NESTED)).hash
    first = remote.fetch(h)

    def offline(key: str) -> BinaryIO:
        raise AssertionError(f"read {key} from the remote")

    monkeypatch.setattr(remote.backend, "open_read", offline)
    assert remote.fetch(h) == first
    assert read_tree(remote.fetch(h, verify=False)) == NESTED


def test_damaged_cache_copy_is_fetched_again(remote: ArtifactStore, tmp_path: Path) -> None:
    h = remote.put_dir(write_tree(tmp_path / "in", NESTED)).hash
    cached = remote.fetch(h)
    (cached / "meta" / "schema.json").write_bytes(b'{"columns": ["a", "c"]}')
    (cached / "stray").write_bytes(b"x")
    assert read_tree(remote.fetch(h)) == NESTED


def test_remote_corruption_is_detected_on_download(remote: ArtifactStore, tmp_path: Path) -> None:
    h = remote.put_dir(write_tree(tmp_path / "in", {"f": b"0123456789"})).hash
    _replace(remote, f"{_prefix(h)}/f", b"0123456780")
    with pytest.raises(ArtifactCorruptedError, match="'f'"):
        remote.fetch(h)
    assert not (tmp_path / "cache" / "objects" / h[:2] / h).exists()


# -- crashes and atomicity ------------------------------------------------------------


def test_crash_before_the_manifest_leaves_the_object_invisible(
    store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_tree(tmp_path / "in", NESTED)
    real = store.backend.write_atomic

    def crash_on_manifest(key: str, source: BinaryIO) -> tuple[int, str]:
        if key.endswith(MANIFEST_SUFFIX):
            raise KeyboardInterrupt  # the process dies here
        return real(key, source)

    monkeypatch.setattr(store.backend, "write_atomic", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        store.put_dir(folder)
    monkeypatch.undo()
    h = store.put_dir(write_tree(tmp_path / "ref", {})).hash  # something referenced
    partial = _object_hashes(store) - {h}
    assert len(partial) == 1
    (lost,) = partial
    assert not store.has(lost)
    with pytest.raises(ArtifactNotFoundError):
        store.fetch(lost)
    report = store.gc({h}, dry_run=False, grace_seconds=0)
    assert report.unreferenced == [lost]
    assert _object_hashes(store) == {h}
    assert store.put_dir(folder).hash == lost and store.has(lost)


def test_manifest_rename_failure_on_local_disk(
    local_store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace

    def failing(src: str, dst: str) -> None:
        if str(dst).endswith(MANIFEST_SUFFIX):
            raise OSError(errno.EIO, "I/O error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(StoreError):
        local_store.put_dir(write_tree(tmp_path / "in", NESTED))
    monkeypatch.undo()
    (h,) = _object_hashes(local_store)
    assert not local_store.has(h)
    assert local_store.backend.list_files("tmp") == []


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from headrace.store import backends
    from headrace.store.artifacts import open_artifact_store

    real = backends.copy_hashing
    calls = []

    def dying(source, target):
        calls.append(1)
        if len(calls) == int(sys.argv[3]):
            target.write(source.read(100))
            target.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real(source, target)

    backends.copy_hashing = dying
    open_artifact_store(sys.argv[1]).put_dir(Path(sys.argv[2]))
    """
)


@pytest.mark.parametrize("die_on_write", [1, 3, 6])
def test_killed_writer_leaves_only_garbage(tmp_path: Path, die_on_write: int) -> None:
    folder = write_tree(tmp_path / "in", NESTED)  # 5 files, then the manifest
    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(root), str(folder), str(die_on_write)],
        env=env,
        timeout=60,
        capture_output=True,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    h = open_artifact_store(str(tmp_path / "reference")).put_dir(folder).hash
    store = open_artifact_store(str(root))
    assert not store.has(h)
    with pytest.raises(ArtifactNotFoundError):
        store.fetch(h)
    report = store.gc(set(), dry_run=True, grace_seconds=0)
    assert len(report.temporary) == 1  # the file being written when the process died
    assert report.unreferenced == ([h] if die_on_write > 1 else [])
    assert (report.bytes_freed > 0) == (die_on_write > 1)  # the first file written is empty
    store.gc(set(), dry_run=False, grace_seconds=0)
    assert store.backend.list_files("tmp") == [] and _object_hashes(store) == set()
    assert store.put_dir(folder).hash == h and read_tree(store.fetch(h)) == NESTED


def test_concurrent_puts_from_threads(store: ArtifactStore, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "in", NESTED)
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(store.put_dir(folder).hash)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(results) == 8 and len(set(results)) == 1
    assert _object_hashes(store) == set(results)
    assert store.backend.list_files("tmp") == []
    assert read_tree(store.fetch(results[0])) == NESTED


PUTTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from headrace.store.artifacts import open_artifact_store

    store = open_artifact_store(sys.argv[1])
    go = Path(sys.argv[3])
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    print(store.put_dir(Path(sys.argv[2])).hash)
    """
)


def test_concurrent_puts_from_processes(tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "in", NESTED)
    root, go = tmp_path / "store", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PUTTER, str(root), str(folder), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(0.3)
    go.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    hashes = {out.strip() for out, _ in outputs}
    assert len(hashes) == 1
    store = open_artifact_store(str(root))
    assert _object_hashes(store) == hashes
    assert store.backend.list_files("tmp") == []
    assert read_tree(store.fetch(hashes.pop())) == NESTED


# -- disk full ----------------------------------------------------------------------------


def test_disk_full_is_a_clear_store_error(
    store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_tree(tmp_path / "in", NESTED)
    real = backends.copy_hashing
    calls: list[int] = []

    def filling_up(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
        calls.append(1)
        if len(calls) == 2:
            target.write(source.read(1000))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(source, target)

    monkeypatch.setattr(backends, "copy_hashing", filling_up)
    with pytest.raises(StoreError, match="artifact store is full") as caught:
        store.put_dir(folder)
    monkeypatch.undo()
    assert isinstance(caught.value, HeadraceError)
    assert isinstance(caught.value.__cause__, OSError)
    assert store.backend.list_files("tmp") == []
    (h,) = _object_hashes(store)
    assert not store.has(h)
    with pytest.raises(ArtifactNotFoundError):
        store.fetch(h)
    assert store.put_dir(folder).hash == h and store.has(h)


# -- garbage collection -------------------------------------------------------------------


def test_gc_dry_run_then_real_run(store: ArtifactStore, tmp_path: Path) -> None:
    keep = store.put_dir(write_tree(tmp_path / "keep", {"k": b"k" * 10}))
    drop = store.put_dir(write_tree(tmp_path / "drop", {"d": b"d" * 20, "e/f": b"f" * 5}))
    _replace(store, "tmp/leftover", b"x" * 7)

    dry = store.gc({keep.hash}, dry_run=True, grace_seconds=0)
    assert dry.dry_run and dry.unreferenced == [drop.hash] and dry.temporary == ["tmp/leftover"]
    assert dry.bytes_freed >= 25 + 7
    assert store.has(drop.hash) and store.backend.exists("tmp/leftover")

    real = store.gc({keep.hash}, dry_run=False, grace_seconds=0)
    assert not real.dry_run and real.unreferenced == [drop.hash]
    assert real.bytes_freed == dry.bytes_freed
    assert not store.has(drop.hash) and not store.backend.exists("tmp/leftover")
    assert store.has(keep.hash) and read_tree(store.fetch(keep.hash)) == {"k": b"k" * 10}
    assert _object_hashes(store) == {keep.hash}

    again = store.gc({keep.hash}, dry_run=False, grace_seconds=0)
    assert (again.unreferenced, again.temporary, again.bytes_freed) == ([], [], 0)


def test_gc_grace_period_protects_fresh_writes(store: ArtifactStore, tmp_path: Path) -> None:
    fresh = store.put_dir(write_tree(tmp_path / "fresh", {"f": b"f"}))
    _replace(store, "tmp/in-flight", b"x")
    report = store.gc(set(), dry_run=False, grace_seconds=3600)
    assert (report.unreferenced, report.temporary) == ([], [])
    assert store.has(fresh.hash) and store.backend.exists("tmp/in-flight")


def test_gc_grace_uses_age_on_local_disk(local_store: ArtifactStore, tmp_path: Path) -> None:
    old = local_store.put_dir(write_tree(tmp_path / "old", {"o": b"o"}))
    young = local_store.put_dir(write_tree(tmp_path / "young", {"y": b"y"}))
    root = local_root(local_store)
    stale_tmp = root / "tmp" / "stale"
    stale_tmp.write_bytes(b"s")
    (root / "tmp" / "fresh").write_bytes(b"f")
    partial = root / "objects" / "ee" / ("e" * 64)
    partial.mkdir(parents=True)
    (partial / "half").write_bytes(b"h")
    two_hours_ago = time.time() - 7200
    for path in [stale_tmp, partial / "half", *root.glob(f"objects/{old.hash[:2]}/{old.hash}*")]:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(item, (two_hours_ago, two_hours_ago), follow_symlinks=False)
    report = local_store.gc(set(), dry_run=False, grace_seconds=3600)
    assert report.temporary == ["tmp/stale"]
    assert sorted(report.unreferenced) == sorted([old.hash, "e" * 64])
    assert local_store.has(young.hash) and not local_store.has(old.hash)
    assert (root / "tmp" / "fresh").exists() and not partial.exists()


def test_storing_again_restarts_the_grace_period(
    local_store: ArtifactStore, tmp_path: Path
) -> None:
    folder = write_tree(tmp_path / "in", {"a": b"a"})
    h = local_store.put_dir(folder).hash
    manifest = local_root(local_store) / (_prefix(h) + MANIFEST_SUFFIX)
    os.utime(manifest, (1, 1))
    os.utime(manifest.parent / h / "a", (1, 1))
    local_store.put_dir(folder)  # deduplicated, as a cache-missed step would do
    assert local_store.gc(set(), dry_run=False, grace_seconds=3600).unreferenced == []
    assert local_store.has(h)


def test_gc_ignores_what_it_did_not_write(local_store: ArtifactStore) -> None:
    root = local_root(local_store)
    foreign = root / "objects" / "README"
    foreign.parent.mkdir(parents=True, exist_ok=True)
    foreign.write_text("not an object")
    (root / "objects" / "zz" / "not-a-hash").mkdir(parents=True)
    (root / "objects" / "zz" / "not-a-hash" / "x").write_text("x")
    assert local_store.gc(set(), dry_run=False, grace_seconds=0).unreferenced == []
    assert foreign.exists()


# -- put_dir input checks and opening stores ------------------------------------------------


def test_put_dir_refuses_links_in_the_folder(local_store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"secret")
    for name, target in [("file-link", tmp_path / "secret"), ("dir-link", tmp_path)]:
        folder = write_tree(tmp_path / f"in-{name}", {"ok": b"ok"})
        (folder / "sub").mkdir()
        (folder / "sub" / name).symlink_to(target)
        with pytest.raises(UnsafePathError, match=name):
            local_store.put_dir(folder)
    assert _object_hashes(local_store) == set()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_put_dir_refuses_special_files(local_store: ArtifactStore, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "in", {"ok": b"ok"})
    os.mkfifo(folder / "pipe")
    with pytest.raises(StoreError, match="pipe"):
        local_store.put_dir(folder)


def test_put_dir_accepts_a_folder_given_through_a_link(
    local_store: ArtifactStore, tmp_path: Path
) -> None:
    folder = write_tree(tmp_path / "in", {"a": b"a"})
    (tmp_path / "alias").symlink_to(folder)
    assert local_store.put_dir(tmp_path / "alias") == local_store.put_dir(folder)


def test_open_artifact_store_picks_the_backend(tmp_path: Path) -> None:
    by_path = open_artifact_store(str(tmp_path / "a"))
    assert isinstance(by_path.backend, LocalBackend)
    assert by_path.root_uri == (tmp_path / "a").resolve().as_uri()
    by_uri = open_artifact_store((tmp_path / "b c").as_uri())
    assert isinstance(by_uri.backend, LocalBackend)
    assert by_uri.root_uri == (tmp_path / "b c").resolve().as_uri()
    assert (tmp_path / "b c").is_dir()
    localhost = open_artifact_store(f"file://localhost{tmp_path / 'c'}")
    assert localhost.root_uri == (tmp_path / "c").resolve().as_uri()
    memory = open_artifact_store(f"memory:///headrace-test-{uuid.uuid4().hex}")
    assert isinstance(memory.backend, FsspecBackend)
    assert memory.root_uri.startswith("memory://")


def test_open_artifact_store_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_artifact_store("relative/store")
    assert store.root_uri == (tmp_path / "relative" / "store").resolve().as_uri()


@pytest.mark.parametrize(
    "uri", ["", "   ", "file://evil.example/etc", "file:///tmp/x?y=1", "a\x00b", "nosuchproto://x"]
)
def test_open_artifact_store_refuses_bad_locations(uri: str) -> None:
    with pytest.raises(StoreError):
        open_artifact_store(uri)


def test_a_store_written_by_one_backend_reads_by_another(tmp_path: Path) -> None:
    h = open_artifact_store(str(tmp_path / "s")).put_dir(write_tree(tmp_path / "in", NESTED)).hash
    via_fsspec = ArtifactStore(FsspecBackend((tmp_path / "s").as_uri()), cache_dir=tmp_path / "c")
    assert via_fsspec.has(h) and read_tree(via_fsspec.fetch(h)) == NESTED


def test_manifest_lists_paths_sizes_and_digests(local_store: ArtifactStore, tmp_path: Path) -> None:
    h = local_store.put_dir(write_tree(tmp_path / "in", {"b/x": b"xx", "a": b"a"})).hash
    raw = _read(local_store, _prefix(h) + MANIFEST_SUFFIX)
    assert hashlib.sha256(raw).hexdigest() == h
    document = json.loads(raw)
    assert [f["path"] for f in document["files"]] == ["a", "b/x"]
    assert document["files"][1] == {
        "path": "b/x",
        "size": 2,
        "sha256": hashlib.sha256(b"xx").hexdigest(),
    }


def test_step_log_chunks_are_kept_apart_from_objects_and_survive_gc(store: ArtifactStore) -> None:
    store.write_log_chunk("run1", "steprun1", 0, b"first line\n")
    store.write_log_chunk("run1", "steprun1", 1, b"second line\n")
    store.write_log_chunk("run1", "steprun2", 0, b"other step\n")
    assert store.read_log("run1", "steprun1") == [(0, b"first line\n"), (1, b"second line\n")]
    assert store.read_log("run1", "steprun1", after=0) == [(1, b"second line\n")]
    assert store.read_log("run1", "nothing") == []
    store.gc(set(), dry_run=False, grace_seconds=0)
    assert len(store.read_log("run1", "steprun1")) == 2
    with pytest.raises(UnsafePathError):
        store.write_log_chunk("../escape", "steprun1", 0, b"x")


def test_an_unknown_option_of_a_backend_flavor_is_a_clear_error(tmp_path: Path) -> None:
    from headrace.errors import ConfigError

    with pytest.raises(ConfigError, match="artifacts flavor 'file' takes no option 'bucket'"):
        open_artifact_store(str(tmp_path / "x"), storage_options={"bucket": "b"})
