"""The cache decision, made on the driver before anything is launched.

A step's key is the hash of its code fingerprint, parameters, the content hashes of its
inputs (an element's own hash for a map element), its output materializers and its
``cache_version`` (DESIGN §7). A hit counts only if every output's bytes still exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headrace.hashing import cache_key, explain_cache_miss
from headrace.spec.types import PipelineSpec, StepSpec
from headrace.store.records import ArtifactVersionRecord, StepRunRecord
from headrace.store.stores import Stores


@dataclass(frozen=True, slots=True)
class Decision:
    key: str
    components: dict[str, Any]
    hit: StepRunRecord | None  # the earlier step run whose outputs are reused
    reason: str  # why it hit, or why it missed


def components(
    step: StepSpec,
    inputs: Mapping[str, ArtifactVersionRecord | Sequence[ArtifactVersionRecord]],
    *,
    element: str | None = None,
) -> dict[str, Any]:
    """The parts of the cache key. ``element`` is a map element's content fingerprint,
    which stands in for the whole list input it comes from."""
    hashes: dict[str, Any] = {}
    for name, rec in inputs.items():
        if name == step.map_over and element is not None:
            continue
        hashes[name] = [r.hash for r in rec] if isinstance(rec, Sequence) else rec.hash
    parameters = dict(step.parameters)
    if element is not None:
        hashes[step.map_over or "item"] = element
        parameters.pop(step.map_over or "", None)
    parts: dict[str, Any] = {
        "code": step.code_hash,
        "parameters": parameters,
        "inputs": hashes,
        "materializers": {
            o.name: step.options.materializers.get(o.name) or o.materializer or o.type
            for o in step.outputs
        },
        "cache_version": step.options.cache_version,
    }
    # Where outputs are stored is part of their identity: a hit never hands one
    # artifact name's version to another (``train_2.model`` is not ``model``).
    renamed = {o.name: o.artifact_name for o in step.outputs if o.artifact_name != o.name}
    if renamed:
        parts["artifacts"] = renamed
    return parts


def outputs_intact(stores: Stores, step: StepSpec, outputs: Mapping[str, str]) -> bool:
    """A cache hit only counts if every output's bytes are still in the artifact store."""
    return all_intact(stores, step, [outputs])[0]


def all_intact(
    stores: Stores, step: StepSpec, candidates: Sequence[Mapping[str, str]]
) -> list[bool]:
    """:func:`outputs_intact` for many candidates (a map's hits) in a few queries."""
    wanted = {v for outputs in candidates for v in outputs.values()}
    records: dict[str, ArtifactVersionRecord] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        records.update(stores.metadata.get_artifact_versions_by_ids(ids[start : start + 500]))
    present = stores.artifacts.has_many({rec.hash for rec in records.values()})
    names = set(step.output_names)
    return [
        set(outputs) == names
        and all(v in records and present[records[v].hash] for v in outputs.values())
        for outputs in candidates
    ]


def hit_reason(found: StepRunRecord) -> str:
    return (
        f"same inputs, parameters and code as step run {found.id[:12]} of run {found.run_id[:12]}"
    )


def decide(
    stores: Stores,
    spec: PipelineSpec,
    step: StepSpec,
    parts: dict[str, Any],
    *,
    found: StepRunRecord | None,
    explain: bool = True,
    intact: bool | None = None,
) -> Decision:
    """Hit or miss for one step, given the newest completed step run with its key
    (``found``, looked up in a batch by the caller)."""
    key = cache_key(parts)
    if not step.options.cache:
        return Decision(key, parts, None, "caching is off for this step")
    if found is not None and (
        intact if intact is not None else outputs_intact(stores, step, found.outputs)
    ):
        return Decision(key, parts, found, hit_reason(found))
    if found is not None:
        reason = (
            "an earlier run had the same key but its outputs are missing from the artifact store"
        )
        return Decision(key, parts, None, reason)
    if not explain:  # a map element: its content is what is new
        return Decision(key, parts, None, "no earlier run of this element (new content)")
    previous = stores.metadata.previous_step_run(pipeline=spec.name, step=step.name)
    return Decision(
        key, parts, None, explain_cache_miss(previous.cache_components if previous else None, parts)
    )
