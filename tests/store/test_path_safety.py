"""Nothing outside the store root is ever read or written, whatever a key or hash holds.

The corpus follows the traversal bugs other artifact stores shipped: ``..`` in all its
encodings, backslashes, drive and UNC paths, URI schemes, ``#``/``?``/``;`` tricks,
control characters, Unicode look-alikes and pre-planted symbolic links. Every payload
goes through every backend method and every public store entry point, with canary
files planted around the root.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headrace.errors import ArtifactNotFoundError, StoreError, UnsafePathError
from headrace.store.artifacts import MANIFEST_SUFFIX, ArtifactStore, open_artifact_store
from headrace.store.backends import ByteBackend, FsspecBackend, LocalBackend, validate_key

TRAVERSAL = [
    "..",
    "../",
    "../canary.txt",
    "../../canary.txt",
    "../../../../../../../../etc/passwd",
    "a/../../canary.txt",
    "a/b/../../../canary.txt",
    "objects/../../canary.txt",
    ".",
    "./",
    "./a",
    "a/./b",
    "a//b",
    "a/",
    "/",
    "/etc/passwd",
    "//server/share/x",
    "/../canary.txt",
]
BACKSLASH = [
    "..\\canary.txt",
    "a\\..\\..\\canary.txt",
    "\\..\\canary.txt",
    "\\\\server\\share\\x",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "c:x",
    "C:",
    "..\\/canary.txt",
    "a/..\\../canary.txt",
    "\\\\?\\C:\\x",
]
URIS = [
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "file:canary.txt",
    "file:/../canary.txt",
    "s3://bucket/../x",
    "memory://x/../../y",
    "http://127.0.0.1/x",
    "a/file:/x",
]
ENCODED = [
    "%2e%2e/canary.txt",
    "%2E%2E/canary.txt",
    "%2e%2e%2fcanary.txt",
    "..%2fcanary.txt",
    "..%2Fcanary.txt",
    "..%5ccanary.txt",
    ".%2e/canary.txt",
    "%252e%252e%252fcanary.txt",
    "%25252e%25252e/x",
    "..%252fcanary.txt",
    "%c0%ae%c0%ae/canary.txt",
    "%c0%af",
    "%00",
    "a%00b",
    "%23",
    "%3f",
    "%3B",
    "a%2F..%2F..%2Fcanary.txt",
    "%e2%80%ae",
]
CONTROL = [
    "a\x00b",
    "\x00",
    "../\x00",
    "canary.txt\x00.json",
    "a\nb",
    "a\rb",
    "a\tb",
    "\x1b[2J",
    "a\x7fb",
    "a\x85b",
    "a\u2028b",
    "a\u202eb",
    "a\u200bb",
    "\ufeffa",
    "\ud800",
    "a\udcffb",
]
DELIMITERS = [
    "a#b",
    "#",
    "a?b",
    "?x=../canary.txt",
    "a;b",
    "..;/canary.txt",
    "a/..;/..;/canary.txt",
    "a#/../../canary.txt",
    "a?/../../canary.txt",
    "a:b",
    "*",
    "a/*",
    "a[0]",
    "**/canary.txt",
    "a|b",
    "a<b>",
    'a"b',
]
WINDOWS_TRIMMED = [
    "...",
    "....",
    ". .",
    ".. ",
    " ..",
    "a/.. /b",
    "a/. /b",
    "name.",
    "name ",
    "con.",
]
LOOKALIKES_THAT_NORMALIZE = [
    "\uff0e\uff0e/canary.txt",
    "\uff0e\uff0e\uff0fcanary.txt",
    "..\uff0fcanary.txt",
    "a\uff0f\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fcanary.txt",
    "\u2025/canary.txt",  # two dot leader
    "\ufe52\ufe52/canary.txt",  # small full stop
    "a/\u2024\u2024/b",  # one dot leader
    "\uff3c..\uff3ccanary.txt",
    "\uff05\uff12\uff45\uff05\uff12\uff45/x",
    "\uff0e",
    "\uff43\uff1a/x",
    "a\uff03b",  # fullwidth number sign
    "a\uff1fb",  # fullwidth question mark
]
# Look-alikes no normalization turns into a separator: valid names that must stay inside.
LOOKALIKES_THAT_STAY = [
    "\u2215..\u2215canary.txt",  # division slash
    "\u2044..\u2044canary.txt",  # fraction slash
    "a\u2215..\u2215..\u2215canary.txt",
    "\u29f5..\u29f5canary.txt",  # reverse solidus operator
    "\u2216..\u2216canary.txt",  # set minus
    "~",
    "~/canary.txt",
    "$HOME",
    "${HOME}/x",
]

BAD_PAYLOADS = (
    TRAVERSAL
    + BACKSLASH
    + URIS
    + ENCODED
    + CONTROL
    + DELIMITERS
    + WINDOWS_TRIMMED
    + LOOKALIKES_THAT_NORMALIZE
)
WRAPPERS: list[Callable[[str], str]] = [
    lambda p: p,
    lambda p: f"objects/{p}",
    lambda p: f"{p}/x",
    lambda p: f"objects/ab/{p}/file",
    lambda p: f"tmp/{p}",
]
BAD_KEYS = sorted({wrap(p) for p in BAD_PAYLOADS for wrap in WRAPPERS})
SAFE_LOOKALIKE_KEYS = sorted({wrap(p) for p in LOOKALIKES_THAT_STAY for wrap in WRAPPERS})

VALID = hashlib.sha256(b"x").hexdigest()
BAD_HASHES = [
    *BAD_KEYS,
    VALID.upper(),
    VALID[:63],
    VALID + "0",
    VALID + "\n",
    "\n" + VALID,
    " " + VALID[1:],
    VALID[:62] + "..",
    "../" + VALID[3:],
    VALID + "/../../canary.txt",
    f"{VALID[:2]}/{VALID}",
    "g" * 64,
    "\u0660" * 64,  # Arabic-Indic digits: str.isdigit() is True
    "\uff10" * 64,  # fullwidth digits
    "\uff10" * 63 + "a",
    VALID[:32] + "\x00" + VALID[33:],
    "",
]
NON_STRING_HASHES: list[Any] = [None, 0, VALID.encode(), Path(VALID), [VALID]]


def test_corpus_is_large() -> None:
    assert len(BAD_KEYS) >= 200
    assert len(BAD_HASHES) >= 200


# -- the world around the store: canaries, links, spies -------------------------------


@dataclass
class World:
    base: Path
    root: Path
    cache: Path
    outside: Path
    canaries: dict[Path, tuple[str, int, int]]

    @property
    def inputs(self) -> Path:
        return self.base / "inputs"

    def snapshot(self) -> dict[Path, tuple[str, int, int]]:
        seen = {}
        for current, dirs, names in os.walk(self.base):
            here = Path(current)
            dirs[:] = [d for d in dirs if here / d not in (self.root, self.cache, self.inputs)]
            for name in names + [d for d in dirs if (here / d).is_symlink()]:
                path = here / name
                if path.is_symlink():
                    seen[path] = (os.readlink(path), 0, 0)
                    continue
                info = path.stat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen[path] = (digest, info.st_size, info.st_mtime_ns)
        return seen

    def leaked(self, opened: list[str]) -> list[str]:
        """The paths in ``opened`` that are canaries or lie outside, behind the root."""
        return [p for p in list(opened) if self.is_forbidden(p)]

    def is_forbidden(self, opened: str) -> bool:
        real = Path(os.path.realpath(opened))
        inside = real.is_relative_to(self.root.resolve()) or real.is_relative_to(
            self.cache.resolve()
        )
        return not inside and (real in self.canaries or real.is_relative_to(self.outside))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    base = tmp_path.resolve()
    area = base / "area"
    root, cache, outside = area / "store", area / "cache", base / "outside"
    for folder in (root, cache, outside / "object", outside / "sub"):
        folder.mkdir(parents=True)
    for path in (base / "canary.txt", area / "canary.txt", outside / "canary.txt"):
        path.write_bytes(b"CANARY " + uuid.uuid4().bytes)
    (outside / "sub" / "canary.txt").write_bytes(b"CANARY deep")
    canaries: dict[Path, tuple[str, int, int]] = {}
    made = World(base, root, cache, outside, canaries)
    canaries.update(made.snapshot())
    yield made
    assert made.snapshot() == canaries, "something outside the store changed"


@pytest.fixture
def opened(world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the code under test opens or lists (resolving links may stat anything)."""
    seen: list[str] = []

    def spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(path, int):
                seen.append(os.fspath(path))
            return real(path, *args, **kwargs)

        return wrapper

    for owner, name in [
        (os, "open"),
        (builtins, "open"),
        (io, "open"),
        (os, "scandir"),
        (os, "listdir"),
    ]:
        monkeypatch.setattr(owner, name, spy(getattr(owner, name)))
    return seen


def _backends(world: World) -> dict[str, ByteBackend]:
    memory_root = f"/headrace-safety-{uuid.uuid4().hex}"
    return {
        "local": LocalBackend(world.root),
        "fsspec-file": FsspecBackend(world.root.as_uri()),
        "fsspec-memory": FsspecBackend(f"memory://{memory_root}"),
    }


def _stores(world: World) -> dict[str, ArtifactStore]:
    return {k: ArtifactStore(b, cache_dir=world.cache) for k, b in _backends(world).items()}


def _call_everything(backend: ByteBackend, key: Any) -> list[str]:
    """Names of the backend methods that did NOT refuse ``key``."""
    calls: dict[str, Callable[[], object]] = {
        "exists": lambda: backend.exists(key),
        "open_read": lambda: backend.open_read(key).close(),
        "write_atomic": lambda: backend.write_atomic(key, io.BytesIO(b"PWNED")),
        "list_files": lambda: backend.list_files(key),
        "delete": lambda: backend.delete(key),
        "local_path": lambda: backend.local_path(key),
        "uri": lambda: backend.uri(key),
    }
    accepted = []
    for name, call in calls.items():
        try:
            call()
        except UnsafePathError:
            continue
        accepted.append(name)
    return accepted


# -- every key through the validator and every backend method -----------------------------


def test_validator_refuses_the_whole_corpus() -> None:
    accepted = []
    for key in BAD_KEYS:
        try:
            validate_key(key)
        except UnsafePathError:
            continue
        accepted.append(key)
    assert accepted == []


def test_every_backend_method_refuses_the_corpus(world: World, opened: list[str]) -> None:
    for name, backend in _backends(world).items():
        for key in BAD_KEYS:
            assert _call_everything(backend, key) == [], (name, key)
        for key in NON_STRING_HASHES:
            assert _call_everything(backend, key) == [], (name, key)
    assert world.leaked(opened) == []
    assert [e for e in LocalBackend(world.root).list_files("tmp")] == []


def test_lookalikes_that_are_accepted_stay_inside(world: World, opened: list[str]) -> None:
    roots = {"local": world.root / "l", "fsspec-file": world.root / "f"}
    backends: dict[str, ByteBackend] = {
        "local": LocalBackend(roots["local"]),
        "fsspec-file": FsspecBackend(roots["fsspec-file"].as_uri()),
        "fsspec-memory": FsspecBackend(f"memory:///headrace-safety-{uuid.uuid4().hex}"),
    }
    for name, backend in backends.items():
        for key in SAFE_LOOKALIKE_KEYS:
            validate_key(key)
            backend.write_atomic(key, io.BytesIO(b"inside"))
            with backend.open_read(key) as source:
                assert source.read() == b"inside"
            if name in roots:
                written = Path(os.path.realpath(roots[name] / key))
                assert written.is_relative_to(roots[name]) and written.read_bytes() == b"inside"
            backend.delete(key)
    assert world.leaked(opened) == []


# -- every hash through the public store API ---------------------------------------------


def test_store_api_refuses_bad_hashes_before_any_io(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = _stores(world)
    touched: list[str] = []

    def record(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            touched.append(repr(args[:1]))
            return real(*args, **kwargs)

        return wrapper

    for owner, name in [(os, "open"), (builtins, "open"), (io, "open"), (os, "stat")]:
        monkeypatch.setattr(owner, name, record(getattr(owner, name)))
    for store in stores.values():
        for bad in [*BAD_HASHES, *NON_STRING_HASHES]:
            with pytest.raises(UnsafePathError):
                store.has(bad)
            with pytest.raises(UnsafePathError):
                store.fetch(bad)
            with pytest.raises(UnsafePathError):
                store.fetch(bad, verify=False)
    assert touched == []


def test_gc_treats_bad_referenced_hashes_as_plain_strings(world: World, opened: list[str]) -> None:
    for store in _stores(world).values():
        report = store.gc(set(BAD_HASHES), dry_run=False, grace_seconds=0)
        assert (report.temporary, report.unreferenced) == ([], [])
    assert world.leaked(opened) == []


BAD_FILE_NAMES = [
    "a\\b",
    "..\\canary.txt",
    "a#b",
    "a?b",
    "a;b",
    "%2e%2e",
    "..%2fcanary.txt",
    "a:b",
    "C:",
    "name.",
    "name ",
    "...",
    "a\nb",
    "\x1b[2J",
    "a\u202eb",
    "\uff0e\uff0e",
    "*",
    "a[0]",
    "%252e",
    "a\udcffb",
]


@pytest.mark.parametrize("name", BAD_FILE_NAMES, ids=range(len(BAD_FILE_NAMES)))
def test_put_dir_refuses_unsafe_file_names(world: World, name: str) -> None:
    folder = world.inputs / "input"
    (folder / "sub").mkdir(parents=True)
    (folder / "ok").write_bytes(b"ok")
    (folder / "sub" / name).write_bytes(b"payload")
    for store in _stores(world).values():
        with pytest.raises(UnsafePathError):
            store.put_dir(folder)
        assert store.backend.list_files("objects") == []
        assert store.backend.list_files("tmp") == []


# -- pre-planted links inside the root ---------------------------------------------------


def _content_hash(world: World, files: dict[str, bytes]) -> tuple[str, Path]:
    folder = world.inputs / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    scratch = ArtifactStore(FsspecBackend(f"memory:///scratch-{uuid.uuid4().hex}"))
    return scratch.put_dir(folder).hash, folder


LINKING_KINDS = ["local", "fsspec-file"]


@pytest.mark.parametrize("kind", LINKING_KINDS)
def test_objects_folder_linked_outside(world: World, opened: list[str], kind: str) -> None:
    (world.root / "objects").symlink_to(world.outside, target_is_directory=True)
    store = _stores(world)[kind]
    h, folder = _content_hash(world, {"data": b"d"})
    with pytest.raises(UnsafePathError):
        store.put_dir(folder)
    assert not store.has(h)
    with pytest.raises(UnsafePathError):
        store.fetch(h)
    with pytest.raises(UnsafePathError):
        store.gc(set(), dry_run=False, grace_seconds=0)
    assert world.leaked([p for p in opened if not p.endswith("/objects")]) == []


@pytest.mark.parametrize("kind", LINKING_KINDS)
def test_object_folder_linked_to_a_complete_copy_outside(
    world: World, opened: list[str], kind: str
) -> None:
    files = {"canary.txt": (world.outside / "canary.txt").read_bytes()}
    h, folder = _content_hash(world, files)
    # An attacker builds a self-consistent object outside and links it into the store.
    outside_store = open_artifact_store(str(world.base / "outside" / "object"))
    assert outside_store.put_dir(folder).hash == h
    prefix = world.root / "objects" / h[:2]
    prefix.mkdir(parents=True)
    real_prefix = world.outside / "object" / "objects" / h[:2]
    (prefix / h).symlink_to(real_prefix / h, target_is_directory=True)
    (prefix / (h + MANIFEST_SUFFIX)).write_bytes((real_prefix / (h + MANIFEST_SUFFIX)).read_bytes())
    world.canaries.update(world.snapshot())  # the attacker's copy is now a canary too
    store = _stores(world)[kind]
    opened.clear()
    with pytest.raises(UnsafePathError):
        store.fetch(h)
    assert not store.has(h)
    report = store.gc(set(), dry_run=False, grace_seconds=0)
    assert report.unreferenced == [h]
    assert (real_prefix / h / "canary.txt").exists()  # deleting the link kept the target
    assert world.leaked(opened) == []


@pytest.mark.parametrize("kind", LINKING_KINDS)
def test_file_inside_an_object_swapped_for_a_link(
    world: World, opened: list[str], kind: str
) -> None:
    canary = world.outside / "canary.txt"
    h, folder = _content_hash(world, {"canary.txt": canary.read_bytes(), "other": b"o"})
    store = _stores(world)[kind]
    assert store.put_dir(folder).hash == h
    planted = world.root / "objects" / h[:2] / h / "canary.txt"
    planted.unlink()
    planted.symlink_to(canary)
    opened.clear()
    with pytest.raises(UnsafePathError):
        store.fetch(h)
    assert not store.has(h)
    assert world.leaked(opened) == []
    if kind == "local":
        store.put_dir(folder)  # storing again replaces the link, never writes through it
        assert not planted.is_symlink() and store.has(h)
    else:
        with pytest.raises(UnsafePathError):
            store.put_dir(folder)
        assert planted.is_symlink()


def test_temp_folder_swapped_for_a_link_after_opening(world: World, opened: list[str]) -> None:
    store = ArtifactStore(LocalBackend(world.root))
    (world.root / "tmp").rmdir()
    (world.root / "tmp").symlink_to(world.outside, target_is_directory=True)
    h, folder = _content_hash(world, {"data": b"d"})
    with pytest.raises(UnsafePathError):
        store.put_dir(folder)
    assert not store.has(h)


def test_cache_never_writes_outside(world: World, opened: list[str]) -> None:
    store = ArtifactStore(
        FsspecBackend(f"memory:///safety-{uuid.uuid4().hex}"), cache_dir=world.cache
    )
    h, folder = _content_hash(world, {"data": b"d"})
    assert store.put_dir(folder).hash == h
    (world.cache / "objects" / h[:2]).mkdir(parents=True)
    (world.cache / "objects" / h[:2] / h).symlink_to(world.outside, target_is_directory=True)
    fetched = store.fetch(h)
    assert not fetched.is_symlink() and (fetched / "data").read_bytes() == b"d"
    assert (world.outside / "canary.txt").exists()


# -- manifests that hash to their own name but name unsafe paths --------------------------


def _planted_manifest(paths: list[str]) -> tuple[str, bytes]:
    files = [{"path": p, "sha256": "0" * 64, "size": 1} for p in sorted(paths)]
    document = {"files": files, "format": "headrace.manifest/1"}
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest(), data


EVIL_MANIFEST_PATHS = [
    ["../../canary.txt"],
    ["../../../outside/canary.txt"],
    ["/etc/passwd"],
    ["a\\..\\..\\canary.txt"],
    ["%2e%2e/%2e%2e/canary.txt"],
    ["ok", "sub/../../../canary.txt"],
    ["\uff0e\uff0e/\uff0e\uff0e/canary.txt"],
    ["file:///etc/passwd"],
]


@pytest.mark.parametrize("paths", EVIL_MANIFEST_PATHS, ids=range(len(EVIL_MANIFEST_PATHS)))
def test_self_consistent_manifest_with_unsafe_paths(
    world: World, opened: list[str], paths: list[str]
) -> None:
    h, data = _planted_manifest(paths)
    for name, store in _stores(world).items():
        store.backend.write_atomic(f"objects/{h[:2]}/{h}{MANIFEST_SUFFIX}", io.BytesIO(data))
        assert not store.has(h), name
        for verify in (True, False):
            with pytest.raises(UnsafePathError):
                store.fetch(h, verify=verify)
        assert store.gc(set(), dry_run=False, grace_seconds=0).unreferenced == [h]
        with pytest.raises(ArtifactNotFoundError):
            store.fetch(h)
    assert world.leaked(opened) == []
    assert list(world.cache.rglob("*canary*")) == []


def test_store_location_uris_cannot_name_other_hosts(world: World) -> None:
    for uri in ["file://attacker.example/share", "file://10.0.0.1/x", "file:///x#../../y"]:
        with pytest.raises(StoreError):
            open_artifact_store(uri)


# -- property: any text either raises or resolves inside the root -------------------------

SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a",
        "link",
        "objects",
        "tmp",
        "%2e%2e",
        "\uff0e\uff0e",
        "\\..",
        "~",
        "c:",
        "\x00",
    ]
)
KEYS = st.one_of(
    st.text(max_size=40),
    st.lists(SEGMENTS, max_size=6).map("/".join),
    st.lists(st.one_of(SEGMENTS, st.text(max_size=6)), max_size=5).map("/".join),
)
PROPERTY = settings(
    max_examples=400,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def linked_root(tmp_path: Path) -> tuple[Path, LocalBackend, FsspecBackend]:
    root = (tmp_path / "root").resolve()
    (tmp_path / "outside").mkdir()
    local = LocalBackend(root)
    (root / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    return root, local, FsspecBackend(root.as_uri())


@PROPERTY
@given(key=KEYS)
def test_any_key_is_refused_or_resolves_inside_the_root(
    linked_root: tuple[Path, LocalBackend, FsspecBackend], key: str
) -> None:
    root, local, remote = linked_root
    try:
        path = local.local_path(key)
    except UnsafePathError:
        local_ok = False
    else:
        local_ok = True
        real = Path(os.path.realpath(path))
        assert real.is_relative_to(root) and real != root
    try:
        remote.exists(key)
    except UnsafePathError:
        assert not local_ok
    else:
        assert local_ok
        assert Path(os.path.realpath(root / key)).is_relative_to(root)


@PROPERTY
@given(key=KEYS)
def test_accepted_keys_have_no_traversal_even_normalized(key: str) -> None:
    try:
        validate_key(key)
    except UnsafePathError:
        return
    for form in (key, unicodedata.normalize("NFKC", key)):
        parts = PurePosixPath(form).parts
        assert not PurePosixPath(form).is_absolute()
        assert ".." not in parts and "." not in form.split("/")
        assert "\\" not in form and "\x00" not in form and "%2e" not in form.lower()


def test_memory_backend_keys_stay_under_its_root() -> None:
    root = f"/headrace-safety-{uuid.uuid4().hex}"
    backend = FsspecBackend(f"memory://{root}")
    memory = fsspec.filesystem("memory")
    before = set(memory.store)
    for key in BAD_KEYS:
        assert _call_everything(backend, key) == []
    for key in SAFE_LOOKALIKE_KEYS:
        backend.write_atomic(key, io.BytesIO(b"x"))
    added = set(memory.store) - before
    assert added and all(k.startswith(root + "/") for k in added)
    for key in added:
        memory.store.pop(key, None)
