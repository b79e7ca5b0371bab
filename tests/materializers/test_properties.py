"""Property tests: whatever a materializer accepts, it gives back exactly."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from headrace.materializers import load, save, select

# Derandomized so that CI runs the same examples every time; explore with
# `--hypothesis-seed=N` (and a larger max_examples) when changing a materializer.
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _roundtrip(value: Any) -> tuple[Any, str]:
    chosen = select(value)
    with tempfile.TemporaryDirectory() as folder:
        metadata = save(value, Path(folder), chosen)
        return load(Path(folder), chosen.name, metadata["type"]), chosen.name


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down; NaN equals NaN, -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
keys = st.text() | st.integers() | st.booleans() | st.none()
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(st.text(), children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["$tuple", "$dict", "$float", "$items", "$x"]), children, max_size=1
        )
        | st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=30,
)


@SETTINGS
@given(json_values)
def test_json_roundtrips_any_nested_value(value: Any) -> None:
    loaded, name = _roundtrip(value)
    assert name == "json"
    assert same(loaded, value)


numeric_dtypes = (
    hnp.integer_dtypes()
    | hnp.unsigned_integer_dtypes()
    | hnp.floating_dtypes()
    | hnp.boolean_dtypes()
    | hnp.complex_number_dtypes()
)


@SETTINGS
@given(hnp.arrays(numeric_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)))
def test_numpy_roundtrips_arrays(array: np.ndarray) -> None:
    loaded, name = _roundtrip(array)
    assert name == "numpy"
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 8))
    column_kinds = draw(
        st.lists(
            st.sampled_from(
                ["int", "float", "bool", "Int64", "str", "category", "int_category", "datetime"]
            ),
            min_size=1,
            max_size=6,
        )
    )
    data: dict[str, Any] = {}
    for i, kind in enumerate(column_kinds):
        name = f"{kind}_{i}"
        if kind == "int":
            data[name] = np.array(
                draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)),
                dtype="int64",
            )
        elif kind == "float":
            data[name] = np.array(
                draw(st.lists(st.floats(), min_size=n, max_size=n)), dtype="float64"
            )
        elif kind == "bool":
            data[name] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        elif kind == "Int64":
            values = draw(
                st.lists(st.none() | st.integers(-(2**40), 2**40), min_size=n, max_size=n)
            )
            data[name] = pd.array(values, dtype="Int64")
        elif kind == "str":
            values = draw(st.lists(st.none() | st.text(max_size=5), min_size=n, max_size=n))
            data[name] = pd.array(values, dtype="string")
        elif kind == "category":
            values = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
            data[name] = pd.Categorical(values, categories=["a", "b", "c"])
        elif kind == "int_category":
            values = draw(
                st.lists(st.none() | st.sampled_from([10, 20, 30]), min_size=n, max_size=n)
            )
            data[name] = pd.Categorical(values, categories=[30, 20, 10], ordered=True)
        else:
            stamps = draw(st.lists(st.integers(0, 4 * 10**9), min_size=n, max_size=n))
            data[name] = pd.to_datetime(np.array(stamps, dtype="int64"), unit="s")
    index = draw(st.sampled_from(["range", "strings", "shifted"]))
    frame = pd.DataFrame(data)
    if index == "strings":
        frame.index = pd.Index([f"r{i}" for i in range(n)], name="key")
    elif index == "shifted":
        frame.index = pd.RangeIndex(10, 10 + n)
    return frame


@SETTINGS
@given(frames())
def test_pandas_roundtrips_generated_frames(frame: pd.DataFrame) -> None:
    loaded, name = _roundtrip(frame)
    assert name == "pandas"
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
