"""The one scheduler: maps, fan-in, sub-pipelines, stable output identities, and the
same records whichever executor ran the tasks. A cached step launches nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from headrace import Client, ConfigError, DefinitionError, StepError, pipeline
from headrace.orchestrators import load_orchestrator
from headrace.stack import Stack, active_stack

from . import flows

REPO = Path(__file__).resolve().parents[2]


class Counting:
    """Wraps an orchestrator and counts what it is handed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_in_flight = inner.max_in_flight
        self.submitted: list[str] = []

    def open(self, context: Any) -> None:
        self.inner.open(context)

    def submit(self, task: Any) -> Any:
        self.submitted.append(task.run_name)
        return self.inner.submit(task)

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        self.inner.close()


def run_counted(pipe: Any, isolation: str = "threads", **params: Any) -> tuple[Any, list[str]]:
    base = active_stack()
    counting = Counting(load_orchestrator({"isolation": isolation}))
    spec = pipe.compile(**params)
    functions = {s.name: flows.__dict__[s.function.qualname].func for s in spec.steps}
    run_id = Stack(base.settings, counting).run(spec, functions=functions)
    return Client().run(run_id), counting.submitted


def test_a_map_runs_one_step_run_per_element_and_the_join_gets_them_in_order(home: Path) -> None:
    run = flows.mapped(n=5)
    assert run.status == "completed"
    names = list(run.steps)
    assert names[0] == "numbers" and names[-1] == "total"
    assert sorted(n for n in names if n.startswith("square[")) == [f"square[{i}]" for i in range(5)]
    assert run.steps["total"].outputs["total"].load() == sum(i * i for i in range(5))
    element = run.steps["square[3]"]
    assert element.outputs["square"].load() == 9
    assert element.outputs["square"].metadata["map_index"] == 3
    # The join's inputs are the elements' outputs, in element order.
    joined = run.steps["total"].record.inputs
    assert list(joined) == [f"values[{i}]" for i in range(5)]
    assert [run.steps[f"square[{i}]"].outputs["square"].id for i in range(5)] == list(
        joined.values()
    )


def test_a_map_caches_per_element(home: Path) -> None:
    flows.mapped(n=4)
    again, submitted = run_counted(flows.mapped, n=5)
    # numbers reruns (n changed); elements 0-3 are hits, element 4 is new; total reruns.
    assert submitted == ["numbers", "square[4]", "total"]
    assert [again.steps[f"square[{i}]"].cache_hit for i in range(5)] == [True] * 4 + [False]
    assert "new content" in (again.steps["square[4]"].cache_reason or "")
    assert again.steps["total"].outputs["total"].load() == 30


def test_a_cached_step_launches_nothing(home: Path) -> None:
    first, submitted = run_counted(flows.mapped, n=3)
    assert len(submitted) == 5
    second, submitted = run_counted(flows.mapped, n=3)
    assert submitted == []
    assert all(s.cache_hit for s in second.steps.values())
    assert second.steps["total"].outputs["total"].id == first.steps["total"].outputs["total"].id


def test_maps_chain_element_by_element_and_over_literal_lists(home: Path) -> None:
    run = flows.chained(n=4)
    assert run.steps["total"].outputs["total"].load() == sum(i * i + 1 for i in range(4))
    assert run.steps["add[2]"].inputs["x"].load() == 4
    run = flows.literal(values=[2, 3])
    assert run.steps["total"].outputs["total"].load() == 13
    assert run.steps["square[1]"].outputs["square"].load() == 9


def test_mapping_over_something_that_is_not_a_list(home: Path) -> None:
    with pytest.raises(DefinitionError, match="map\\(\\) runs over a list"):

        @pipeline
        def bad() -> None:
            flows.square.map(5)

        bad.compile()
    with pytest.raises(StepError, match=r"map over 'x' needs a list.*int") as info:
        flows.maps_over_a_scalar()
    run = Client().run(info.value.run_id or "")
    assert run.status == "failed"


def test_iterating_a_step_output_points_to_map() -> None:
    @pipeline
    def bad() -> None:
        for value in flows.numbers():
            flows.square(value)

    with pytest.raises(DefinitionError, match=r"use other_step\.map\(numbers\)"):
        bad.compile()


def test_map_outside_a_pipeline_is_a_plain_loop() -> None:
    assert flows.add.map([1, 2], y=10) == [11, 12]


def test_static_fan_in_takes_a_list_of_step_outputs(home: Path) -> None:
    run = flows.fan_in(Cs=[0.1, 0.5, 2.0])
    assert run.steps["pick_best"].outputs["best"].load()["C"] == 0.5
    assert list(run.steps["pick_best"].record.inputs) == ["models[0]", "models[1]", "models[2]"]


def test_repeated_calls_keep_their_outputs_apart(home: Path) -> None:
    run = flows.fan_in(Cs=[0.1, 0.5, 2.0])
    names = {n: s.outputs["model"].name for n, s in run.steps.items() if n.startswith("fit")}
    assert names == {"fit": "fit.model", "fit_2": "fit_2.model", "fit_3": "fit_3.model"}
    assert Client().artifact("fit_2.model").load()["C"] == 0.5
    run = flows.ids()
    assert run.steps["small"].outputs["model"].name == "small.model"
    assert Client().artifact("small.model").load()["C"] == 0.1
    # A single call keeps the plain output name.
    run = flows.mapped(n=2)
    assert run.steps["total"].outputs["total"].name == "total"


def test_pipelines_compose_as_namespaced_sub_graphs(home: Path) -> None:
    run = flows.composed(n=6)
    assert set(run.steps) == {"prep.numbers", "prep.clean", "total"}
    assert run.steps["prep.clean"].outputs["cleaned"].name == "prep.cleaned"
    assert run.steps["total"].outputs["total"].load() == 0 + 2 + 4
    # The sub-pipeline on its own keeps its own names.
    alone = flows.prep(n=6)
    assert set(alone.steps) == {"numbers", "clean"}


def test_a_sub_pipeline_used_twice_needs_ids() -> None:
    @pipeline
    def twice() -> None:
        flows.total(flows.prep(n=2))
        flows.total(flows.prep(n=4))

    with pytest.raises(DefinitionError, match="used twice"):
        twice.compile()

    @pipeline
    def named() -> None:
        flows.total(flows.prep(n=2, id="small"))
        flows.total(flows.prep(n=4, id="large"))

    spec = named.compile()
    assert {s.name for s in spec.steps} >= {"small.numbers", "large.clean"}


def _records(run: Any) -> list[tuple[Any, ...]]:
    """What a run recorded, minus ids and times: comparable across executors."""
    rows = []
    for name, s in sorted(run.steps.items()):
        outputs = sorted((k, v.name, v.hash, v.type, v.materializer) for k, v in s.outputs.items())
        inputs = sorted((k, v.hash) for k, v in s.inputs.items())
        rows.append((name, s.status, s.cache_hit, s.record.attempts, tuple(outputs), tuple(inputs)))
    return rows


@pytest.mark.parametrize("pipe", ["quarterly", "failing", "mapped"])
def test_threads_and_processes_record_the_same(
    pipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from quarterly import quarterly
    finally:
        sys.path.remove(str(REPO / "examples"))
    target = {
        "quarterly": (quarterly, {"n": 300}),
        "failing": (flows.failing, {}),
        "mapped": (flows.mapped, {"n": 500}),
    }[pipe]
    seen = []
    for isolation in ("threads", "process"):
        monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / isolation))
        configured = target[0].with_options(
            orchestrator={"isolation": isolation, "max_parallel": 2}
        )
        try:
            run = configured(**target[1])
        except StepError as exc:
            run = Client().run(exc.run_id or "")
        seen.append((run.status, _records(run)))
    assert seen[0] == seen[1]


def test_resume_gives_the_same_records_through_threads_and_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    for isolation in ("threads", "process"):
        monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / isolation))
        monkeypatch.setenv("FLOW_DIR", str(tmp_path / isolation))
        (tmp_path / isolation).mkdir()
        (tmp_path / isolation / "fail").write_text("")
        from reliability.flows import faulty

        configured = faulty.with_options(orchestrator={"isolation": isolation})
        with pytest.raises(StepError):
            configured()
        failed = Client().runs()[0]
        (tmp_path / isolation / "fail").unlink()
        resumed = Client().resume(failed)
        seen.append([(n, s.status, s.cache_hit) for n, s in sorted(resumed.steps.items())])
    assert seen[0] == seen[1]
    assert ("produce", "completed", True) in seen[0]


def test_a_materializer_registered_in_the_driver_reaches_a_step_process(home: Path) -> None:
    from headrace import materializers

    from .custom import Celsius, CelsiusMaterializer, measured

    materializers.register(Celsius, CelsiusMaterializer)
    try:
        run = measured.with_options(orchestrator={"isolation": "process"})()
        out = run.steps["measure"].outputs["reading"]
        assert out.materializer == "celsius"
        assert out.load().degrees == 21.5
    finally:
        registry = materializers._registry.REGISTRY
        registry._user_types.pop(materializers.type_name(Celsius), None)
        registry._resolved.clear()


def test_client_takes_its_stores(home: Path, tmp_path: Path) -> None:
    from headrace.home import StoreSettings
    from headrace.store.stores import Stores

    flows.mapped(n=2)
    settings = Client().settings
    stores = Stores.open(settings)
    try:
        client = Client(metadata=stores.metadata, artifacts=stores.artifacts, settings=settings)
        assert client.stores.metadata is stores.metadata
        assert client.runs()[0].pipeline == "mapped"
    finally:
        stores.close()
    with pytest.raises(ConfigError, match="both stores or neither"):
        Client(metadata=stores.metadata)
    other = StoreSettings(
        metadata_url=f"sqlite:///{tmp_path / 'other.db'}", artifact_uri=str(tmp_path / "a")
    )
    assert Client(settings=other).runs() == []
