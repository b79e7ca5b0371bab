"""Properties of canonical JSON and cache keys: one byte string per value, whatever the dict
order, the process or its hash seed; NaN and infinities refused everywhere.

(Materializer round trips and corrupted-file fuzzing are in tests/materializers/.)
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headrace.hashing import cache_key
from headrace.spec.canonical import canonical_json, is_json_value

from .conftest import SRC

# Derandomized so that CI runs the same examples every time; explore with
# `--hypothesis-seed=N` (and a larger max_examples) when changing canonical JSON.
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)
hashes = st.text("0123456789abcdef", min_size=64, max_size=64)
components = st.fixed_dictionaries(
    {
        "code": hashes,
        "parameters": st.dictionaries(st.text(max_size=8), json_values, max_size=5),
        "inputs": st.dictionaries(st.text(min_size=1, max_size=8), hashes, max_size=4),
        "materializers": st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=30)),
        "cache_version": st.none() | st.integers() | st.text(max_size=8),
    }
)


def reorder(value: Any, rng: random.Random) -> Any:
    """The same value with the items of every dict, at any depth, in a shuffled order."""
    if isinstance(value, dict):
        items = [(k, reorder(v, rng)) for k, v in value.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, list | tuple):
        return type(value)(reorder(v, rng) for v in value)
    return value


def plain(value: Any) -> Any:
    """What JSON gives back: tuples become lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@SETTINGS
@given(json_values, st.randoms(use_true_random=False))
def test_dict_order_does_not_change_canonical_json(value: Any, rng: random.Random) -> None:
    assert canonical_json(reorder(value, rng)) == canonical_json(value)


@SETTINGS
@given(components, st.randoms(use_true_random=False))
def test_dict_order_does_not_change_the_cache_key(
    parts: dict[str, Any], rng: random.Random
) -> None:
    assert cache_key(reorder(parts, rng)) == cache_key(parts)


@SETTINGS
@given(json_values)
def test_canonical_json_is_json_and_a_fixed_point(value: Any) -> None:
    assert is_json_value(value)
    text = canonical_json(value)
    assert json.loads(text) == plain(value)
    assert canonical_json(json.loads(text)) == text
    assert text == canonical_json(plain(value))  # a tuple is written as the list it holds


@SETTINGS
@given(
    components, st.sampled_from(["code", "parameters", "inputs", "materializers", "cache_version"])
)
def test_every_part_of_the_key_counts(parts: dict[str, Any], part: str) -> None:
    changed = dict(parts)
    changed[part] = {"changed": parts[part]} if part != "code" else parts["code"][::-1] + "x"
    assert cache_key(changed) != cache_key(parts)


@st.composite
def with_non_finite(draw: st.DrawFn) -> Any:
    """A JSON value with NaN or an infinity somewhere inside (or as itself)."""
    bad = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    value = draw(json_values)
    path = draw(st.lists(st.sampled_from(["list", "dict", "tuple"]), max_size=4))
    hidden: Any = bad
    for kind in path:
        if kind == "list":
            hidden = [value, hidden] if draw(st.booleans()) else [hidden, value]
        elif kind == "tuple":
            hidden = (hidden, value)
        else:
            hidden = {draw(st.text(max_size=4)) + "_": hidden, "": value}
    return hidden


@SETTINGS
@given(with_non_finite())
def test_nan_and_infinities_are_refused(value: Any) -> None:
    assert not is_json_value(value)
    with pytest.raises(ValueError):
        canonical_json(value)
    with pytest.raises(ValueError):
        cache_key({"code": "0" * 64, "parameters": {"p": value}})


# -- across processes -------------------------------------------------------------------------

CHILD = """
import json, pickle, sys
from headrace.hashing import cache_key
from headrace.spec.canonical import canonical_json

def rebuilt(value):
    # Dicts rebuilt in the order of a set of their keys, which depends on the hash seed.
    if isinstance(value, dict):
        return {k: rebuilt(value[k]) for k in set(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(rebuilt(v) for v in value)
    return value

values, parts = pickle.load(sys.stdin.buffer)
print(json.dumps({
    "json": [canonical_json(rebuilt(v)) for v in values],
    "keys": [cache_key(rebuilt(p)) for p in parts],
    "order": [list(rebuilt(p)) for p in parts],
}))
"""


def _in_a_process(values: list[Any], parts: list[dict[str, Any]], seed: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=pickle.dumps((values, parts)),
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return dict(json.loads(done.stdout))


def _examples(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values hypothesis generates from ``strategy`` (the same ones every run)."""
    found: list[Any] = []

    @settings(SETTINGS, max_examples=count)
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def test_the_same_bytes_in_processes_with_other_hash_seeds() -> None:
    values = _examples(json_values, 300)
    parts = _examples(components, 100)
    here = {
        "json": [canonical_json(v) for v in values],
        "keys": [cache_key(p) for p in parts],
    }
    first = _in_a_process(values, parts, "1")
    second = _in_a_process(values, parts, "987654321")
    for other in (first, second):
        assert other["json"] == here["json"]
        assert other["keys"] == here["keys"]
    # The children really did build their dicts in different orders.
    assert first["order"] != second["order"]
