"""Every built-in materializer gives back what it was given, and describes it."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from matplotlib.figure import Figure
from pydantic import BaseModel
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from headrace.errors import MaterializerError
from headrace.materializers import (
    HTMLString,
    MarkdownString,
    PNGImage,
    get,
    load,
    save,
    select,
)

from .samples import Point, Shape


class Address(BaseModel):
    city: str
    zip: str | None = None


class Person(BaseModel):
    name: str
    age: int
    score: float
    addresses: list[Address] = []
    tags: tuple[str, ...] = ()


# -- json ----------------------------------------------------------------------------


def test_json_keeps_nan_inf_tuples_and_key_types(roundtrip) -> None:
    value = {
        "nan": float("nan"),
        "inf": [float("inf"), float("-inf"), -0.0],
        "pair": (1, "a", (None, True)),
        "ids": {1: "a", 2.5: "b", (1, 2): "c", None: "d", False: "e"},
        "$tuple": 1,
        "big": 2**80,
    }
    loaded, metadata = roundtrip(value)
    assert math.isnan(loaded["nan"])
    assert loaded["inf"] == [float("inf"), float("-inf"), -0.0]
    assert math.copysign(1, loaded["inf"][2]) == -1
    assert loaded["pair"] == (1, "a", (None, True)) and isinstance(loaded["pair"][2], tuple)
    assert loaded["ids"] == value["ids"]
    assert loaded["$tuple"] == 1 and loaded["big"] == 2**80
    assert metadata["python_type"] == "dict" and metadata["length"] == 6


def test_json_escapes_dicts_that_look_like_tags(roundtrip) -> None:
    for value in ({"$tuple": [1]}, {"$dict": {}}, {"$float": "nan"}, {"$x": 1}):
        loaded, _ = roundtrip(value)
        assert loaded == value


def test_json_file_is_standard_json(tmp_path: Path) -> None:
    import json

    save({"a": float("nan"), "b": (1,)}, tmp_path, "json")
    assert json.loads((tmp_path / "data.json").read_text()) == {
        "a": {"$float": "nan"},
        "b": {"$tuple": [1]},
    }


@pytest.mark.parametrize("value", [None, True, 0, -3, 1.5, "", "héllo \U0001f600", [], (), {}])
def test_json_scalars_and_empties(roundtrip, value: object) -> None:
    loaded, _ = roundtrip(value)
    assert loaded == value and type(loaded) is type(value)


def test_json_refuses_cycles() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(MaterializerError, match="cycle"):
        select(loop)


# -- bytes and text ------------------------------------------------------------------


def test_bytes(roundtrip) -> None:
    loaded, metadata = roundtrip(bytes(range(256)))
    assert loaded == bytes(range(256)) and metadata["size"] == 256
    loaded, _ = roundtrip(bytearray(b"xy"))
    assert loaded == bytearray(b"xy") and type(loaded) is bytearray


def test_html_and_markdown(roundtrip, tmp_path: Path) -> None:
    loaded, _ = roundtrip(HTMLString("<h1>Report é</h1>"))
    assert loaded == "<h1>Report é</h1>" and type(loaded) is HTMLString
    loaded, metadata = roundtrip(MarkdownString("# Title\n\n* item"))
    assert type(loaded) is MarkdownString and metadata["length"] == 15
    save(HTMLString("<p/>"), tmp_path / "h", "html")
    save(MarkdownString("x"), tmp_path / "m", "markdown")
    assert (tmp_path / "h" / "index.html").read_text() == "<p/>"
    assert (tmp_path / "m" / "README.md").read_text() == "x"


# -- numpy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.array([1.5, np.nan, -np.inf], dtype=np.float32),
        np.array([True, False]),
        np.array(["a", "bé"]),
        np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"),
        np.zeros((0, 3)),
        np.array(7.0),
        np.arange(6, dtype=">i8"),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        np.array([1 + 2j]),
    ],
    ids=lambda a: f"{a.dtype}-{a.shape}",
)
def test_numpy_arrays(roundtrip, array: np.ndarray) -> None:
    loaded, metadata = roundtrip(array)
    assert type(loaded) is np.ndarray
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert metadata["shape"] == list(array.shape) and metadata["dtype"] == str(array.dtype)


def test_numpy_metadata(roundtrip) -> None:
    _, metadata = roundtrip(np.array([[1, 2], [3, 10]]))
    assert metadata["min"] == 1 and metadata["max"] == 10 and metadata["mean"] == 4.0
    assert metadata["size"] == 4
    _, metadata = roundtrip(np.array([np.nan, np.nan]))
    assert metadata["nan_count"] == 2 and "mean" not in metadata
    _, metadata = roundtrip(np.array([np.nan, 2.0, 4.0]))
    assert (metadata["min"], metadata["max"], metadata["mean"]) == (2.0, 4.0, 3.0)


@pytest.mark.parametrize("scalar", [np.float64(1.25), np.int16(-3), np.bool_(True), np.uint8(255)])
def test_numpy_scalars(roundtrip, scalar: np.generic) -> None:
    loaded, _ = roundtrip(scalar)
    assert type(loaded) is type(scalar) and loaded == scalar


def test_numpy_subclasses_load_as_plain_arrays(roundtrip, tmp_path: Path) -> None:
    path = tmp_path / "m.dat"
    mm = np.memmap(path, dtype="float64", mode="w+", shape=(4,))
    mm[:] = [1, 2, 3, 4]
    loaded, _ = roundtrip(mm)
    assert type(loaded) is np.ndarray
    np.testing.assert_array_equal(loaded, [1, 2, 3, 4])
    del mm


def test_numpy_large_arrays_are_memory_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numpy_materializer = get("numpy")
    monkeypatch.setattr(type(numpy_materializer), "mmap_threshold", 1000)
    big = np.arange(1000, dtype=np.float64)
    save(big, tmp_path / "big", numpy_materializer)
    save(big[:10], tmp_path / "small", numpy_materializer)
    loaded = load(tmp_path / "big", "numpy", "numpy.ndarray")
    assert isinstance(loaded, np.memmap) and not loaded.flags.writeable
    np.testing.assert_array_equal(loaded, big)
    assert not isinstance(load(tmp_path / "small", "numpy", "numpy.ndarray"), np.memmap)
    del loaded


def test_numpy_refuses_object_arrays_even_by_name(tmp_path: Path) -> None:
    with pytest.raises(MaterializerError, match="allow_pickle"):
        save(np.array([None]), tmp_path, "numpy")


def test_numpy_masked_arrays_are_not_silently_unmasked() -> None:
    masked = np.ma.masked_array([1, 2], mask=[True, False])
    with pytest.raises(MaterializerError, match="mask"):
        select(masked)
    assert select(masked, allow_pickle=True).name == "pickle"


# -- pandas --------------------------------------------------------------------------


def _rich_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "int": [1, 2, 3],
            "float": [0.5, np.nan, np.inf],
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "bool": [True, False, True],
            "nullable_bool": pd.array([True, None, False], dtype="boolean"),
            "cat": pd.Categorical(["b", "a", "b"], categories=["b", "a", "z"], ordered=True),
            "int_cat": pd.Categorical([3, None, 1], categories=[3, 2, 1]),
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01T12:00"], format="ISO8601"),
            "when_utc": pd.to_datetime(["2024-01-01", "2024-01-02", None]).tz_localize("UTC"),
            "text": pd.array(["x", None, "zé"], dtype="string"),
            "str": ["a", "b", None],
            "delta": pd.to_timedelta([1, 2, 3], unit="s"),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )


def test_pandas_frame_keeps_dtypes_and_index(roundtrip) -> None:
    frame = _rich_frame()
    frame.attrs["source"] = "unit test"
    loaded, metadata = roundtrip(frame)
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert loaded.attrs == {"source": "unit test"}
    assert metadata["rows"] == 3 and metadata["columns"] == 12
    assert metadata["schema"]["nullable"] == "Int64"
    assert metadata["schema"]["cat"] == "category"
    assert metadata["summary"]["int"] == {"min": 1, "max": 3, "mean": 2.0, "nulls": 0}
    assert metadata["summary"]["nullable"]["nulls"] == 1
    assert metadata["summary"]["float"]["max"] == "inf"
    assert "cat" not in metadata["summary"] and "when" not in metadata["summary"]
    assert metadata["index"] == {"names": ["row"], "dtype": str(frame.index.dtype)}
    assert metadata["memory_bytes"] > 0


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(np.arange(6).reshape(2, 3)),
        pd.DataFrame({"a": [1.0]}, index=pd.RangeIndex(5, 6)),
        pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_tuples([("x", 1), ("y", 2)])),
        pd.DataFrame(np.ones((2, 2)), columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])),
        pd.DataFrame({"a": pd.Series([], dtype="float64")}),
        pd.DataFrame(),
        pd.DataFrame({"t": [1.0]}, index=pd.DatetimeIndex(["2024-01-01"], name="day")),
        pd.DataFrame({"c": pd.Categorical([], categories=["x", "y"], ordered=True)}),
        pd.DataFrame({"c": pd.Categorical([], categories=[1.5, 2.5])}),
    ],
    ids=[
        "int-columns",
        "range-index",
        "multi-index",
        "multi-columns",
        "empty",
        "nothing",
        "dt-index",
        "empty-cat",
        "empty-float-cat",
    ],
)
def test_pandas_frame_shapes(roundtrip, frame: pd.DataFrame) -> None:
    loaded, _ = roundtrip(frame)
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)


@pytest.mark.parametrize(
    "name", [None, "price", 3, ("a", 1), pd.Timestamp("2024-01-01"), pd.Timedelta("1h")]
)
def test_pandas_series_keeps_name(roundtrip, name: object) -> None:
    series = pd.Series(pd.array([1, None, 3], dtype="Int64"), name=name, index=[10, 20, 30])
    loaded, metadata = roundtrip(series)
    pd.testing.assert_series_equal(loaded, series, check_exact=True)
    assert metadata["kind"] == "Series" and metadata["summary"]["nulls"] == 1


def test_pandas_unstorable_columns_fail_as_materializer_errors(tmp_path: Path) -> None:
    frame = pd.DataFrame({"mixed": [1, "a", object()]})
    with pytest.raises(MaterializerError, match="'pandas'") as info:
        save(frame, tmp_path, "pandas")
    assert info.value.__cause__ is not None


def test_pandas_summary_is_limited_to_fifty_columns(roundtrip) -> None:
    frame = pd.DataFrame(np.ones((2, 60)), columns=[f"c{i}" for i in range(60)])
    _, metadata = roundtrip(frame)
    assert len(metadata["summary"]) == 50 and len(metadata["schema"]) == 60


# -- arrow ---------------------------------------------------------------------------


def test_arrow_table(roundtrip) -> None:
    table = pa.table(
        {
            "i": pa.array([1, None, 3], type=pa.int16()),
            "s": pa.array(["a", "b", None], type=pa.large_string()),
            "d": pa.array(["x", "y", "x"]).dictionary_encode(),
            "t": pa.array([0, 1, 2], type=pa.timestamp("ms", tz="Europe/Paris")),
        }
    )
    loaded, metadata = roundtrip(table)
    assert loaded.equals(table) and loaded.schema == table.schema
    assert metadata["rows"] == 3
    assert metadata["schema"]["s"] == "large_string"


# -- sklearn -------------------------------------------------------------------------


def test_sklearn_estimators(roundtrip) -> None:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
    y = np.array([0, 1, 0, 1])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(x, y)
    loaded, metadata = roundtrip(model)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert metadata["fitted"] is True
    assert metadata["params"]["logisticregression__C"] == 0.5
    assert "steps" not in metadata["params"]  # estimators are not JSON
    assert metadata["estimator"] == "sklearn.pipeline.Pipeline"
    skops = importlib.util.find_spec("skops") is not None
    assert metadata["format"] == ("skops" if skops else "joblib")
    assert metadata["pickle_based"] is not skops

    unfitted, metadata = roundtrip(LogisticRegression(C=2.0))
    assert metadata["fitted"] is False and unfitted.get_params()["C"] == 2.0


# -- matplotlib ----------------------------------------------------------------------


def test_matplotlib_figure_loads_as_png(roundtrip, tmp_path: Path) -> None:
    figure = Figure(figsize=(3, 2), dpi=50)
    figure.add_subplot().plot([1, 3, 2])
    loaded, metadata = roundtrip(figure)
    assert isinstance(loaded, PNGImage) and isinstance(loaded, bytes)
    assert loaded.startswith(b"\x89PNG")
    assert (metadata["width"], metadata["height"], metadata["dpi"]) == (150, 100, 50.0)
    assert loaded.size == (150, 100)
    pixels = loaded.to_array()
    assert pixels.shape == (100, 150, 4)
    assert loaded._repr_png_() == bytes(loaded)
    assert repr(loaded).startswith("PNGImage(150x100, ")
    again, _ = roundtrip(loaded)  # an image can be passed on as it is
    assert again == loaded and type(again) is PNGImage


# -- pydantic and dataclasses ---------------------------------------------------------


def test_pydantic_models(roundtrip) -> None:
    person = Person(name="Ada", age=36, score=0.5, addresses=[Address(city="London")], tags=("x",))
    loaded, metadata = roundtrip(person)
    assert loaded == person and type(loaded) is Person
    assert metadata["model_class"].endswith(".Person")
    assert metadata["fields"] == ["name", "age", "score", "addresses", "tags"]


def test_dataclasses(roundtrip) -> None:
    shape = Shape("tri", [Point(0, 0), Point(1, 0), Point(0, 1.5)], ("a",), origin=Point(0, 0))
    loaded, metadata = roundtrip(shape)
    assert loaded == shape and type(loaded.points[0]) is Point
    assert loaded.area == 3.0 and loaded.tags == ("a",)
    assert metadata["fields"] == ["name", "points", "tags", "origin", "area"]
    frozen, _ = roundtrip(Point(float("nan"), 1.0))
    assert math.isnan(frozen.x)


def test_dataclass_with_an_array_field_needs_pickle() -> None:
    from dataclasses import make_dataclass

    Holder = make_dataclass("Holder", [("a", object)])
    with pytest.raises(MaterializerError, match="dataclass"):
        select(Holder(np.zeros(2)))


def test_dataclass_whose_class_is_gone(tmp_path: Path) -> None:
    save(Point(1, 2), tmp_path, "dataclass")
    text = (tmp_path / "data.json").read_text().replace(".Point", ".Vanished")
    (tmp_path / "data.json").write_text(text)
    with pytest.raises(MaterializerError, match="Vanished"):
        load(tmp_path, "dataclass", "whatever.Vanished")


def test_local_dataclass_is_refused_with_a_reason() -> None:
    from dataclasses import dataclass

    @dataclass
    class Local:
        a: int

    with pytest.raises(MaterializerError, match="cannot be imported back"):
        select(Local(1))
    assert select(Local(1), allow_pickle=True).name == "pickle"


def test_pickle_handles_local_classes_with_cloudpickle(roundtrip) -> None:
    class Local:
        def __init__(self) -> None:
            self.v = [1, 2]

    loaded, metadata = roundtrip(Local(), allow_pickle=True)
    assert loaded.v == [1, 2]
    assert metadata["pickler"] == "cloudpickle"


def test_sklearn_custom_estimators_fall_back_to_joblib(roundtrip) -> None:
    from .samples import Threshold

    loaded, metadata = roundtrip(Threshold(cut=0.25).fit(np.array([[0.0], [1.0]])))
    assert loaded.cut == 0.25 and loaded.fitted_ is True
    assert metadata["format"] == "joblib" and metadata["pickle_based"] is True
    assert metadata["params"] == {"cut": 0.25} and metadata["fitted"] is True
