"""Code fingerprints: stable across processes, blind to formatting, alert to real edits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from headrace.hashing import cache_key, code_fingerprint, explain_cache_miss


def _fingerprint_of(tmp_path: Path, source: str, name: str = "f") -> str:
    module = tmp_path / f"mod_{abs(hash(source))}.py"
    module.write_text(textwrap.dedent(source))
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(module)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "from headrace.hashing import code_fingerprint\n"
        f"print(code_fingerprint(m.{name}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).parents[1] / "src"), "PYTHONHASHSEED": "random"},
    )
    return out.stdout.strip()


def test_fingerprint_is_stable_across_processes(tmp_path: Path) -> None:
    src = "def f(x):\n    return helper(x) + 1\n\ndef helper(x):\n    return x * 2\n"
    assert _fingerprint_of(tmp_path, src) == _fingerprint_of(tmp_path, src)


def test_comments_formatting_and_decorators_do_not_matter(tmp_path: Path) -> None:
    a = "def f(x):\n    return x + 1\n"
    b = "# a comment\ndef f(x):   # why\n    return (x +\n            1)\n"
    assert _fingerprint_of(tmp_path, a) == _fingerprint_of(tmp_path, b)


def test_editing_a_helper_in_the_same_module_changes_it(tmp_path: Path) -> None:
    a = "def f(x):\n    return helper(x)\n\ndef helper(x):\n    return x * 2\n"
    b = "def f(x):\n    return helper(x)\n\ndef helper(x):\n    return x * 3\n"
    assert _fingerprint_of(tmp_path, a) != _fingerprint_of(tmp_path, b)


def test_module_constants_are_part_of_it(tmp_path: Path) -> None:
    a = "SEED = 1\ndef f():\n    return SEED\n"
    b = "SEED = 2\ndef f():\n    return SEED\n"
    assert _fingerprint_of(tmp_path, a) != _fingerprint_of(tmp_path, b)


def test_recursive_helpers_terminate() -> None:
    def even(n: int) -> bool:
        return n == 0 or odd(n - 1)

    def odd(n: int) -> bool:
        return n != 0 and even(n - 1)

    assert len(code_fingerprint(even)) == 64


def test_cache_key_ignores_dict_order() -> None:
    a = {"code": "x", "parameters": {"a": 1, "b": 2}, "inputs": {}}
    b = {"inputs": {}, "parameters": {"b": 2, "a": 1}, "code": "x"}
    assert cache_key(a) == cache_key(b)


def test_miss_reasons_name_what_changed() -> None:
    old = {
        "code": "1",
        "parameters": {"C": 1.0},
        "inputs": {"train": "aa"},
        "materializers": {},
        "cache_version": None,
    }
    new = {**old, "parameters": {"C": 0.5}}
    assert explain_cache_miss(old, new) == "parameter C changed (1.0 -> 0.5)"
    assert explain_cache_miss(old, {**old, "code": "2"}) == "code changed"
    assert "input train changed" in explain_cache_miss(old, {**old, "inputs": {"train": "bb"}})
    assert explain_cache_miss(None, new) == "no earlier run of this step"
    assert "cache_version changed" in explain_cache_miss(old, {**old, "cache_version": "2"})
