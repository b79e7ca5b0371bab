"""Byte-level backends under the artifact store, and the one validator for their keys.

A backend stores opaque bytes under *keys*: relative POSIX paths such as
``objects/ab/abcd…/data.npy``. Only :class:`~headrace.store.artifacts.ArtifactStore`
builds keys, and every backend method passes each key through :func:`validate_key`
before touching anything, so a name that came from a manifest, a URI or a user can
never reach the filesystem unchecked. :class:`LocalBackend` additionally resolves the
real path (symlinks followed) and refuses anything outside its root.

Two implementations ship: :class:`LocalBackend` (a folder, the default) and
:class:`FsspecBackend` (any fsspec URL: ``s3://``, ``gs://``, ``memory://``, ``file://``).
``fsspec`` is imported only when an :class:`FsspecBackend` is created.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast, runtime_checkable

from headrace.errors import StoreError, UnsafePathError

__all__ = [
    "BackendEntry",
    "ByteBackend",
    "FsspecBackend",
    "LocalBackend",
    "validate_key",
]

TMP_PREFIX = "tmp"
_CHUNK = 1 << 20
_MAX_KEY_CHARS = 2048
_MAX_SEGMENT_BYTES = 255
# Separators and wildcards of other systems, URL syntax (fragment, query, path
# parameters, scheme and drive colons) and characters Windows refuses in names.
# ``*?[]`` matter beyond Windows: fsspec expands them as globs in rm/find.
_FORBIDDEN_CHARS = frozenset('\\#?;:*[]<>|"')
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Control, surrogate, bidi/zero-width format and line/paragraph separator characters.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Zl", "Zp"})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def _short(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _key_problem(key: str) -> str | None:
    if not key:
        return "empty"
    if len(key) > _MAX_KEY_CHARS:
        return f"longer than {_MAX_KEY_CHARS} characters"
    for char in key:
        if char in _FORBIDDEN_CHARS:
            return f"contains {char!r}"
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return f"contains the control or format character U+{ord(char):04X}"
    if _PERCENT_ESCAPE.search(key):
        return "contains a percent-encoded character"
    if key.startswith("/"):
        return "is absolute"
    for segment in key.split("/"):
        if not segment:
            return "has an empty path segment"
        if segment.strip(". ") == "":
            return f"has the segment {segment!r}"
        if segment[-1] in ". ":
            return "has a segment ending in a dot or space"
        if len(segment.encode("utf-8")) > _MAX_SEGMENT_BYTES:
            return f"has a segment longer than {_MAX_SEGMENT_BYTES} bytes"
    return None


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe relative POSIX key, else raise UnsafePathError.

    Refused: non-strings, empty keys, absolute paths, ``.``/``..`` and empty segments,
    segments that Windows would trim to one of those, backslashes, drive and scheme
    colons, ``#``/``?``/``;``, glob characters, percent-encoded characters (any
    decoding depth), control/format characters and lone surrogates. The same rules
    are applied to the NFKC form, so a look-alike (fullwidth dot or slash) cannot turn
    into a traversal in a layer that normalizes names.
    """
    if not isinstance(key, str):
        raise UnsafePathError(f"unsafe key {key!r}: not a string")
    problem = _key_problem(key)
    if problem is None:
        normalized = unicodedata.normalize("NFKC", key)
        if normalized != key:
            inner = _key_problem(normalized)
            if inner is not None:
                problem = f"normalizes (NFKC) to a key that {inner}"
    if problem is not None:
        raise UnsafePathError(f"unsafe key {_short(key)}: {problem}")
    return key


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """One stored file found by :meth:`ByteBackend.list_files`."""

    key: str
    size: int
    mtime: float | None  # seconds since the epoch; None when the backend cannot tell
    is_link: bool = False


@runtime_checkable
class ByteBackend(Protocol):
    """Where an artifact store keeps its bytes. Keys are validated by every method."""

    root_uri: str

    def uri(self, key: str) -> str:
        """The URI of ``key`` (no I/O)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The local path of ``key`` if the bytes live on a local filesystem, else None."""
        ...

    def exists(self, key: str) -> bool: ...

    def open_read(self, key: str) -> BinaryIO:
        """A binary stream of ``key``; FileNotFoundError when it does not exist."""
        ...

    def write_atomic(self, key: str, source: BinaryIO) -> tuple[int, str]:
        """Store everything ``source`` yields under ``key``, all or nothing.

        Returns the size and SHA-256 hex digest of the bytes written.
        """
        ...

    def list_files(self, prefix: str) -> list[BackendEntry]:
        """Every file below ``prefix`` (recursively); empty if there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (a file, or a folder and all below it); no error if missing."""
        ...


def copy_hashing(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
    """Stream ``source`` into ``target`` in chunks; the byte count and SHA-256 hex."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # platforms that cannot open a directory (Windows)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


class LocalBackend:
    """Bytes in a local folder; writes go through ``<root>/tmp`` and ``os.replace``.

    Files are fsynced before their rename and their folder after it, so once the
    artifact store writes a manifest every file it lists is on disk. ``fsync=False``
    skips that for throwaway stores. Stored files are made read-only.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        given = Path(root).expanduser()
        given.mkdir(parents=True, exist_ok=True)
        self._root = given.resolve(strict=True)
        self._fsync = fsync
        self._ensure_tmp()
        self.root_uri = self._root.as_uri()

    @classmethod
    def from_uri(cls, uri: str, *, fsync: bool = True) -> LocalBackend:
        """The ``artifacts.file`` flavor: a folder path or ``file://`` URI."""
        from headrace.store.artifacts import local_root

        root = local_root(uri)
        if root is None:
            raise UnsafePathError(f"{uri!r} is not a local folder or file:// URI")
        try:
            return cls(root.absolute(), fsync=fsync)
        except OSError as exc:
            raise StoreError(f"cannot open the artifact store at {root}: {exc}") from exc

    def _ensure_tmp(self) -> None:
        tmp = self._root / TMP_PREFIX
        if tmp.is_symlink() or (tmp.exists() and not tmp.is_dir()):
            raise UnsafePathError(f"{tmp} is not a folder of this store")
        tmp.mkdir(mode=0o700, exist_ok=True)
        os.chmod(tmp, 0o700)

    @property
    def root(self) -> Path:
        return self._root

    def __repr__(self) -> str:
        return f"LocalBackend({str(self._root)!r})"

    def _path(self, key: str, *, follow_final: bool = True) -> Path:
        path = self._root / validate_key(key)
        probe = path if follow_final else path.parent
        real = Path(os.path.realpath(probe))
        if real != self._root and not real.is_relative_to(self._root):
            raise UnsafePathError(f"key {_short(key)} resolves outside the store root {self._root}")
        if follow_final and real == self._root:
            raise UnsafePathError(f"key {_short(key)} resolves to the store root itself")
        return path

    def uri(self, key: str) -> str:
        return (self._root / validate_key(key)).as_uri()

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _BINARY)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectoryError(errno.EISDIR, "not a regular file", str(path))
            return cast(BinaryIO, os.fdopen(fd, "rb"))
        except BaseException:
            os.close(fd)
            raise

    def _makedirs(self, folder: Path) -> None:
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue
            if self._fsync:
                _fsync_dir(path.parent)

    def _create_tmp(self) -> tuple[Path, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
        tmp = self._path(f"{TMP_PREFIX}/{uuid.uuid4().hex}")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileNotFoundError:  # someone removed tmp/: recreate it once
            self._ensure_tmp()
            tmp = self._path(f"{TMP_PREFIX}/{uuid.uuid4().hex}")
            return tmp, os.open(tmp, flags, 0o666)

    def write_atomic(self, key: str, source: BinaryIO) -> tuple[int, str]:
        # The final component may be a planted link: os.replace swaps the link itself,
        # never its target, so only the folders on the way must resolve inside.
        target = self._path(key, follow_final=False)
        tmp, fd = self._create_tmp()
        try:
            with os.fdopen(fd, "wb") as out:
                result = copy_hashing(source, cast(BinaryIO, out))
                out.flush()
                if self._fsync:
                    os.fsync(out.fileno())
            os.chmod(tmp, stat.S_IMODE(os.stat(tmp).st_mode) & ~0o222)
            self._makedirs(target.parent)
            # Re-check after creating folders: a link planted meanwhile must not be followed.
            self._path(key, follow_final=False)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self._fsync:
            _fsync_dir(target.parent)
        return result

    def list_files(self, prefix: str) -> list[BackendEntry]:
        top = self._path(prefix)
        found: list[BackendEntry] = []
        pending = [(top, validate_key(prefix))]
        while pending:
            folder, folder_key = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                if folder == top and top.is_file() and not top.is_symlink():
                    info = top.stat()
                    found.append(BackendEntry(folder_key, info.st_size, info.st_mtime))
                continue
            for entry in entries:
                key = f"{folder_key}/{entry.name}"
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((Path(entry.path), key))
                        continue
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while we looked
                    continue
                found.append(
                    BackendEntry(key, info.st_size, info.st_mtime, is_link=entry.is_symlink())
                )
        return found

    def delete(self, key: str) -> None:
        path = self._path(key, follow_final=False)
        try:
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                shutil.rmtree(path)
        except FileNotFoundError:
            pass


def _info_mtime(info: Mapping[str, Any]) -> float | None:
    for name in ("mtime", "created", "LastModified", "last_modified", "updated", "modified"):
        value = info.get(name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


class FsspecBackend:
    """Bytes behind any fsspec URL (``s3://bucket/prefix``, ``gs://…``, ``memory://…``).

    Where the filesystem renames cheaply and atomically (local, memory) a write goes to
    ``tmp/<uuid>`` and is moved into place; on object stores a single PUT is already
    atomic per key, so the key is written directly. Either way the artifact store writes
    its manifest last, which keeps partial objects invisible.
    """

    _RENAMING_PROTOCOLS = frozenset({"file", "local", "memory"})

    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        atomic_rename: bool | None = None,
    ) -> None:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        fs, root = url_to_fs(url, **dict(storage_options or {}))
        self._fs: Any = fs
        self._root = str(root).rstrip("/")
        if not self._root:
            raise UnsafePathError(f"artifact store URL {url!r} has no root folder")
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        if atomic_rename is None:
            atomic_rename = any(p in self._RENAMING_PROTOCOLS for p in protocols)
        self._rename = atomic_rename
        self._real_root: str | None = None
        if isinstance(fs, LocalFileSystem):
            os.makedirs(self._root, exist_ok=True)
            self._real_root = os.path.realpath(self._root)
        self.root_uri: str = str(fs.unstrip_protocol(self._root))

    @classmethod
    def from_uri(
        cls, uri: str, *, atomic_rename: bool | None = None, **storage_options: Any
    ) -> FsspecBackend:
        """The ``artifacts.fsspec`` flavor: any fsspec URL; options are the filesystem's
        ``storage_options`` (``endpoint_url``, ``key``, ...)."""
        try:
            return cls(uri, storage_options=storage_options, atomic_rename=atomic_rename)
        except ImportError as exc:
            raise StoreError(f"cannot open the artifact store {uri!r}: {exc}") from exc
        except (ValueError, OSError, TypeError) as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open the artifact store {uri!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"FsspecBackend({self.root_uri!r})"

    def _path(self, key: str, *, follow_final: bool = True) -> str:
        path = f"{self._root}/{validate_key(key)}"
        if self._real_root is not None:
            real = os.path.realpath(path if follow_final else path.rsplit("/", 1)[0])
            if real == self._real_root and not follow_final:
                return path
            if not real.startswith(self._real_root + os.sep):
                raise UnsafePathError(
                    f"key {_short(key)} resolves outside the store root {self._real_root}"
                )
        return path

    def uri(self, key: str) -> str:
        return f"{self.root_uri}/{validate_key(key)}"

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def exists(self, key: str) -> bool:
        return bool(self._fs.exists(self._path(key)))

    def open_read(self, key: str) -> BinaryIO:
        return cast(BinaryIO, self._fs.open(self._path(key), "rb"))

    def _upload(self, path: str, source: BinaryIO) -> tuple[int, str]:
        with self._fs.open(path, "wb") as out:
            return copy_hashing(source, out)

    def write_atomic(self, key: str, source: BinaryIO) -> tuple[int, str]:
        target = self._path(key)
        if not self._rename:
            self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            return self._upload(target, source)
        tmp = self._path(f"{TMP_PREFIX}/{uuid.uuid4().hex}")
        try:
            self._fs.makedirs(tmp.rsplit("/", 1)[0], exist_ok=True)
            result = self._upload(tmp, source)
            self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self._path(key)
            self._fs.mv(tmp, target)
        except BaseException:
            try:
                if self._fs.exists(tmp):
                    self._fs.rm(tmp)
            except Exception:  # the original error matters more than the cleanup's
                pass
            raise
        return result

    def list_files(self, prefix: str) -> list[BackendEntry]:
        base = self._path(prefix)
        try:
            found: Mapping[str, Mapping[str, Any]] = self._fs.find(base, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        start = self._root + "/"
        entries: list[BackendEntry] = []
        for name, info in found.items():
            if info.get("type") == "directory":
                continue
            path = str(self._fs._strip_protocol(name))
            if not path.startswith(start):
                continue
            entries.append(
                BackendEntry(
                    key=path[len(start) :],
                    size=int(info.get("size") or 0),
                    mtime=_info_mtime(info),
                    is_link=bool(info.get("islink", False)),
                )
            )
        return entries

    def delete(self, key: str) -> None:
        path = self._path(key, follow_final=False)
        try:
            if self._real_root is not None and os.path.islink(path):
                os.unlink(path)  # the link, never what it points to
            elif self._fs.exists(path):
                self._fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
