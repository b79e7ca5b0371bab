"""``numpy``: arrays and numpy scalars as ``.npy`` files, never pickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headrace.errors import MaterializerError
from headrace.materializers._imports import import_qualified, require

FILE = "array.npy"


def _np() -> Any:
    return require("numpy", package="numpy", extra="ml", purpose="numpy arrays")


class NumpyMaterializer:
    """Writes ``array.npy`` with ``allow_pickle=False``.

    Loading returns an ``ndarray`` (subclasses such as ``np.matrix`` come back as plain
    arrays); files over :attr:`mmap_threshold` bytes are memory-mapped read-only
    (``np.memmap``), so a large input costs no memory until it is read. A value saved from
    a numpy scalar (``np.float64(1.5)``) loads as that scalar. Arrays of Python objects
    are refused: storing them needs pickle.
    """

    name: ClassVar[str] = "numpy"
    mmap_threshold: ClassVar[int] = 16 * 1024 * 1024

    def unsupported_reason(self, obj: Any) -> str | None:
        names = {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}
        if "numpy.ma.MaskedArray" in names or "numpy.ma.core.MaskedArray" in names:
            return "the value is a masked array, whose mask a .npy file would lose"
        dtype = getattr(obj, "dtype", None)
        if dtype is not None and getattr(dtype, "hasobject", False):
            return (
                "the value is an array of Python objects (dtype object), which .npy stores only by "
                "pickling; opt into pickle with allow_pickle=True (unpickling runs code, "
                "so only for data you trust) or convert it to a numeric or string dtype"
            )
        return None

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        np = _np()
        reason = self.unsupported_reason(obj)
        if reason:
            raise MaterializerError(reason)
        array = np.asarray(obj)
        with (folder / FILE).open("wb") as f:
            np.lib.format.write_array(f, array, allow_pickle=False)
        return _describe(np, array)

    def load(self, folder: Path, type_name: str) -> Any:
        np = _np()
        path = folder / FILE
        size = path.stat().st_size
        with path.open("rb") as f:
            shape = _check_header(np, f, size, path)
        if size > self.mmap_threshold and shape != ():
            array = np.lib.format.open_memmap(path, mode="r")
        else:
            with path.open("rb") as f:
                array = np.lib.format.read_array(f, allow_pickle=False)
        if array.ndim == 0 and _is_numpy_scalar_type(np, type_name):
            return array[()]
        return array


def _check_header(np: Any, f: Any, size: int, path: Path) -> tuple[int, ...] | None:
    """The shape in the header, after checking that the file holds that much data, so
    a damaged header cannot make the loader allocate more than the file size."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:  # a UTF-8 header (3.0): read_array validates it
        return None
    if dtype.hasobject:
        raise MaterializerError(f"{path} holds Python objects; refusing to unpickle them")
    count = 1
    for n in shape:
        count *= n
    expected = f.tell() + count * dtype.itemsize
    if size < expected:
        raise MaterializerError(
            f"{path} is truncated: {size} bytes, its header promises {expected}"
        )
    return tuple(shape)


def _is_numpy_scalar_type(np: Any, type_name: str) -> bool:
    if not type_name.startswith("numpy.") or type_name == "numpy.ndarray":
        return False
    try:
        cls = import_qualified(type_name)
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, np.generic)


def _describe(np: Any, array: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "size": int(array.size),
        "nbytes": int(array.nbytes),
    }
    if array.size == 0 or array.dtype.kind not in "iuf":
        return metadata
    with np.errstate(all="ignore"):
        if array.dtype.kind == "f":
            nan_count = int(np.count_nonzero(np.isnan(array)))
            metadata["nan_count"] = nan_count
            if nan_count == array.size:
                return metadata
            metadata["min"] = np.fmin.reduce(array, axis=None)
            metadata["max"] = np.fmax.reduce(array, axis=None)
            mean = (
                np.nanmean(array, dtype=np.float64) if nan_count else array.mean(dtype=np.float64)
            )
        else:
            metadata["min"] = array.min()
            metadata["max"] = array.max()
            mean = array.mean(dtype=np.float64)
        metadata["mean"] = float(mean)
    return metadata
