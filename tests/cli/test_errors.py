"""Bad input: one line on stderr, no traceback, exit 2 (usage) or 1 (failure), nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest

from headrace import pipeline, step

from .conftest import Seeded
from .helpers import assert_one_line_error, headrace, tree_of


@step
def _count(n: int = 1) -> Annotated[int, "count"]:
    return n


@pipeline
def _counting(n: int = 1) -> None:
    _count(n=n)


def test_unknown_run_id(seeded: Seeded) -> None:
    result = headrace("runs", "show", "0" * 32, home=seeded.home)
    assert_one_line_error(result, 1, "no run matches")


def test_ambiguous_run_prefix(home: Path) -> None:
    first_chars: dict[str, str] = {}
    for n in range(200):
        run_id = _counting(n=n).id
        if run_id[0] in first_chars:
            break
        first_chars[run_id[0]] = run_id
    else:
        pytest.fail("no two run ids shared a first character")
    prefix = run_id[0]
    for command in (["runs", "show", prefix], ["env", prefix], ["reproduce", prefix]):
        result = headrace(*command, home=home)
        assert_one_line_error(result, 1, f"'{prefix}' is ambiguous", run_id)
    assert not list(home.parent.glob("reproduce-*"))


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["artifacts", "show", "raw:notanumber"], "not 'notanumber'"),
        (["lineage", "raw:notanumber"], "positive whole number"),
        (["artifacts", "load", "raw:0", "--out", "OUT"], "not '0'"),
        (["artifacts", "list", "--limit", "3"], "No such option"),
        (["runs", "list", "--status", "bogus"], "'bogus'"),
        (["lineage", "raw", "--json", "--dot"], "cannot be combined"),
    ],
)
def test_usage_errors_on_the_seeded_home(
    seeded: Seeded, tmp_path: Path, command: list[str], fragment: str
) -> None:
    out = tmp_path / "out.json"
    result = headrace(*[str(out) if a == "OUT" else a for a in command], home=seeded.home)
    assert_one_line_error(result, 2, fragment)
    assert not out.exists()


def test_missing_artifact_is_a_failure(seeded: Seeded) -> None:
    assert_one_line_error(
        headrace("artifacts", "show", "nothere", home=seeded.home), 1, "'nothere'"
    )
    debug = headrace("--debug", "artifacts", "show", "nothere", home=seeded.home)
    assert debug.code == 1
    assert "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1] == "Error: no artifact named 'nothere'"


@pytest.mark.parametrize(
    ("target", "fragments"),
    [
        ("missing.py:tiny", ["missing.py does not exist"]),
        ("TINY:nothere", ["no attribute 'nothere'", "pipelines in it: tiny, broken"]),
        ("TINY:helper", ["'helper'", "is a int, not a @pipeline"]),
        ("TINY:make", ["'make'", "is a step, not a pipeline"]),
        ("TINY", ["defines 2 pipelines"]),
    ],
)
def test_run_usage_errors_write_nothing(
    tiny: Path, tmp_path: Path, target: str, fragments: list[str]
) -> None:
    home = tmp_path / "home"
    result = headrace("run", target.replace("TINY", str(tiny)), home=home, cwd=tmp_path)
    assert_one_line_error(result, 2, *fragments)
    assert not home.exists()


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        (["-p", "novalue"], "'novalue' is not KEY=VALUE"),
        (["-p", "size=3"], "has no parameter size"),
        (["-p", "9lives=1"], "not a parameter name"),
    ],
)
def test_bad_parameters(tiny: Path, tmp_path: Path, params: list[str], fragment: str) -> None:
    home = tmp_path / "home"
    result = headrace("run", f"{tiny}:tiny", *params, home=home)
    assert_one_line_error(result, 2, fragment)
    assert not home.exists()


def test_a_file_that_fails_to_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import json\n\nraise RuntimeError('not today')\n")
    result = headrace("run", f"{bad}:anything", home=tmp_path / "home")
    assert_one_line_error(result, 1, "failed at line 3", "RuntimeError: not today")


def test_unwritable_store(tiny: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    home = blocker / "sub"  # cannot be created, even by root
    before = tree_of(tmp_path)
    for command in (["runs", "list"], ["run", f"{tiny}:tiny"], ["gc", "--delete"]):
        result = headrace(*command, home=home, cwd=tmp_path)
        assert_one_line_error(result, 1, "cannot create the headrace home folder", str(home))
    result = headrace("--home", home, "init", home=None, cwd=tmp_path)
    assert_one_line_error(result, 1, str(home))
    assert tree_of(tmp_path) == before
