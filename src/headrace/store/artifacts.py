"""The content-addressed artifact store: folders of files, identified by their SHA-256.

Layout under the store root (keys of a :class:`~headrace.store.backends.ByteBackend`)::

    objects/<h[:2]>/<h>/<file paths>       the files a materializer wrote
    objects/<h[:2]>/<h>.manifest.json      written last: the object exists once it does
    tmp/<uuid>                             in-flight writes; leftovers are gc's garbage

``h`` is the SHA-256 of the canonical manifest bytes, which list every file's relative
path, size and SHA-256 in path order. The public API takes hashes only, and a hash is
checked to be 64 lowercase hex digits before any I/O; file paths from a manifest pass
the backend key validator before they are read or written.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from headrace.errors import (
    ArtifactCorruptedError,
    ArtifactNotFoundError,
    StoreError,
    UnsafePathError,
)
from headrace.store.backends import (
    TMP_PREFIX,
    BackendEntry,
    ByteBackend,
    LocalBackend,
    copy_hashing,
    validate_key,
)

__all__ = [
    "MANIFEST_SUFFIX",
    "ArtifactStore",
    "GcReport",
    "StoredObject",
    "open_artifact_store",
    "validate_hash",
]

MANIFEST_SUFFIX = ".manifest.json"
_MANIFEST_FORMAT = "headrace.manifest/1"
_MAX_MANIFEST_BYTES = 64 << 20
_HASH = re.compile(r"[0-9a-f]{64}")
_OBJECTS = "objects"
_LOGS = "logs"
_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True, slots=True)
class StoredObject:
    hash: str  # sha256 hex of the canonical manifest (see ArtifactStore.put_dir)
    uri: str  # where the object's folder lives, e.g. file:///.../objects/ab/abcd... or memory://...
    size: int  # total bytes of the files
    files: int


@dataclass(frozen=True, slots=True)
class GcReport:
    temporary: list[str]  # keys of leftover temp files/folders (older than the grace period)
    unreferenced: list[str]  # hashes of objects no artifact version references
    bytes_freed: int
    dry_run: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    size: int
    sha256: str


def validate_hash(value: object) -> str:
    """Return ``value`` if it is a content hash (64 lowercase hex digits), else raise."""
    if isinstance(value, str) and _HASH.fullmatch(value):
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise UnsafePathError(f"{shown} is not a content hash (64 lowercase hex digits)")


def _canonical_manifest(entries: Iterable[_Entry]) -> bytes:
    files = [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries]
    document = {"files": files, "format": _MANIFEST_FORMAT}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def _parse_manifest(content_hash: str, data: bytes) -> tuple[_Entry, ...]:
    """The entries of a manifest whose bytes already hash to ``content_hash``.

    The hash match proves the bytes are what someone wrote, not that a store wrote
    them: a planted manifest can hash to its own name, so every path is validated.
    """

    def corrupt(reason: str) -> ArtifactCorruptedError:
        return ArtifactCorruptedError(f"artifact {content_hash}: manifest {reason}")

    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"is not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != _MANIFEST_FORMAT:
        raise corrupt(f"is not a {_MANIFEST_FORMAT} document")
    files = document.get("files")
    if set(document) != {"files", "format"} or not isinstance(files, list):
        raise corrupt("has unexpected fields")
    entries: list[_Entry] = []
    for item in files:
        if not isinstance(item, dict) or set(item) != {"path", "sha256", "size"}:
            raise corrupt("has a malformed file entry")
        path, size, digest = item["path"], item["size"], item["sha256"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise corrupt(f"has an invalid size for {path!r}")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            raise corrupt(f"has an invalid sha256 for {path!r}")
        try:
            validate_key(path)
        except UnsafePathError as exc:
            raise UnsafePathError(f"artifact {content_hash}: manifest lists {exc}") from exc
        entries.append(_Entry(path, size, digest))
    paths = [e.path for e in entries]
    if paths != sorted(set(paths)):
        raise corrupt("paths are not sorted and unique")
    folders = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
    nested = {f.rsplit("/", i)[0] for f in folders for i in range(f.count("/") + 1)}
    if nested & set(paths):
        raise corrupt("lists a file that is also a folder")
    if _canonical_manifest(entries) != data:
        raise corrupt("is not in canonical form")
    return tuple(entries)


def _open_input(path: Path) -> BinaryIO:
    # O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO after the scan is
    # refused instead of followed or blocked on.
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(f"{path} is not a regular file")
        return cast(BinaryIO, os.fdopen(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise


def _scan_folder(folder: Path) -> list[tuple[str, Path]]:
    """(relative key, path) of every regular file below ``folder``, sorted by key."""
    try:
        if not folder.is_dir():
            raise StoreError(f"cannot store {folder}: not a folder")
    except OSError as exc:
        raise StoreError(f"cannot store {folder}: {exc}") from exc
    found: list[tuple[str, Path]] = []
    pending: list[tuple[Path, str]] = [(folder, "")]
    while pending:
        current, prefix = pending.pop()
        with os.scandir(current) as listing:
            for entry in listing:
                relative = f"{prefix}{entry.name}"
                if entry.is_symlink():
                    raise UnsafePathError(f"cannot store {folder}: {relative!r} is a symbolic link")
                if entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), relative + "/"))
                elif entry.is_file(follow_symlinks=False):
                    try:
                        validate_key(relative)
                    except UnsafePathError as exc:
                        raise UnsafePathError(f"cannot store {folder}: {exc}") from exc
                    found.append((relative, Path(entry.path)))
                else:
                    raise StoreError(f"cannot store {folder}: {relative!r} is not a regular file")
    found.sort(key=lambda item: item[0])
    return found


def _hash_file(path: Path) -> tuple[int, str]:
    with _open_input(path) as source:
        return copy_hashing(source, cast(BinaryIO, _Discard()))


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "headrace" / "artifacts"


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class ArtifactStore:
    """Content-addressed folders of files over a bytes-level backend.

    An object is the set of files a materializer wrote into a folder. Its identity is the
    SHA-256 of a canonical manifest listing each file's relative posix path, size and
    SHA-256; identical folders are stored once. Writes are atomic: files go to a temp
    key first and are renamed; the manifest is written last and an object exists only
    when its manifest does. Reads verify every file against the manifest and raise
    ArtifactCorruptedError on any mismatch (missing, truncated, flipped byte).
    Every key is validated and resolved inside the root (UnsafePathError otherwise).
    """

    root_uri: str

    def __init__(
        self, backend: ByteBackend, *, cache_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self._backend = backend
        self.root_uri = backend.root_uri
        self._cache_dir = Path(cache_dir).expanduser() if cache_dir else None

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root_uri!r})"

    @property
    def backend(self) -> ByteBackend:
        return self._backend

    @staticmethod
    def _prefix(content_hash: str) -> str:
        return f"{_OBJECTS}/{content_hash[:2]}/{content_hash}"

    def _manifest_key(self, content_hash: str) -> str:
        return self._prefix(content_hash) + MANIFEST_SUFFIX

    # -- writing -----------------------------------------------------------------

    def put_dir(self, folder: Path) -> StoredObject:
        """Store the files below ``folder`` (nested folders allowed) and return the object.

        Symbolic links and special files in ``folder`` are refused, not followed. The
        folder is copied, not moved; the caller may delete it afterwards. Storing
        content that is already complete writes nothing but a fresh manifest, which
        restarts the object's gc grace period.
        """
        folder = Path(folder)
        try:
            files = _scan_folder(folder)
            entries = [_Entry(rel, *_hash_file(path)) for rel, path in files]
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read {folder} to store it: {exc}") from exc
        manifest = _canonical_manifest(entries)
        content_hash = hashlib.sha256(manifest).hexdigest()
        prefix = self._prefix(content_hash)
        stored = StoredObject(
            hash=content_hash,
            uri=self._backend.uri(prefix),
            size=sum(e.size for e in entries),
            files=len(entries),
        )
        try:
            if not self.has(content_hash):
                for entry, (_, path) in zip(entries, files, strict=True):
                    with _open_input(path) as source:
                        written = self._backend.write_atomic(f"{prefix}/{entry.path}", source)
                    if written != (entry.size, entry.sha256):
                        raise StoreError(
                            f"cannot store {folder}: {entry.path!r} changed while it was stored"
                        )
                local = self._backend.local_path(prefix)
                if local is not None and not entries:
                    local.mkdir(parents=True, exist_ok=True)
            self._backend.write_atomic(self._manifest_key(content_hash), io.BytesIO(manifest))
        except StoreError:
            raise
        except OSError as exc:
            if exc.errno in _FULL_ERRNOS:
                raise StoreError(
                    f"the artifact store is full (no space left) at {self.root_uri} while "
                    f"storing {folder}; free space or run `headrace gc`: {exc}"
                ) from exc
            if exc.errno in _READ_ONLY_ERRNOS:
                raise StoreError(
                    f"the artifact store is read-only (or not writable by this user) at "
                    f"{self.root_uri} while storing {folder}: {exc}"
                ) from exc
            raise StoreError(f"cannot store {folder} in {self.root_uri}: {exc}") from exc
        return stored

    # -- reading -----------------------------------------------------------------

    def _read_manifest(self, content_hash: str) -> tuple[_Entry, ...]:
        try:
            with self._backend.open_read(self._manifest_key(content_hash)) as source:
                data = source.read(_MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            raise ArtifactNotFoundError(
                f"artifact {content_hash} is not in the store {self.root_uri}"
            ) from None
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise ArtifactCorruptedError(
                f"artifact {content_hash}: manifest is not a file ({exc})"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot read artifact {content_hash}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != content_hash:
            raise ArtifactCorruptedError(
                f"artifact {content_hash}: manifest does not match the content hash"
            )
        return _parse_manifest(content_hash, data)

    def _listing_problem(
        self, content_hash: str, entries: tuple[_Entry, ...], *, extra_files: bool
    ) -> str | None:
        prefix = self._prefix(content_hash) + "/"
        present: dict[str, BackendEntry] = {
            e.key[len(prefix) :]: e
            for e in self._backend.list_files(self._prefix(content_hash))
            if e.key.startswith(prefix)
        }
        for entry in entries:
            found = present.get(entry.path)
            if found is None:
                return f"file {entry.path!r} is missing"
            if found.is_link:
                raise UnsafePathError(
                    f"artifact {content_hash}: file {entry.path!r} is a symbolic link"
                )
            if found.size != entry.size:
                return f"file {entry.path!r} has {found.size} bytes, expected {entry.size}"
        if extra_files:
            unexpected = sorted(set(present) - {e.path for e in entries})
            if unexpected:
                return f"unexpected file {unexpected[0]!r} in the object"
        return None

    def has(self, content_hash: str) -> bool:
        """Manifest and every listed file exist (no hashing)."""
        content_hash = validate_hash(content_hash)
        try:
            entries = self._read_manifest(content_hash)
            return self._listing_problem(content_hash, entries, extra_files=False) is None
        except (ArtifactNotFoundError, ArtifactCorruptedError, UnsafePathError):
            # Unsafe content (a planted link or manifest) is as good as no content.
            return False
        except OSError as exc:
            raise StoreError(f"cannot check artifact {content_hash}: {exc}") from exc

    def has_many(self, content_hashes: Iterable[str]) -> dict[str, bool]:
        """:meth:`has` for many objects (a large map's cache hits). On a local folder it
        reads each manifest and lists each object folder directly, once; elsewhere it
        asks :meth:`has` for each."""
        wanted = {validate_hash(h) for h in content_hashes}
        if not isinstance(self._backend, LocalBackend):
            return {h: self.has(h) for h in wanted}
        objects = Path(os.path.realpath(self._backend.root / _OBJECTS))
        if not objects.is_relative_to(self._backend.root):
            return dict.fromkeys(wanted, False)  # a planted link: nothing here counts
        return {h: self._local_has(objects, h) for h in wanted}

    def _local_has(self, objects: Path, content_hash: str) -> bool:
        folder = objects / content_hash[:2] / content_hash
        try:
            fd = os.open(
                folder.parent / (content_hash + MANIFEST_SUFFIX),
                os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
            )
            with os.fdopen(fd, "rb") as source:
                data = source.read(_MAX_MANIFEST_BYTES + 1)
            if hashlib.sha256(data).hexdigest() != content_hash:
                return False
            entries = _parse_manifest(content_hash, data)
            sizes: dict[str, int] = {}
            stack = [(folder, "")]
            while stack:
                current, prefix = stack.pop()
                with os.scandir(current) as listing:
                    for item in listing:
                        if item.is_symlink():
                            return False
                        if item.is_dir(follow_symlinks=False):
                            stack.append((Path(item.path), f"{prefix}{item.name}/"))
                        else:
                            sizes[prefix + item.name] = item.stat(follow_symlinks=False).st_size
        except (OSError, ArtifactCorruptedError, UnsafePathError):
            return False
        return all(sizes.get(entry.path) == entry.size for entry in entries)

    def _verify_stream(
        self, content_hash: str, entry: _Entry, source: BinaryIO, target: BinaryIO
    ) -> None:
        size, digest = copy_hashing(source, target)
        if size != entry.size:
            raise ArtifactCorruptedError(
                f"artifact {content_hash}: file {entry.path!r} has {size} bytes, "
                f"expected {entry.size}"
            )
        if digest != entry.sha256:
            raise ArtifactCorruptedError(
                f"artifact {content_hash}: file {entry.path!r} has sha256 {digest}, "
                f"expected {entry.sha256}"
            )

    def fetch(self, content_hash: str, *, verify: bool = True) -> Path:
        """A local folder holding the object's files (the object folder itself for the
        local backend, a verified cache copy for remote ones)."""
        content_hash = validate_hash(content_hash)
        try:
            local = self._backend.local_path(self._prefix(content_hash))
            if local is None:
                return self._fetch_remote(content_hash, verify=verify)
            entries = self._read_manifest(content_hash)
            problem = self._listing_problem(content_hash, entries, extra_files=True)
            if problem:
                raise ArtifactCorruptedError(f"artifact {content_hash}: {problem}")
            prefix = self._prefix(content_hash)
            for entry in entries:
                self._backend.local_path(f"{prefix}/{entry.path}")  # refuses escaping links
                if verify:
                    with self._backend.open_read(f"{prefix}/{entry.path}") as source:
                        self._verify_stream(content_hash, entry, source, cast(BinaryIO, _Discard()))
            if not entries:
                local.mkdir(parents=True, exist_ok=True)
            return local
        except StoreError:
            raise
        except FileNotFoundError as exc:
            raise ArtifactCorruptedError(
                f"artifact {content_hash}: a file disappeared while reading ({exc})"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot read artifact {content_hash}: {exc}") from exc

    # -- remote backends: a verified local cache ------------------------------------

    def _cache_root(self) -> Path:
        if self._cache_dir is None:
            self._cache_dir = _default_cache_dir()
        return _private_dir(self._cache_dir)

    @staticmethod
    def _cache_paths(root: Path, content_hash: str) -> tuple[Path, Path]:
        folder = root / _OBJECTS / content_hash[:2] / content_hash
        return folder, folder.parent / (content_hash + MANIFEST_SUFFIX)

    def _copy_ok(
        self, content_hash: str, folder: Path, entries: tuple[_Entry, ...], verify: bool
    ) -> bool:
        """Whether the local ``folder`` holds exactly ``entries`` (hashed if ``verify``)."""
        if folder.is_symlink() or not folder.is_dir():
            return False
        on_disk: set[str] = set()
        for current, dirs, names in os.walk(folder):
            base = Path(current).relative_to(folder)
            links = [d for d in dirs if Path(current, d).is_symlink()]
            on_disk.update((base / name).as_posix() for name in [*names, *links])
        if on_disk != {e.path for e in entries}:
            return False
        for entry in entries:
            path = folder / entry.path
            if path.is_symlink() or path.stat().st_size != entry.size:
                return False
            if verify:
                with _open_input(path) as source:
                    self._verify_stream(content_hash, entry, source, cast(BinaryIO, _Discard()))
        return True

    def _cached(self, root: Path, content_hash: str, *, verify: bool) -> Path | None:
        folder, marker = self._cache_paths(root, content_hash)
        try:
            data = marker.read_bytes()
        except FileNotFoundError:
            return None
        try:
            if hashlib.sha256(data).hexdigest() != content_hash:
                raise ArtifactCorruptedError(f"cached manifest of {content_hash} was altered")
            if self._copy_ok(content_hash, folder, _parse_manifest(content_hash, data), verify):
                return folder
        except (OSError, StoreError):
            pass
        self._evict(root, folder, marker)  # a damaged cache copy is fetched again
        return None

    @staticmethod
    def _evict(root: Path, folder: Path, marker: Path) -> None:
        marker.unlink(missing_ok=True)
        if folder.is_symlink() or folder.is_file():
            folder.unlink()
        elif folder.exists():
            aside = _private_dir(root / TMP_PREFIX) / uuid.uuid4().hex
            try:
                folder.rename(aside)
            except FileNotFoundError:
                return
            shutil.rmtree(aside, ignore_errors=True)

    def _fetch_remote(self, content_hash: str, *, verify: bool) -> Path:
        root = self._cache_root()
        cached = self._cached(root, content_hash, verify=verify)
        if cached is not None:
            return cached
        entries = self._read_manifest(content_hash)
        problem = self._listing_problem(content_hash, entries, extra_files=verify)
        if problem:
            raise ArtifactCorruptedError(f"artifact {content_hash}: {problem}")
        staging = _private_dir(root / TMP_PREFIX) / uuid.uuid4().hex
        staging.mkdir(mode=0o700)
        try:
            data = staging / "data"
            data.mkdir()
            prefix = self._prefix(content_hash)
            for entry in entries:
                target = data / validate_key(entry.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                with (
                    self._backend.open_read(f"{prefix}/{entry.path}") as source,
                    open(target, "xb") as out,
                ):
                    # Downloads are always hashed: the bytes crossed a network.
                    self._verify_stream(content_hash, entry, source, cast(BinaryIO, out))
            (staging / "manifest").write_bytes(_canonical_manifest(entries))
            folder, marker = self._cache_paths(root, content_hash)
            folder.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(2):
                try:
                    data.rename(folder)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR) or attempt:
                        raise
                    # A concurrent fetch may have renamed the same content in first.
                    if self._copy_ok(content_hash, folder, entries, verify=False):
                        break
                    self._evict(root, folder, marker)
            os.replace(staging / "manifest", marker)
            return folder
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- step logs -----------------------------------------------------------------
    # A step's output is kept as numbered chunks beside the objects, written as the step
    # runs: each chunk is one atomic write, so a reader (``runs logs --follow``) and a
    # crash see whole chunks only. gc never touches them (they are not objects).

    @staticmethod
    def _log_prefix(run_id: str, step_run_id: str) -> str:
        return f"{_LOGS}/{validate_key(run_id)}/{validate_key(step_run_id)}"

    def write_log_chunk(self, run_id: str, step_run_id: str, seq: int, data: bytes) -> None:
        key = f"{self._log_prefix(run_id, step_run_id)}/{seq:08d}.log"
        try:
            self._backend.write_atomic(key, io.BytesIO(data))
        except OSError as exc:
            raise StoreError(f"cannot write the log of step run {step_run_id}: {exc}") from exc

    def read_log(
        self, run_id: str, step_run_id: str, *, after: int = -1
    ) -> list[tuple[int, bytes]]:
        """The log chunks of a step run numbered above ``after``, in order."""
        prefix = self._log_prefix(run_id, step_run_id)
        try:
            entries = self._backend.list_files(prefix)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot list the log of step run {step_run_id}: {exc}") from exc
        chunks: list[tuple[int, bytes]] = []
        for entry in entries:
            name = entry.key.rsplit("/", 1)[-1]
            if not (name.endswith(".log") and name[:-4].isdigit()):
                continue
            seq = int(name[:-4])
            if seq <= after:
                continue
            with self._backend.open_read(entry.key) as handle:
                chunks.append((seq, handle.read()))
        return sorted(chunks)

    # -- garbage collection --------------------------------------------------------

    def _object_groups(self) -> dict[str, list[BackendEntry]]:
        groups: dict[str, list[BackendEntry]] = {}
        for entry in self._backend.list_files(_OBJECTS):
            parts = entry.key.split("/")
            if len(parts) < 3:
                continue
            name = parts[2].removesuffix(MANIFEST_SUFFIX) if len(parts) == 3 else parts[2]
            if not _HASH.fullmatch(name) or parts[1] != name[:2]:
                continue  # not laid out by this store: leave it alone
            groups.setdefault(name, []).append(entry)
        return groups

    def gc(
        self, referenced: set[str], *, dry_run: bool = True, grace_seconds: float = 3600
    ) -> GcReport:
        """Find (and unless ``dry_run``, delete) garbage older than ``grace_seconds``.

        Garbage is leftover temp writes and every object, complete or partial, whose
        hash is not in ``referenced``. Objects and temp entries written or re-stored
        within the grace period are kept even when unreferenced, so a put_dir whose
        hash is not recorded yet is safe from a concurrent gc. ``bytes_freed`` is what
        was (or, in a dry run, would be) freed.
        """
        now = time.time()

        def stale(items: Iterable[BackendEntry]) -> bool:
            times = [e.mtime for e in items if e.mtime is not None]
            return not times or now - max(times) >= grace_seconds

        try:
            temp: dict[str, list[BackendEntry]] = {}
            for entry in self._backend.list_files(TMP_PREFIX):
                top = "/".join(entry.key.split("/")[:2])
                temp.setdefault(top, []).append(entry)
            temporary = sorted(k for k, items in temp.items() if stale(items))
            groups = self._object_groups()
            unreferenced = sorted(
                h for h, items in groups.items() if h not in referenced and stale(items)
            )
            freed = sum(e.size for k in temporary for e in temp[k])
            freed += sum(e.size for h in unreferenced for e in groups[h])
            if not dry_run:
                for key in temporary:
                    self._backend.delete(key)
                for content_hash in list(unreferenced):
                    manifest = self._manifest_key(content_hash)
                    if not stale(self._backend.list_files(manifest)):
                        unreferenced.remove(content_hash)  # stored again since we listed
                        freed -= sum(e.size for e in groups[content_hash])
                        continue
                    # Manifest first: the object stops existing before its files go.
                    self._backend.delete(manifest)
                    self._backend.delete(self._prefix(content_hash))
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"garbage collection of {self.root_uri} failed: {exc}") from exc
        return GcReport(
            temporary=temporary, unreferenced=unreferenced, bytes_freed=freed, dry_run=dry_run
        )


def local_root(uri: str) -> Path | None:
    """The folder of a plain path or ``file:`` URI; None for any other scheme."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import url2pathname

    if "://" not in uri and not uri.startswith("file:"):
        return Path(uri)
    parts = urlsplit(uri)
    if parts.scheme.lower() != "file":
        return None
    if parts.netloc not in ("", "localhost"):
        raise UnsafePathError(f"artifact store URI {uri!r} names a remote host")
    if parts.query or parts.fragment:
        raise UnsafePathError(f"artifact store URI {uri!r} has a query or fragment")
    return Path(url2pathname(unquote(parts.path)))


def artifact_flavor(uri: str) -> str:
    """The ``artifacts`` flavor a location selects: ``file`` for a folder or ``file:``
    URI, the URI's scheme if a flavor is registered for it, else ``fsspec``."""
    from headrace import flavors

    if local_root(uri) is not None:
        return "file"
    scheme = flavors.scheme_of(uri)
    return scheme if f"artifacts.{scheme}" in flavors.registered() else "fsspec"


def open_artifact_store(
    uri: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ArtifactStore:
    """The content-addressed store over the byte backend the URI's scheme selects: the
    ``artifacts.<scheme>`` flavor (``file`` for a plain path), else ``artifacts.fsspec``.
    ``storage_options`` are the flavor's options."""
    from headrace import flavors

    if not isinstance(uri, str) or not uri.strip() or "\x00" in uri:
        raise UnsafePathError(f"invalid artifact store location {uri!r}")
    backend = flavors.create("artifacts", artifact_flavor(uri), dict(storage_options or {}), uri)
    return ArtifactStore(backend, cache_dir=cache_dir)
