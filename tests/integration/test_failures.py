"""Failures and bad input at run time: errors name the step, nothing half-written."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Annotated

import pytest

from headrace import (
    ArtifactCorruptedError,
    Client,
    DefinitionError,
    StepError,
    get_step_context,
    pipeline,
    step,
)


class Boom(RuntimeError):
    pass


@step
def source(n: int = 3) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def explode(numbers: list[int]) -> Annotated[int, "never"]:
    raise Boom(f"bad batch of {len(numbers)}")


@step
def after_explode(never: int) -> Annotated[int, "later"]:
    return never + 1


@step
def independent(numbers: list[int]) -> Annotated[int, "fine"]:
    return sum(numbers)


@pipeline
def failing() -> None:
    numbers = source()
    after_explode(explode(numbers))
    independent(numbers)


def _rows(home: Path, table: str) -> int:
    db = home / "headrace.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"select count(*) from {table}").fetchone()[0])


def _object_count(home: Path) -> int:
    objects = home / "artifacts" / "objects"
    return sum(1 for _ in objects.rglob("*.manifest.json")) if objects.exists() else 0


def test_a_failing_step_fails_the_run_skips_downstream_and_finishes_branches(home: Path) -> None:
    with pytest.raises(
        StepError, match=r"step 'explode' of run \w+ failed: Boom: bad batch of 3"
    ) as info:
        failing()
    assert isinstance(info.value.__cause__, Boom)
    assert info.value.step == "explode"
    run = Client().run(info.value.run_id or "")
    assert run.status == "failed"
    steps = run.steps
    assert steps["explode"].status == "failed"
    assert "Boom: bad batch of 3" in (steps["explode"].error or "")
    assert steps["after_explode"].status == "skipped"
    assert steps["independent"].status == "completed"
    assert steps["independent"].outputs["fine"].load() == 3
    assert "never" not in {a.name for a in Client().artifacts()}


def test_definition_errors_write_nothing(home: Path) -> None:
    @pipeline
    def broken() -> None:
        independent(object())  # type: ignore[arg-type]

    with pytest.raises(DefinitionError, match="step 'independent'"):
        broken()
    assert _rows(home, "runs") == 0
    assert _object_count(home) == 0


class NotSerializable:
    pass


@step
def odd_output() -> tuple[Annotated[int, "good"], Annotated[NotSerializable, "bad"]]:
    return 1, NotSerializable()


def test_an_output_without_materializer_names_the_step_and_output_and_stores_nothing(
    home: Path,
) -> None:
    @pipeline
    def flow() -> None:
        odd_output()

    with pytest.raises(
        StepError, match=r"step 'odd_output'.*output 'bad'.*NotSerializable"
    ) as info:
        flow()
    assert "allow_pickle" in str(info.value)
    assert Client().artifacts() == []
    assert _object_count(home) == 0


def test_pickle_is_opt_in_and_recorded(home: Path) -> None:
    @pipeline
    def flow() -> None:
        odd_output.with_options(allow_pickle=True)()

    run = flow()
    bad = run.steps["odd_output"].outputs["bad"]
    assert bad.materializer == "pickle"
    assert isinstance(bad.load(), NotSerializable)


def test_wrong_number_of_returned_values(home: Path) -> None:
    @step
    def two() -> tuple[Annotated[int, "a"], Annotated[int, "b"]]:
        return 1  # type: ignore[return-value]

    @pipeline
    def flow() -> None:
        two()

    with pytest.raises(StepError, match=r"declares 2 outputs \(a, b\) but returned a int"):
        flow()


def test_corrupted_bytes_are_refused_on_load_and_in_a_run(home: Path) -> None:
    @step
    def scale(numbers: list[int], k: int = 1) -> Annotated[list[int], "scaled"]:
        return [k * x for x in numbers]

    @pipeline
    def flow(k: int = 1) -> None:
        scale(source(), k=k)

    flow()
    numbers = Client().artifact("numbers")
    data_file = next(
        p
        for p in Path(numbers.uri.removeprefix("file://")).rglob("*")
        if p.is_file() and p.name != ".manifest.json"
    )
    data_file.write_bytes(data_file.read_bytes().replace(b"1", b"7"))
    with pytest.raises(ArtifactCorruptedError, match=numbers.hash[:12]):
        numbers.load()
    with pytest.raises(
        StepError, match=r"step 'scale'.*could not load its inputs.*ArtifactCorruptedError"
    ) as info:
        flow(k=2)
    assert isinstance(info.value.__cause__, ArtifactCorruptedError)


def test_deleted_bytes_are_a_cache_miss_and_a_rerun(home: Path) -> None:
    @pipeline
    def flow() -> None:
        independent(source())

    first = flow()
    fine = first.steps["independent"].outputs["fine"]
    shutil.rmtree(Path(fine.uri.removeprefix("file://")))
    again = flow()
    assert again.steps["source"].cache_hit
    assert not again.steps["independent"].cache_hit
    assert "outputs are missing" in (again.steps["independent"].cache_reason or "")
    assert again.steps["independent"].outputs["fine"].load() == 3


def test_retries_with_backoff(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "attempts"

    @step(retries=2, retry_delay=0.0)
    def flaky() -> Annotated[int, "value"]:
        count = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(count + 1))
        if count < 2:
            raise ConnectionError("transient")
        return count

    @pipeline
    def flow() -> None:
        flaky()

    run = flow()
    assert run.steps["flaky"].record.attempts == 3
    assert run.steps["flaky"].outputs["value"].load() == 2


def test_step_context_and_metadata(home: Path) -> None:
    seen: dict[str, str] = {}

    @step
    def introspect() -> Annotated[str, "note"]:
        from headrace import log_metadata

        ctx = get_step_context()
        seen.update(run=ctx.run_id, step=ctx.step_name, pipeline=ctx.pipeline_name)
        extra = Path(ctx.output_uri("note")) / "extra.txt"
        extra.write_text("kept with the artifact")
        log_metadata({"rows": 5})
        log_metadata({"quality": "high"}, artifact="note")
        return "hello"

    @pipeline
    def flow() -> None:
        introspect()

    run = flow()
    assert seen == {"run": run.id, "step": "introspect", "pipeline": "flow"}
    note = run.steps["introspect"].outputs["note"]
    assert run.steps["introspect"].metadata == {"rows": 5}
    assert note.metadata["quality"] == "high"
    assert (
        Path(note.uri.removeprefix("file://")) / "extra.txt"
    ).read_text() == "kept with the artifact"
    with pytest.raises(Exception, match="only available inside a running step"):
        get_step_context()


def test_independent_steps_run_in_parallel(home: Path) -> None:
    barrier = threading.Barrier(2, timeout=20)

    @step(cache=False)
    def left(numbers: list[int]) -> Annotated[int, "l"]:
        barrier.wait()  # only passes if the other branch is running at the same time
        return 1

    @step(cache=False)
    def right(numbers: list[int]) -> Annotated[int, "r"]:
        barrier.wait()
        return 2

    @pipeline
    def flow() -> None:
        numbers = source()
        left(numbers)
        right(numbers)

    assert flow.with_options(orchestrator={"max_parallel": 2})().status == "completed"
