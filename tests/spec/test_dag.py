from __future__ import annotations

import pytest

from headrace.errors import DefinitionError
from headrace.spec import downstream_of, topological_order


def test_order_respects_dependencies_and_insertion_order() -> None:
    graph = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert topological_order(graph) == ["a", "b", "c", "d"]


def test_cycle_names_the_steps() -> None:
    with pytest.raises(DefinitionError, match=r"cycle through steps 'b', 'c'"):
        topological_order({"a": [], "b": ["a", "c"], "c": ["b"]})


def test_unknown_dependency() -> None:
    with pytest.raises(DefinitionError, match=r"step 'b'.*unknown step 'z'"):
        topological_order({"b": ["z"]})


def test_downstream_is_transitive() -> None:
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert downstream_of(graph, ["a"]) == {"b", "c"}
    assert downstream_of(graph, ["d"]) == set()
