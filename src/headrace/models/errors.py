"""Errors of the model registry::

HeadraceError
├── StoreError
│   └── ModelNotFoundError(KeyError)   no such model, version or alias
├── GateError(ValueError)              a gate expression cannot be understood
└── PromotionRefusedError              a gate failed; ``reasons`` says which and why
"""

from __future__ import annotations

from typing import Any

from headrace.errors import HeadraceError, ModelNotFoundError

__all__ = ["GateError", "ModelNotFoundError", "PromotionRefusedError"]


class GateError(HeadraceError, ValueError):
    """A promotion gate is not a valid expression (``"accuracy >= 0.8"``)."""


class PromotionRefusedError(HeadraceError):
    """A promotion gate failed: nothing was changed. ``reasons`` lists every failure."""

    def __init__(self, message: str, *, reasons: list[str], checks: list[dict[str, Any]]) -> None:
        self.reasons = reasons
        self.checks = checks
        super().__init__(message)
