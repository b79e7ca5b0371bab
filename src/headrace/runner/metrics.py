"""Writing the metric points a step logged (``log_metric``) to the metadata store."""

from __future__ import annotations

import logging

from headrace.errors import HeadraceError
from headrace.runner.context import StepContext
from headrace.store.stores import Stores

log = logging.getLogger("headrace")


def save_metric_points(stores: Stores, ctx: StepContext) -> None:
    """Store the points of ``ctx`` in one transaction. A store failure is logged, not
    raised: it must not hide the step's own outcome, which is recorded next."""
    if not ctx.metric_points:
        return
    try:
        stores.metadata.add_metric_points(ctx.step_run_id, ctx.metric_points)
    except HeadraceError as exc:
        log.warning(
            "could not record %d metric point(s) of step '%s': %s",
            len(ctx.metric_points),
            ctx.step_name,
            exc,
        )
