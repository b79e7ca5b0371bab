"""The model registry: versions linked to the runs and artifacts that made them, aliases
(``staging``, ``production``, ``archived``), gated promotion, latency measurements and
exports to other serving systems.

``Model`` is light (attach it to a pipeline); the registry itself is reached through
``Client().model(name)``, which opens the stores::

    @pipeline(model=Model("churn"))
    def training(): ...

    churn = Client().model("churn")
    churn.promote(3, to="production", require={"accuracy >= 0.8", "p99_ms <= 20"})
    churn.version("production").load()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headrace.models._model import STAGES, Model
from headrace.models.errors import GateError, ModelNotFoundError, PromotionRefusedError

if TYPE_CHECKING:
    from headrace.models.latency import measure_latency
    from headrace.models.registry import ModelVersion, RegisteredModel

__all__ = [
    "STAGES",
    "GateError",
    "Model",
    "ModelNotFoundError",
    "ModelVersion",
    "PromotionRefusedError",
    "RegisteredModel",
    "measure_latency",
]


def __getattr__(name: str) -> Any:
    if name in ("ModelVersion", "RegisteredModel"):
        from headrace.models import registry

        return getattr(registry, name)
    if name == "measure_latency":
        from headrace.models.latency import measure_latency

        return measure_latency
    raise AttributeError(f"module 'headrace.models' has no attribute {name!r}")
