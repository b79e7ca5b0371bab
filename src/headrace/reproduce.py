"""Reproduce a recorded run and compare environments.

:func:`reproduce` writes a run's pinned requirements and environment snapshot into a
folder, re-imports its pipeline from the source file the run recorded, reruns it with the
same parameters (and the same per-step parameters and materializers) with caching off,
and compares every step's outputs with the original run's by content hash. A step whose
inputs and code are unchanged but whose outputs differ is not deterministic; a step whose
inputs differ only inherits a difference from upstream.

:func:`load_script` and :func:`find_pipeline` are how ``headrace run`` and ``reproduce``
import a pipeline from a file, so both record the same function references.
:func:`diff_environments` compares two environment snapshots (``headrace env diff``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from headrace import environment
from headrace.errors import DefinitionError, StepError
from headrace.orchestrators import load_orchestrator
from headrace.pipelines import Pipeline, Step
from headrace.runner.functions import load_script, load_source
from headrace.spec.canonical import sha256_hex

if TYPE_CHECKING:
    # The client pulls in the SQL store; `headrace run` uses load_script without it.
    from headrace.client import Client, Run

__all__ = [
    "EnvironmentDiff",
    "Reproduction",
    "SourceCheck",
    "StepComparison",
    "diff_environments",
    "find_pipeline",
    "load_script",
    "pipelines_in",
    "reproduce",
]

REQUIREMENTS_FILE = "requirements.txt"
ENVIRONMENT_FILE = "environment.json"
SOURCE_FOLDER = "source"
REPORT_FILE = "reproduction.json"
_SUCCEEDED = frozenset({"completed"})  # a cache hit is "completed" with cache_hit set


# -- loading a pipeline from a file ----------------------------------------------------------


def pipelines_in(module: ModuleType) -> list[str]:
    """Names of the module-level pipelines of a module, in definition order."""
    return [name for name, value in vars(module).items() if isinstance(value, Pipeline)]


def find_pipeline(module: ModuleType, name: str | None) -> Pipeline[Any]:
    """The pipeline called ``name`` (a qualname) in ``module``; with ``name=None`` the only
    pipeline the module defines. DefinitionError naming what the module has otherwise."""
    file = getattr(module, "__file__", None) or module.__name__
    available = pipelines_in(module)
    known = f"pipelines in it: {', '.join(available)}" if available else "it defines no pipeline"
    if name is None:
        if len(available) == 1:
            return find_pipeline(module, available[0])
        raise DefinitionError(
            f"{file} defines {len(available)} pipelines; name one as FILE:PIPELINE ({known})"
        )
    target: Any = module
    for part in name.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise DefinitionError(f"{file} has no attribute '{name}' ({known})")
    if isinstance(target, Pipeline):
        return target
    if isinstance(target, Step):
        raise DefinitionError(f"'{name}' in {file} is a step, not a pipeline ({known})")
    kind = type(target).__name__
    raise DefinitionError(f"'{name}' in {file} is a {kind}, not a @pipeline ({known})")


# -- environments -------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentDiff:
    """What differs between two environment snapshots ``a`` and ``b``. Each field maps a
    key to its ``(a, b)`` values and holds only keys whose values differ."""

    python: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    os: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    git: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    source: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    added: dict[str, str] = field(default_factory=dict)  # package -> version in b only
    removed: dict[str, str] = field(default_factory=dict)  # package -> version in a only
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: editable installs whose source folder, commit or uncommitted changes differ
    editable: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not any(
            (
                self.python,
                self.os,
                self.git,
                self.source,
                self.added,
                self.removed,
                self.changed,
                self.editable,
            )
        )

    @property
    def same_packages(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        def pairs(values: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
            return {k: {"a": a, "b": b} for k, (a, b) in values.items()}

        return {
            "same": self.same,
            "python": pairs(self.python),
            "os": pairs(self.os),
            "git": pairs(self.git),
            "source": pairs(self.source),
            "editable": pairs(self.editable),
            "packages": {
                "added": dict(self.added),
                "removed": dict(self.removed),
                "changed": pairs(self.changed),
            },
        }


def diff_environments(a: Mapping[str, Any], b: Mapping[str, Any]) -> EnvironmentDiff:
    """Compare two snapshots made by :func:`headrace.environment.snapshot`."""

    def section(name: str, skip: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any]]:
        left, right = a.get(name) or {}, b.get(name) or {}
        keys = sorted((set(left) | set(right)) - set(skip))
        return {k: (left.get(k), right.get(k)) for k in keys if left.get(k) != right.get(k)}

    git = section("git")
    if (a.get("git") is None) != (b.get("git") is None):
        git = {"repository": (a.get("git") is not None, b.get("git") is not None), **git}
    packages_a: Mapping[str, str] = a.get("packages") or {}
    packages_b: Mapping[str, str] = b.get("packages") or {}
    editable = {
        name: (_editable_state(a, name), _editable_state(b, name))
        for name in sorted(set(a.get("editable") or {}) | set(b.get("editable") or {}))
    }
    return EnvironmentDiff(
        editable={k: v for k, v in editable.items() if v[0] != v[1]},
        python=section("python"),
        os=section("os"),
        git=git,
        source=section("source", skip=("text",)),
        added={n: v for n, v in packages_b.items() if n not in packages_a},
        removed={n: v for n, v in packages_a.items() if n not in packages_b},
        changed={
            n: (v, packages_b[n])
            for n, v in packages_a.items()
            if n in packages_b and packages_b[n] != v
        },
    )


def _editable_state(snapshot: Mapping[str, Any], name: str) -> str | None:
    entry = (snapshot.get("editable") or {}).get(name)
    if entry is None:
        return None
    git = entry.get("git") or {}
    commit = str(git.get("commit"))[:12] if git else "no git"
    dirty = " +uncommitted " + str(git.get("diff_hash"))[:8] if git.get("dirty") else ""
    return f"{entry.get('path')} @ {commit}{dirty}"


# -- reproducing a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceCheck:
    """The pipeline's source file now versus when the run recorded it."""

    file: str | None
    recorded_sha256: str | None
    current_sha256: str | None
    captured: bool = False  # rerun from the source captured with the run (a notebook)

    @property
    def status(self) -> str:
        """``same``, ``changed``, ``missing`` (the file is gone) or ``unrecorded``."""
        if not self.captured and (self.file is None or not Path(self.file).is_file()):
            return "missing"
        if self.recorded_sha256 is None:
            return "unrecorded"
        return "same" if self.recorded_sha256 == self.current_sha256 else "changed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "captured": self.captured,
            "recorded_sha256": self.recorded_sha256,
            "current_sha256": self.current_sha256,
        }


@dataclass(frozen=True)
class StepComparison:
    """One step of the original run against the same step of the rerun.

    ``outputs`` maps each output name to its ``(original hash, rerun hash)``; a side
    without that output has None.
    """

    name: str
    original_status: str | None
    rerun_status: str | None
    outputs: dict[str, tuple[str | None, str | None]]
    inputs_identical: bool
    code_changed: bool

    @property
    def status(self) -> str:
        """``identical``, ``different``, ``failed`` (in the rerun), ``not run`` (absent from
        the rerun), ``new`` (absent from the original) or ``not comparable`` (the original
        step did not complete)."""
        if self.original_status is None:
            return "new"
        if self.original_status not in _SUCCEEDED:
            return "not comparable"
        if self.rerun_status is None or self.rerun_status == "skipped":
            return "not run"
        if self.rerun_status not in _SUCCEEDED:
            return "failed"
        same = all(old is not None and old == new for old, new in self.outputs.values())
        return "identical" if same else "different"

    @property
    def identical(self) -> bool:
        return self.status == "identical"

    @property
    def deterministic(self) -> bool | None:
        """False when the step got the same inputs and code and still wrote other bytes;
        None when that cannot be told (inputs or code differ, or it did not complete)."""
        if self.status == "identical":
            return True
        if self.status != "different" or not self.inputs_identical or self.code_changed:
            return None
        return False

    @property
    def differing_outputs(self) -> list[str]:
        return [name for name, (old, new) in self.outputs.items() if old != new]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "identical": self.identical,
            "deterministic": self.deterministic,
            "inputs_identical": self.inputs_identical,
            "code_changed": self.code_changed,
            "original_status": self.original_status,
            "rerun_status": self.rerun_status,
            "outputs": {
                n: {"original": old, "rerun": new} for n, (old, new) in self.outputs.items()
            },
        }


@dataclass(frozen=True)
class Reproduction:
    """The outcome of :func:`reproduce`."""

    original: Run
    rerun: Run | None
    directory: Path
    files: list[Path]
    source: SourceCheck
    environment: EnvironmentDiff | None  # original environment versus the rerun's
    steps: list[StepComparison]
    error: str | None = None  # why the rerun failed, if it did

    @property
    def identical(self) -> bool:
        """Every step of the original run came out bit-identical."""
        return self.error is None and bool(self.steps) and all(s.identical for s in self.steps)

    @property
    def nondeterministic(self) -> list[str]:
        """Steps that wrote different bytes from the same inputs and code."""
        return [s.name for s in self.steps if s.deterministic is False]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.original.id,
            "pipeline": self.original.pipeline,
            "parameters": self.original.parameters,
            "rerun_id": self.rerun.id if self.rerun else None,
            "rerun_status": self.rerun.status if self.rerun else None,
            "identical": self.identical,
            "nondeterministic": self.nondeterministic,
            "error": self.error,
            "directory": str(self.directory),
            "files": [str(f) for f in self.files],
            "source": self.source.to_dict(),
            "environment": self.environment.to_dict() if self.environment else None,
            "steps": [s.to_dict() for s in self.steps],
        }


def reproduce(
    run: Run | str, directory: str | Path, *, client: Client | None = None
) -> Reproduction:
    """Pin ``run``'s environment into ``directory``, rerun it, and compare outputs.

    ``run`` is a Run or a reference (id, unique prefix, ``latest``). Files written:
    ``requirements.txt``, ``environment.json``, ``source/<file>`` (the pipeline source as
    recorded) and ``reproduction.json`` (this report). The rerun is recorded in the store
    with the original run as its origin.

    Raises DefinitionError when the recorded source file is gone or no longer defines the
    pipeline (the pinned files are written first). A rerun whose step fails is reported,
    not raised: see ``Reproduction.error``.
    """
    from headrace.client import Client

    if client is None:
        client = Client() if isinstance(run, str) else run.client
    original = client.run(run) if isinstance(run, str) else run
    folder = Path(directory).expanduser()
    env = original.environment
    files = _write_pinned_files(original, env, folder)

    check, file, qualname = _check_source(original, env, files)
    captured = (original.record.spec.get("source") or {}).get("source")
    module = (
        load_source(captured) if isinstance(captured, str) and check.captured else load_script(file)
    )
    pipeline = find_pipeline(module, qualname)
    rerun, rerun_spec, error = _rerun(pipeline, original, client)

    rerun_env = rerun.environment if rerun else environment.snapshot(file)
    report = folder / REPORT_FILE
    result = Reproduction(
        original=original,
        rerun=rerun,
        directory=folder,
        files=[*files, report],
        source=check,
        environment=diff_environments(env, rerun_env) if env else None,
        steps=_compare_steps(original, rerun, rerun_spec),
        error=error,
    )
    report.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result


def _check_source(
    original: Run, env: Mapping[str, Any], files: list[Path]
) -> tuple[SourceCheck, str, str]:
    """The recorded source file against the current one, that file and the pipeline's
    qualname; DefinitionError when there is nothing to import."""
    source_ref = original.record.spec.get("source") or {}
    file, qualname = source_ref.get("file"), source_ref.get("qualname")
    captured = source_ref.get("source")
    current_text = _read_text(file)
    if current_text is None and isinstance(captured, str):
        # Defined in a notebook: no file to read, the run carries its pipeline's code.
        current_text = captured
        file = file or "<captured>"
    check = SourceCheck(
        file=file,
        recorded_sha256=(env.get("source") or {}).get("sha256"),
        current_sha256=sha256_hex(current_text) if current_text is not None else None,
        captured=current_text is captured and captured is not None,
    )
    if file is None or qualname is None:
        raise DefinitionError(
            f"run {original.id} recorded no source file for pipeline '{original.pipeline}', "
            "so it cannot be rerun"
        )
    if check.status == "missing":
        saved = next((f for f in files if f.parent.name == SOURCE_FOLDER), None)
        hint = f"; the recorded source is in {saved}" if saved else ""
        raise DefinitionError(
            f"the pipeline source file {file} of run {original.id[:12]} no longer exists{hint}"
        )
    return check, file, qualname


def _rerun(
    pipeline: Pipeline[Any], original: Run, client: Client
) -> tuple[Run | None, dict[str, Any], str | None]:
    """Run ``pipeline`` again as ``original`` ran, caching off: (rerun, its spec, error)."""
    parameters = dict(original.parameters)
    configured = pipeline.with_options(cache=False)
    overrides = _step_overrides(original.record.spec, configured.compile(**parameters).to_dict())
    if overrides:
        configured = configured.with_options(steps=overrides)
    spec = configured.compile(**parameters)
    from headrace.stack import Stack

    stack = Stack(client.settings, load_orchestrator(dict(client.settings.orchestrator)))
    error: str | None = None
    rerun_id: str | None
    try:
        rerun_id = stack.run(spec, origin_run_id=original.id, stores=client.stores)
    except StepError as exc:
        error, rerun_id = str(exc), exc.run_id
    return (client.run(rerun_id) if rerun_id else None), spec.to_dict(), error


def _read_text(file: str | None) -> str | None:
    if file is None or not Path(file).is_file():
        return None
    # The same reading the environment snapshot does, so the hashes are comparable.
    return Path(file).read_text(encoding="utf-8", errors="replace")


def _write_pinned_files(run: Run, env: Mapping[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if env:
        requirements = folder / REQUIREMENTS_FILE
        header = (
            f"# pinned environment of headrace run {run.id} (pipeline {run.pipeline})\n"
            f"# Python {env.get('python', {}).get('version', '?')} on "
            f"{env.get('os', {}).get('platform', '?')}\n"
        )
        requirements.write_text(header + environment.requirements(dict(env)), encoding="utf-8")
        snapshot = folder / ENVIRONMENT_FILE
        snapshot.write_text(json.dumps(env, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written += [requirements, snapshot]
    source = env.get("source") if env else None
    if source and source.get("file") and source.get("text") is not None:
        target = folder / SOURCE_FOLDER / Path(source["file"]).name
        recorded = (run.record.spec.get("source") or {}).get("file")
        if recorded is None or target.resolve() != Path(recorded).resolve():
            target.parent.mkdir(exist_ok=True)
            target.write_text(source["text"], encoding="utf-8")
            written.append(target)
    return written


def _step_overrides(
    original: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per-step settings the original run had (from a run config) that the pipeline's
    code alone does not give: parameters, materializers and pickle permission."""
    now = {s["name"]: s for s in current.get("steps", [])}
    overrides: dict[str, dict[str, Any]] = {}
    for step in original.get("steps", []):
        mine = now.get(step["name"])
        if mine is None:
            continue
        wanted: dict[str, Any] = {}
        params = {
            k: v
            for k, v in step.get("parameters", {}).items()
            if k in mine["parameters"] and mine["parameters"][k] != v
        }
        if params:
            wanted["parameters"] = params
        options, mine_options = step.get("options", {}), mine.get("options", {})
        for key in ("materializers", "allow_pickle"):
            if key in options and options[key] != mine_options.get(key):
                wanted[key] = options[key]
        if wanted:
            overrides[step["name"]] = wanted
    return overrides


def _compare_steps(
    original: Run, rerun: Run | None, rerun_spec: Mapping[str, Any]
) -> list[StepComparison]:
    old_steps = original.steps
    new_steps = rerun.steps if rerun else {}
    old_code = {s["name"]: s.get("code_hash") for s in original.record.spec.get("steps", [])}
    new_code = {s["name"]: s.get("code_hash") for s in rerun_spec.get("steps", [])}
    declared = {
        s["name"]: [o["name"] for o in s.get("outputs", [])]
        for s in [*rerun_spec.get("steps", []), *original.record.spec.get("steps", [])]
    }
    names = list(old_code) + [n for n in old_steps if n not in old_code]
    names += [n for n in new_code if n not in names]
    comparisons = []
    for name in names:
        old, new = old_steps.get(name), new_steps.get(name)
        old_out = {k: v.hash for k, v in old.outputs.items()} if old else {}
        new_out = {k: v.hash for k, v in new.outputs.items()} if new else {}
        old_in = {k: v.hash for k, v in old.inputs.items()} if old else {}
        new_in = {k: v.hash for k, v in new.inputs.items()} if new else {}
        outputs = list(dict.fromkeys([*declared.get(name, []), *old_out, *new_out]))
        outputs = [k for k in outputs if k in old_out or k in new_out]
        comparisons.append(
            StepComparison(
                name=name,
                original_status=old.status if old else None,
                rerun_status=new.status if new else None,
                outputs={k: (old_out.get(k), new_out.get(k)) for k in outputs},
                inputs_identical=bool(old and new) and old_in == new_in,
                code_changed=name in old_code and old_code.get(name) != new_code.get(name),
            )
        )
    return comparisons
