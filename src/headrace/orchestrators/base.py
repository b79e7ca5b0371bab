"""The orchestrator protocol and flavor discovery through entry points."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from headrace.errors import ConfigError
from headrace.home import StoreSettings
from headrace.spec.types import PipelineSpec

if TYPE_CHECKING:
    from headrace.runner.step_runner import Reuse

FLAVOR_GROUP = "headrace.flavors"


class Orchestrator(Protocol):
    """Runs every step of a spec and records the run; returns the run id.

    On a failed step the run is recorded as failed and the StepError of the first failed
    step (in pipeline order) is raised, after independent branches have finished.
    ``reuse`` maps step names to the outputs an earlier run completed (resume).
    """

    def run(
        self,
        spec: PipelineSpec,
        settings: StoreSettings,
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        origin_run_id: str | None = None,
        reuse: Mapping[str, Reuse] | None = None,
    ) -> str: ...


@functools.cache
def _flavors() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=FLAVOR_GROUP)}


def load_orchestrator(config: Mapping[str, Any]) -> Orchestrator:
    """Build the orchestrator a stack config names (``flavor`` defaults to ``local``)."""
    options = dict(config)
    flavor = str(options.pop("flavor", "local"))
    if flavor == "local":
        # The default needs no entry point, so a source checkout works without installing.
        from headrace.orchestrators.local import LocalOrchestrator

        factory: Any = LocalOrchestrator
    else:
        entry = _flavors().get(f"orchestrator.{flavor}")
        if entry is None:
            known = sorted(n.split(".", 1)[1] for n in _flavors() if n.startswith("orchestrator."))
            raise ConfigError(
                f"unknown orchestrator flavor '{flavor}' (known: {', '.join(known) or 'local'})"
            )
        try:
            factory = entry.load()
        except Exception as exc:
            dist = entry.dist.name if entry.dist else "unknown distribution"
            raise ConfigError(
                f"orchestrator flavor '{flavor}' from {dist} failed to load: {exc}"
            ) from exc
    try:
        return factory(**options)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"orchestrator '{flavor}': {exc}") from exc
