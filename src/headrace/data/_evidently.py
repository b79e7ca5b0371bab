"""The ``evidently`` drift flavor: Evidently's ``DataDriftPreset``, reported as a DriftReport.

Evidently 0.7 needs pandas < 3, so it lives in its own extra (``headrace[evidently]``)
and its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from headrace.errors import MissingExtraError

from .errors import DataError
from .reports import ColumnDrift, DriftReport

_METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chi2_vs_reference",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}


def evidently_drift(
    reference: Any,
    current: Any,
    columns: Sequence[Any],
    *,
    skipped: Sequence[Any] = (),
    drift_share: float = 0.5,
) -> DriftReport:
    """Run Evidently's default data-drift preset on ``columns`` and translate its verdicts."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry, off by default
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError as exc:
        raise MissingExtraError(
            "evidently", "evidently", purpose="the evidently drift flavor"
        ) from exc
    from ._drift import column_psi

    names = [str(c) for c in columns]
    ref = reference[list(columns)].set_axis(names, axis=1)
    cur = current[list(columns)].set_axis(names, axis=1)
    preset = DataDriftPreset(columns=names, drift_share=drift_share)
    snapshot = Report([preset]).run(current_data=cur, reference_data=ref)
    definition = snapshot.context.data_definition
    numerical = set(definition.numerical_columns or ())

    results: dict[str, ColumnDrift] = {}
    expected_count = None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        kind = str(config.get("type", ""))
        if kind.endswith("DriftedColumnsCount"):
            expected_count = int(metric["value"]["count"])
        elif kind.endswith("ValueDrift"):
            name = str(config["column"])
            display = str(config.get("method"))
            threshold = float(config["threshold"])
            score = float(metric["value"])
            method = _METHODS.get(display, display)
            if "p_value" in display:
                # Evidently's KS flags a p-value at the threshold; its other tests only below it.
                drifted = score <= threshold if method == "ks" else score < threshold
            else:
                drifted = score >= threshold
            column_kind = "numeric" if name in numerical else "categorical"
            results[name] = ColumnDrift(
                column=name,
                kind=column_kind,
                method=method,
                score=score,
                threshold=threshold,
                drifted=bool(drifted),
                p_value=score if "p_value" in display else None,
                psi=column_psi(ref[name], cur[name], column_kind),
                n_reference=int(ref[name].notna().sum()),
                n_current=int(cur[name].notna().sum()),
            )
    ordered = tuple(results[name] for name in names if name in results)
    found = sum(result.drifted for result in ordered)
    if expected_count is not None and found != expected_count:
        raise DataError(
            f"evidently counted {expected_count} drifted column(s) but its per-column "
            f"results give {found}; this evidently version is not supported"
        )
    return DriftReport(
        columns=ordered,
        n_reference=len(reference),
        n_current=len(current),
        drift_share=drift_share,
        method="evidently-default",
        flavor="evidently",
        skipped=tuple(str(c) for c in skipped),
    )
