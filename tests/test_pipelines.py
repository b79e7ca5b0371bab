"""Defining steps and pipelines: tracing, specs and every wiring mistake (nothing runs)."""

from __future__ import annotations

import json
from typing import Annotated

import pytest

from headrace import ConfigError, DefinitionError, pipeline, step
from headrace.spec import PipelineSpec


@step
def make(n: int = 3) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def total(numbers: list[int], scale: float = 1.0) -> Annotated[float, "sum"]:
    return sum(numbers) * scale


@step
def pair(numbers: list[int]) -> tuple[Annotated[list[int], "evens"], Annotated[list[int], "odds"]]:
    return [x for x in numbers if x % 2 == 0], [x for x in numbers if x % 2]


@step
def plain(x: int) -> int:
    return x + 1


@step
def nothing() -> None:
    return None


def test_a_step_outside_a_pipeline_is_the_plain_function() -> None:
    assert make(4) == [0, 1, 2, 3]
    assert total([1, 2], scale=2) == 6
    assert pair([1, 2, 3]) == ([2], [1, 3])


def test_outputs_come_from_annotations() -> None:
    assert [o.name for o in make.outputs] == ["numbers"]
    assert [o.name for o in pair.outputs] == ["evens", "odds"]
    assert [o.name for o in plain.outputs] == ["output"]
    assert nothing.outputs == ()


def test_tracing_builds_a_json_spec_that_round_trips() -> None:
    @pipeline
    def flow(n: int = 5, scale: float = 2.0) -> None:
        evens, odds = pair(make(n=n))
        total(evens, scale=scale)
        total(odds)

    spec = flow.compile(n=7)
    data = json.loads(json.dumps(spec.to_dict()))
    assert PipelineSpec.from_dict(data) == spec
    assert spec.parameters == {"n": 7, "scale": 2.0}
    assert [s.name for s in spec.steps] == ["make", "pair", "total", "total_2"]
    assert spec.step("make").parameters == {"n": 7}
    assert spec.step("total").inputs["numbers"].output == "evens"
    assert spec.step("total_2").inputs["numbers"].output == "odds"
    assert spec.step("total_2").parameters == {"scale": 1.0}
    assert spec.order() == ["make", "pair", "total", "total_2"]


def test_explicit_ids_and_after() -> None:
    @pipeline
    def flow() -> None:
        first = make(n=2, id="small")
        make(n=3, id="large", after=["small"])
        total(first, id="sum_small")

    spec = flow.compile()
    assert spec.step("large").after == ("small",)
    assert spec.step("sum_small").inputs["numbers"].step == "small"


def test_non_json_parameter_is_a_definition_error_naming_the_step() -> None:
    @pipeline
    def flow() -> None:
        total(make(), scale=object())  # type: ignore[arg-type]

    with pytest.raises(
        DefinitionError, match=r"step 'total'.*scale.*neither the output of a step nor a JSON"
    ):
        flow.compile()


def test_an_object_that_no_step_produced_is_rejected() -> None:
    @pipeline
    def flow() -> None:
        total({1, 2, 3})  # type: ignore[arg-type]

    with pytest.raises(DefinitionError, match=r"step 'total'.*argument 'numbers' is a set"):
        flow.compile()


def test_missing_input() -> None:
    @pipeline
    def flow() -> None:
        total()  # type: ignore[call-arg]

    with pytest.raises(DefinitionError, match=r"step 'total'.*missing input 'numbers'"):
        flow.compile()


def test_unknown_argument() -> None:
    @pipeline
    def flow() -> None:
        total(make(), bogus=1)  # type: ignore[call-arg]

    with pytest.raises(DefinitionError, match="step 'total'"):
        flow.compile()


def test_unknown_step_option() -> None:
    with pytest.raises(DefinitionError, match=r"step 'f'.*unknown step option.*cahce"):

        @step(cahce=False)  # type: ignore[call-overload]
        def f() -> int:
            return 1


def test_bad_option_value() -> None:
    with pytest.raises(DefinitionError, match="retries"):

        @step(retries=-1)
        def f() -> int:
            return 1


def test_two_outputs_with_the_same_name() -> None:
    with pytest.raises(DefinitionError, match=r"step 'twice'.*two outputs are named a"):

        @step
        def twice() -> tuple[Annotated[int, "a"], Annotated[int, "a"]]:
            return 1, 2


def test_postponed_annotation_text_is_parsed_without_evaluating() -> None:
    namespace: dict[str, object] = {}
    exec(
        "from __future__ import annotations\n"
        "from typing import Annotated\n"
        "from headrace import step\n"
        "@step\n"
        "def s() -> tuple[Annotated[pd.DataFrame, 'train'], Annotated['pd.DataFrame', 'test']]:\n"
        "    pass\n",
        namespace,
    )
    s = namespace["s"]
    assert [(o.name, o.type) for o in s.outputs] == [
        ("train", "pd.DataFrame"),
        ("test", "pd.DataFrame"),
    ]  # type: ignore[attr-defined]


def test_branching_on_an_output_in_the_body_is_explained() -> None:
    @pipeline
    def flow() -> None:
        if make():
            plain(1)

    with pytest.raises(DefinitionError, match="branch inside a step"):
        flow.compile()


def test_missing_pipeline_parameter_and_non_json_pipeline_parameter() -> None:
    @pipeline
    def flow(n: int) -> None:
        make(n=n)

    with pytest.raises(DefinitionError, match="missing parameter 'n'"):
        flow.compile()
    with pytest.raises(DefinitionError, match="parameter 'n' is a bytes"):
        flow.compile(n=b"x")  # type: ignore[arg-type]


def test_empty_pipeline() -> None:
    @pipeline
    def flow() -> None:
        pass

    with pytest.raises(DefinitionError, match="calls no steps"):
        flow.compile()


def test_unpacking_a_single_output_is_explained() -> None:
    @pipeline
    def flow() -> None:
        _a, _b = make()

    with pytest.raises(DefinitionError, match="cannot be unpacked"):
        flow.compile()


def test_config_sets_pipeline_and_step_parameters_and_options(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "run.yaml"
    config.write_text(
        "parameters:\n  n: 9\nsteps:\n  total:\n    parameters:\n      scale: 3.0\n    cache: false\n    retries: 2\n"
    )

    @pipeline
    def flow(n: int = 1) -> None:
        total(make(n=n))

    spec = flow.with_options(config=str(config)).compile()
    assert spec.parameters == {"n": 9}
    assert spec.step("make").parameters == {"n": 9}
    assert spec.step("total").parameters == {"scale": 3.0}
    assert spec.step("total").options.cache is False
    assert spec.step("total").options.retries == 2
    spec = flow.with_options(cache=False).compile()
    assert all(not s.options.cache for s in spec.steps)
    spec = flow.with_options(steps={"make": {"cache_version": "2"}}).compile()
    assert spec.step("make").options.cache_version == "2"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"paramters": {}}, "unknown key.*paramters"),
        ({"steps": {"total": {"retires": 1}}}, "steps.total has unknown key.*retires"),
        ({"steps": {"nope": {"cache": False}}}, "unknown step.*nope"),
        ({"steps": {"total": {"parameters": {"bogus": 1}}}}, "unknown parameter 'bogus'"),
        ({"steps": {"total": {"parameters": {"numbers": [1]}}}}, "fed by a step output"),
        ({"parameters": {"m": 1}}, "unknown parameter.*m"),
        ({"cache": "yes"}, "'cache' must be true or false"),
        ({"steps": {"total": {"retries": "two"}}}, "retries"),
    ],
)
def test_bad_run_config(config: dict, message: str) -> None:  # type: ignore[type-arg]
    @pipeline
    def flow(n: int = 1) -> None:
        total(make(n=n))

    with pytest.raises(ConfigError, match=message):
        flow.with_options(config=config).compile()


def test_missing_or_invalid_yaml_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    @pipeline
    def flow() -> None:
        make()

    with pytest.raises(ConfigError, match="does not exist"):
        flow.with_options(config=str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        flow.with_options(config=str(bad))
