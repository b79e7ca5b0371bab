"""Choosing a materializer: by MRO, by structure, by name, and pickle only on request."""

from __future__ import annotations

import logging
import textwrap
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from headrace.errors import HeadraceError, MaterializerError
from headrace.materializers import (
    HTMLString,
    MarkdownString,
    get,
    load,
    register,
    save,
    select,
    type_name,
)
from headrace.materializers._registry import PluginEntry, Registry, discover_entry_points

from .samples import Celsius, Opaque, Point, Shout, UpperMaterializer


class Frame(pd.DataFrame):
    pass


class Settings(dict[str, object]):
    pass


def test_type_name_of_values_and_classes() -> None:
    assert type_name(1) == "builtins.int"
    assert type_name(int) == "builtins.int"
    assert type_name(Point(1, 2)) == f"{Point.__module__}.Point"
    assert type_name(pd.DataFrame()) == "pandas.DataFrame"
    assert type_name(HTMLString("x")) == "headrace.materializers.HTMLString"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "json"),
        (True, "json"),
        (3, "json"),
        (2.5, "json"),
        ("text", "json"),
        ([1, "a"], "json"),
        ((1, 2), "json"),
        ({"a": {"b": [1.0]}}, "json"),
        (Settings(a=1), "json"),
        (OrderedDict(a=1), "json"),
        (Celsius(21.5), "json"),
        (b"raw", "bytes"),
        (bytearray(b"raw"), "bytes"),
        (HTMLString("<p>x</p>"), "html"),
        (MarkdownString("# x"), "markdown"),
        (np.arange(3), "numpy"),
        (np.float64(1.5), "numpy"),
        (np.int8(3), "numpy"),
        (np.bool_(True), "numpy"),
        (pd.DataFrame({"a": [1]}), "pandas"),
        (pd.Series([1.0]), "pandas"),
        (Frame({"a": [1]}), "pandas"),
        (Point(1.0, 2.0), "dataclass"),
    ],
)
def test_selection_by_type(value: object, expected: str) -> None:
    assert select(value).name == expected


def test_other_libraries_are_selected_by_type() -> None:
    pa = pytest.importorskip("pyarrow")
    from matplotlib.figure import Figure
    from pydantic import BaseModel
    from sklearn.linear_model import LinearRegression

    class Model(BaseModel):
        a: int

    assert select(pa.table({"a": [1]})).name == "arrow"
    assert select(LinearRegression()).name == "sklearn"
    assert select(Figure()).name == "matplotlib"
    # Defined in a function: it would not import back, so it is not taken as pydantic.
    with pytest.raises(MaterializerError, match="cannot be imported back"):
        select(Model(a=1))


def test_a_container_holding_an_array_is_not_json() -> None:
    value = {"weights": [np.zeros(3)]}
    with pytest.raises(MaterializerError) as info:
        select(value)
    message = str(info.value)
    assert "builtins.dict" in message
    assert "['weights'][0]" in message and "numpy.ndarray" in message
    assert select(value, allow_pickle=True).name == "pickle"


def test_numpy_scalars_inside_containers_are_json_numbers(roundtrip) -> None:
    value = {"accuracy": np.float64(0.75), "n": np.int64(5), "ok": np.bool_(True)}
    assert select(value).name == "json"
    loaded, _ = roundtrip(value)
    assert loaded == {"accuracy": 0.75, "n": 5, "ok": True}
    assert [type(v) for v in loaded.values()] == [float, int, bool]


def test_object_arrays_are_refused_unless_pickle_is_allowed() -> None:
    array = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(MaterializerError, match="allow_pickle"):
        select(array)
    assert select(array, allow_pickle=True).name == "pickle"


def test_refusal_says_how_to_fix_it() -> None:
    with pytest.raises(MaterializerError) as info:
        select(Opaque(1))
    message = str(info.value)
    assert f"'{type_name(Opaque)}'" in message
    assert "register(" in message
    assert "materializers={" in message
    assert "allow_pickle=True" in message
    assert "runs code" in message


def test_pickle_is_opt_in(roundtrip, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="headrace"):
        loaded, metadata = roundtrip(Opaque([1, 2]), allow_pickle=True)
    assert loaded == Opaque([1, 2])
    assert metadata["pickle"] is True
    assert metadata["materializer"] == "pickle"
    assert any("pickle" in r.getMessage() for r in caplog.records)


def test_pickle_by_name_without_opt_in(roundtrip) -> None:
    loaded, metadata = roundtrip({"a": 1}, materializer="pickle")
    assert loaded == {"a": 1}
    assert metadata["pickle"] is True


def test_pickle_is_not_chosen_when_something_else_fits() -> None:
    assert select({"a": 1}, allow_pickle=True).name == "json"
    assert select(np.arange(2), allow_pickle=True).name == "numpy"


def test_override_by_name_wins(roundtrip) -> None:
    assert select("text", override="markdown").name == "markdown"
    loaded, metadata = roundtrip([1, 2], materializer="pickle")
    assert loaded == [1, 2] and metadata["materializer"] == "pickle"


def test_unknown_materializer_name() -> None:
    with pytest.raises(MaterializerError) as info:
        get("feather")
    message = str(info.value)
    assert "'feather'" in message
    assert "json" in message and "numpy" in message
    with pytest.raises(MaterializerError, match="feather"):
        select(1, override="feather")
    with pytest.raises(MaterializerError, match="feather"):
        load(Path("/nonexistent"), "feather", "builtins.int")


def test_get_returns_one_instance_per_name() -> None:
    assert get("json") is get("json")
    assert get("json").name == "json"


def test_register_a_class(roundtrip) -> None:
    register(Shout, UpperMaterializer)
    assert select(Shout("hey")).name == "upper"
    assert get("upper").name == "upper"
    loaded, metadata = roundtrip(Shout("hey"))
    assert loaded == "HEY" and metadata["chars"] == 3


def test_register_a_lazy_spec(roundtrip) -> None:
    register(type_name(Shout), f"{UpperMaterializer.__module__}:UpperMaterializer")
    assert select(Shout("a")).name == "upper"


def test_a_lazy_spec_is_found_by_name_before_any_value_needs_it() -> None:
    register("some.module.Type", f"{UpperMaterializer.__module__}:UpperMaterializer")
    assert get("upper").name == "upper"


def test_register_a_type_to_a_builtin_materializer(roundtrip) -> None:
    register(Opaque, "pickle")
    assert select(Opaque(1)).name == "pickle"


def test_registration_beats_builtins() -> None:
    register("builtins.str", UpperMaterializer)
    assert select("x").name == "upper"
    assert select(1).name == "json"


def test_registration_errors(registry: Registry) -> None:
    from .samples import ImpostorNumpy, NamelessMaterializer

    with pytest.raises(MaterializerError, match="name"):
        register("a.B", NamelessMaterializer)
    with pytest.raises(MaterializerError, match="already used"):
        register("a.B", ImpostorNumpy)
    with pytest.raises(MaterializerError):
        register("a.B", 42)  # type: ignore[arg-type]
    register(Opaque, "no.such.module:Thing")
    with pytest.raises(MaterializerError, match=r"no\.such\.module:Thing"):
        select(Opaque(1))
    register(Point, "nonexistent-name")
    with pytest.raises(MaterializerError, match="nonexistent-name"):
        select(Point(1, 2))


def _plugins(*entries: PluginEntry) -> Registry:
    return Registry(discover=lambda: list(entries))


def test_plugins_are_discovered_once_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from headrace.materializers import _registry

    calls = []

    def discover() -> list[PluginEntry]:
        calls.append(1)
        spec = f"{UpperMaterializer.__module__}:UpperMaterializer"
        return [PluginEntry(type_name(Shout), spec, "shout-plugin 1.0")]

    monkeypatch.setattr(_registry, "REGISTRY", Registry(discover=discover))
    assert select(Shout("x")).name == "upper"
    assert select("plain").name == "json"
    assert get("upper").name == "upper"
    assert len(calls) == 1


def test_a_broken_plugin_fails_only_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    from headrace.materializers import _registry

    broken = PluginEntry(type_name(Shout), "shout_plugin_gone:Missing", "shout-plugin 0.1")
    monkeypatch.setattr(_registry, "REGISTRY", _plugins(broken))
    assert select({"fine": True}).name == "json"
    assert get("json").name == "json"
    with pytest.raises(MaterializerError, match=r"shout-plugin 0\.1") as info:
        select(Shout("x"))
    assert isinstance(info.value.__cause__, ImportError)
    with pytest.raises(MaterializerError, match="unknown materializer 'upper'"):
        get("upper")


def test_a_registration_beats_a_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from headrace.materializers import _registry

    plugin = PluginEntry("builtins.bytes", "shout_plugin_gone:Missing", "bytes-plugin 1.0")
    monkeypatch.setattr(_registry, "REGISTRY", _plugins(plugin))
    register("builtins.bytes", "pickle")
    assert select(b"x").name == "pickle"


def test_entry_points_are_read_from_installed_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "shout_plugin-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 2.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""
            [headrace.materializers]
            {type_name(Shout)} = {UpperMaterializer.__module__}:UpperMaterializer
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = [e for e in discover_entry_points() if e.type_name == type_name(Shout)]
    assert found == [
        PluginEntry(
            type_name(Shout),
            f"{UpperMaterializer.__module__}:UpperMaterializer",
            "shout-plugin 2.0",
        )
    ]
    from headrace.materializers import _registry

    monkeypatch.setattr(_registry, "REGISTRY", Registry())
    assert select(Shout("x")).name == "upper"


def test_failing_discovery_does_not_break_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    from headrace.materializers import _registry

    def discover() -> list[PluginEntry]:
        raise RuntimeError("broken metadata")

    monkeypatch.setattr(_registry, "REGISTRY", Registry(discover=discover))
    assert select(1).name == "json"


def test_save_and_load_wrap_every_error(tmp_path: Path) -> None:
    from .samples import FailingMaterializer, RefusingMaterializer

    register("x.Y", FailingMaterializer)
    register("x.Z", RefusingMaterializer)
    with pytest.raises(MaterializerError, match=r"'failing'.*'builtins.int'.*disk on fire") as info:
        save(1, tmp_path / "a", get("failing"))
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(MaterializerError, match=r"'failing'.*'builtins.int'") as info:
        load(tmp_path / "a", "failing", "builtins.int")
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(MaterializerError, match=r"'refusing'.*not today"):
        save(1, tmp_path / "b", "refusing")


def test_loading_missing_files_is_a_materializer_error(tmp_path: Path) -> None:
    for name in ("json", "bytes", "numpy", "pandas", "pickle"):
        with pytest.raises(MaterializerError, match=name):
            load(tmp_path / "nothing-here", name, "builtins.object")


def test_metadata_is_strict_json(roundtrip) -> None:
    _, metadata = roundtrip(np.array([1.0, np.inf, np.nan]))
    assert metadata["max"] == "inf"  # finite-only JSON; non-finite floats become strings
    assert metadata["nan_count"] == 1


def test_errors_are_headrace_errors() -> None:
    assert issubclass(MaterializerError, HeadraceError)
