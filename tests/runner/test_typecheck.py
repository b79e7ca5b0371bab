"""Declared types of step inputs and outputs are checked: a mismatch fails the step."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pydantic
import pytest

from headrace import Client, StepError, pipeline, step
from headrace.errors import TypeMismatchError
from headrace.runner.typecheck import annotation_text, check_value


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Settings(pydantic.BaseModel):
    rate: float


OK: list[tuple[Any, str]] = [
    (3, "builtins.int"),
    (True, "builtins.int"),
    (np.int64(3), "builtins.int"),
    (3, "builtins.float"),
    (np.float32(1.5), "float"),
    ("a", "str"),
    ([1, 2], "list[int]"),
    ([1, 2], "typing.List[int]"),
    ({"a": 1}, "dict[str, int]"),
    (None, "None"),
    (None, "int | None"),
    (None, "typing.Optional[int]"),
    (4, "typing.Union[int, str]"),
    ("b", "typing.Literal['a', 'b']"),
    ([1], "collections.abc.Sequence[int]"),
    ([1], "Sequence"),
    (np.zeros(2), "numpy.ndarray"),
    (np.zeros(2), "np.ndarray"),
    (np.zeros(2), "numpy.ndarray[typing.Any, numpy.dtype[numpy.float64]]"),
    (pd.DataFrame({"a": [1]}), "pandas.core.frame.DataFrame"),
    (pd.DataFrame({"a": [1]}), "pd.DataFrame"),
    (pd.Series([1]), "pandas.Series"),
    (Point(1, 2), f"{__name__}.Point"),
    (Settings(rate=0.1), "Settings"),
    ("anything", "typing.Any"),
    ("anything", "Any"),
    ("anything", "object"),
    ("anything", "T"),  # unresolvable here: not checked
    ("anything", "somewhere_unknown.Thing"),  # nor is a module that does not exist
]

BAD: list[tuple[Any, str]] = [
    ("3", "builtins.int"),
    (3.5, "builtins.int"),
    ("x", "float"),
    ([1], "dict[str, int]"),
    ((1, 2), "list[int]"),
    (1, "None"),
    ("s", "int | None"),
    ("c", "typing.Literal['a', 'b']"),
    ([1.0], "numpy.ndarray"),
    ({"a": [1]}, "pd.DataFrame"),
    ({"x": 1, "y": 2}, f"{__name__}.Point"),
    ({"rate": 0.1}, "Settings"),
    ("text", "numpy.ndarray"),
]


@pytest.mark.parametrize(("value", "text"), OK, ids=[t for _, t in OK])
def test_matching_values_pass(value: Any, text: str) -> None:
    check_value(value, text, "output 'x'", namespace=globals() | {"T": typing.TypeVar("T")})


@pytest.mark.parametrize(("value", "text"), BAD, ids=[t for _, t in BAD])
def test_mismatches_name_what_declared_and_actual(value: Any, text: str) -> None:
    with pytest.raises(TypeMismatchError) as info:
        check_value(value, text, "output 'x'", namespace=globals())
    message = str(info.value)
    assert message.startswith(f"output 'x' is declared as {text} but is a ")
    assert f"{type(value).__module__}.{type(value).__qualname__}" in message
    assert isinstance(info.value, TypeError)


def test_a_package_that_is_installed_but_not_imported_matches_nothing() -> None:
    # No value in this process can be an instance of a class of a module never imported.
    for text in ("xml.dom.minidom.Document", "wave.Wave_read"):
        with pytest.raises(TypeMismatchError):
            check_value(1, text, "output 'doc'")


def test_unannotated_and_free_types_are_never_checked() -> None:
    for text in (None, "", "typing.Any", "builtins.object", "not valid python ("):
        check_value(object(), text, "output 'x'")


def test_annotation_text_matches_the_output_spec_form() -> None:
    assert annotation_text(int) == "builtins.int"
    assert (
        annotation_text(Annotated[pd.DataFrame, "frame"]) == f"{pd.DataFrame.__module__}.DataFrame"
    )
    assert annotation_text("pd.DataFrame") == "pd.DataFrame"
    assert annotation_text(list[int]) == "list[int]"
    assert annotation_text(None) == "None"


# -- in a pipeline --------------------------------------------------------------------------


@step
def count_words(text: str = "a b c") -> Annotated[int, "count"]:
    return text.upper()  # type: ignore[return-value]  # the bug the check catches


@pipeline
def counting() -> None:
    count_words()


@step
def emit() -> Annotated[str, "text"]:
    return "seven"


@step
def double(number: int) -> Annotated[int, "doubled"]:
    return number * 2


@pipeline
def wrong_input() -> None:
    double(emit())


@step
def anything() -> Annotated[Any, "free"]:
    return {"x": 1}


@step
def unannotated():  # type: ignore[no-untyped-def]
    return "no annotation"


@step
def takes_any(free: Any, plain) -> Annotated[list, "both"]:  # type: ignore[no-untyped-def]
    return [free, plain]


@pipeline
def free_types() -> None:
    takes_any(anything(), unannotated())


def test_an_output_of_the_wrong_type_fails_the_step_and_stores_nothing(home: Path) -> None:
    with pytest.raises(StepError) as info:
        counting()
    message = str(info.value)
    assert "step 'count_words'" in message
    assert "output 'count' is declared as int but is a builtins.str ('A B C')" in message
    run = Client().run(info.value.run_id or "")
    assert run.steps["count_words"].status == "failed"
    assert "TypeMismatchError" in (run.steps["count_words"].error or "")
    assert Client().artifacts("count") == []


def test_an_input_of_the_wrong_type_fails_the_step_before_it_runs(home: Path) -> None:
    with pytest.raises(StepError) as info:
        wrong_input()
    assert "step 'double'" in str(info.value)
    assert "input 'number' is declared as int but is a builtins.str ('seven')" in str(info.value)
    run = Client().run(info.value.run_id or "")
    assert run.steps["emit"].status == "completed"
    assert run.steps["double"].status == "failed"
    assert run.steps["double"].record.attempts == 0  # the function never ran


def test_any_and_unannotated_stay_free(home: Path) -> None:
    run = free_types()
    assert run.steps["takes_any"].outputs["both"].load() == [{"x": 1}, "no annotation"]
