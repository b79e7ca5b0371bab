"""Damaged artifacts: flipped bytes, truncated, emptied, garbage or missing files.

Loading may succeed (a flip can land in padding or in data) but may only ever fail with a
HeadraceError, never with a raw ValueError, OSError or unpickling error."""

from __future__ import annotations

import random
import shutil
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression

from headrace.errors import HeadraceError
from headrace.materializers import HTMLString, MarkdownString, load, save, select

from .samples import Opaque, Point, Shape
from .test_roundtrips import Address, Person

FLIPS = 50


def _figure() -> Figure:
    figure = Figure(figsize=(1, 1), dpi=20)
    figure.add_subplot().plot([0, 1])
    return figure


def _estimator() -> LogisticRegression:
    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))


SAMPLES: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
    "json": (lambda: {"a": [1, 2.5, float("nan")], "t": (1, "x"), "k": {1: None}}, {}),
    "bytes": (lambda: bytes(range(64)), {}),
    "html": (lambda: HTMLString("<h1>Report</h1><p>é</p>"), {}),
    "markdown": (lambda: MarkdownString("# Title\n\ntext"), {}),
    "numpy": (lambda: np.arange(40, dtype=np.float64).reshape(5, 8), {}),
    "numpy-scalar": (lambda: np.int32(7), {}),
    "pandas": (
        lambda: pd.DataFrame(
            {
                "a": [1, 2, 3],
                "b": pd.array([1, None, 2], dtype="Int64"),
                "c": pd.Categorical(["x", "y", "x"]),
                "d": ["p", None, "q"],
            },
            index=pd.Index(["r1", "r2", "r3"], name="k"),
        ),
        {},
    ),
    "pandas-series": (lambda: pd.Series([1.5, None], name="s"), {}),
    "arrow": (lambda: pa.table({"a": [1, 2, None], "b": ["x", "y", "z"]}), {}),
    "sklearn": (_estimator, {}),
    "matplotlib": (_figure, {}),
    "pydantic": (lambda: Person(name="Ada", age=3, score=1.5, addresses=[Address(city="X")]), {}),
    "dataclass": (lambda: Shape("s", [Point(0, 1), Point(2, 3)], ("t",)), {}),
    "pickle": (lambda: Opaque({"nested": [1, 2, 3]}), {"allow_pickle": True}),
}


def _variants(original: bytes, seed: int) -> Iterator[tuple[str, bytes | None]]:
    rng = random.Random(seed)
    for i in range(FLIPS):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        yield f"flip-{i}", bytes(data)
    yield "half", original[: len(original) // 2]
    yield "minus-one", original[:-1]
    yield "head", original[:16]
    yield "empty", b""
    yield "garbage", rng.randbytes(len(original))
    yield "text", b"this is not the file you are looking for\n"
    yield "missing", None


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_damaged_files_fail_only_with_headrace_errors(sample: str, tmp_path: Path) -> None:
    make, options = SAMPLES[sample]
    value = make()
    chosen = select(value, **options)
    pristine = tmp_path / "pristine"
    metadata = save(value, pristine, chosen)
    files = sorted(p.relative_to(pristine) for p in pristine.rglob("*") if p.is_file())
    assert files, "a materializer writes at least one file"
    outcomes: dict[str, int] = {"loaded": 0, "refused": 0}
    for number, relative in enumerate(files):
        original = (pristine / relative).read_bytes()
        for label, damaged in _variants(original, seed=zlib.crc32(f"{sample}/{number}".encode())):
            folder = tmp_path / f"{number}-{label}"
            shutil.copytree(pristine, folder)
            if damaged is None:
                (folder / relative).unlink()
            else:
                (folder / relative).write_bytes(damaged)
            try:
                load(folder, chosen.name, metadata["type"])
            except HeadraceError as exc:
                assert chosen.name in str(exc)
                outcomes["refused"] += 1
            else:
                outcomes["loaded"] += 1
            shutil.rmtree(folder)
    assert outcomes["refused"] > 0
