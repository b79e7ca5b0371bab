"""Write a loaded artifact to a file a person can open, or copy its stored files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from headrace.client import ArtifactVersion

TABLE_SUFFIXES = (".csv", ".parquet")


def export(artifact: ArtifactVersion, target: Path) -> str:
    """Write ``artifact`` to ``target`` and say in what form."""
    if artifact.materializer == "pickle":
        # Loading would unpickle, which runs code: hand over the stored file instead.
        return _copy_files(artifact, target)
    value = artifact.load()
    if isinstance(value, bytes | bytearray | memoryview):
        with _replacing(target) as temp:
            temp.write_bytes(bytes(value))
        return "bytes"
    if isinstance(value, str):
        with _replacing(target) as temp:
            temp.write_text(value, encoding="utf-8")
        return "text"
    table = _table_writer(value, target)
    if table is not None:
        with _replacing(target) as temp:
            table(temp)
        return f"{target.suffix[1:]} table"
    if _is_numpy(value):
        import numpy as np

        with _replacing(target) as temp, open(temp, "wb") as handle:
            np.save(handle, value, allow_pickle=False)
        return "numpy .npy"
    try:
        text = json.dumps(value, indent=2, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return _copy_files(artifact, target)
    with _replacing(target) as temp:
        temp.write_text(text + "\n", encoding="utf-8")
    return "JSON"


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "dtype")


def _table_writer(value: Any, target: Path) -> Any:
    """A function writing a data frame or table to a path, by the suffix of ``target``;
    None when ``value`` is not tabular."""
    module = type(value).__module__.split(".")[0]
    if module not in ("pandas", "polars", "pyarrow"):
        return None
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise click.UsageError(
            f"{type(value).__name__} is written as CSV or Parquet: give --out a .csv or .parquet name"
        )
    if module == "pandas":
        keep_index = type(value.index).__name__ != "RangeIndex"
        if suffix == ".csv":
            return lambda path: value.to_csv(path, index=keep_index)
        frame = value.to_frame() if value.ndim == 1 else value
        return lambda path: frame.to_parquet(path)
    if module == "polars":
        return value.write_csv if suffix == ".csv" else value.write_parquet
    if suffix == ".csv":
        import pyarrow.csv

        return lambda path: pyarrow.csv.write_csv(value, path)
    import pyarrow.parquet

    return lambda path: pyarrow.parquet.write_table(value, path)


def _copy_files(artifact: ArtifactVersion, target: Path) -> str:
    # The client's own artifact store (and its cache folder), verified against the hash.
    source = artifact.client.stores.artifacts.fetch(artifact.hash)
    with _replacing(target, folder=True) as temp:
        count = 0
        for path in sorted(source.rglob("*")):
            if path.is_file():
                destination = temp / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)  # not copy2: stored files are read-only
                count += 1
    return f"folder of {count} stored file{'s' if count != 1 else ''}"


@contextlib.contextmanager
def _replacing(target: Path, *, folder: bool = False) -> Iterator[Path]:
    """A temporary path next to ``target`` that replaces it when the block succeeds."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    inner = temp / target.name
    if folder:
        inner.mkdir()
    try:
        yield inner
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(inner, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
