"""Time-aware splits and backtests: train on the past, test on what came after."""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from headrace.errors import ConfigError

from ._frames import finite, import_pandas, require_columns, require_datetime, require_frame
from .errors import EmptyWindowError
from .reports import BacktestFold, BacktestReport

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np

    # A date (string, datetime, date, pd.Timestamp, np.datetime64), a share of the rows in
    # time order as a float in (0, 1), or a phrase: "last quarter", "last 3 months",
    # "last 20%", "first 80%".
    Boundary: TypeAlias = str | float | _dt.date | np.datetime64

_LAST = re.compile(r"^\s*last\s+(?:(\d+)\s+)?(day|week|month|quarter|year)s?\s*$", re.IGNORECASE)
_SHARE = re.compile(r"^\s*(first|last)\s+(\d+(?:\.\d+)?)\s*%\s*$", re.IGNORECASE)
_PERIOD_CODES = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


class Split(NamedTuple):
    """The two sides of :func:`time_split`; unpacks as ``train, test = ...``."""

    train: Any
    test: Any


def time_split(
    df: Any,
    on: str = "date",
    train_until: Boundary | None = None,
    test_from: Boundary | None = None,
) -> Split:
    """Split ``df`` in time: train holds rows with ``on < train_until``, test rows ``on >= test_from``.

    Give either boundary or both; with one, the other is the same instant, so every row
    with a time lands on exactly one side. With both, rows in between are left out (an
    embargo). Each boundary is a date, a float share of the rows in time order, or a
    phrase such as ``"last quarter"`` (the calendar quarter holding the latest row),
    ``"last 2 months"`` or ``"last 20%"``. Rows whose time is missing are in neither side.
    Both sides keep the original row order and index.
    """
    require_frame(df, "frame")
    require_columns(df, [on], "frame")
    require_datetime(df, on)
    if train_until is None and test_from is None:
        raise ConfigError("time_split needs train_until, test_from or both")
    times = df[on]
    end = _boundary(train_until, times, "train_until") if train_until is not None else None
    start = _boundary(test_from, times, "test_from") if test_from is not None else None
    end = start if end is None else end
    start = end if start is None else start
    assert start is not None and end is not None
    if start < end:
        raise ConfigError(
            f"test_from ({_label(start)}) is before train_until ({_label(end)}): "
            "the train and test sides would overlap"
        )
    train = df[(times < end).to_numpy()]
    test = df[(times >= start).to_numpy()]
    if len(train) == 0:
        raise EmptyWindowError(f"the train side (rows before {_label(end)})")
    if len(test) == 0:
        raise EmptyWindowError(f"the test side (rows from {_label(start)})")
    return Split(train, test)


def backtest(
    df: Any,
    on: str = "date",
    window: str | Sequence[Any] = "QS",
    *,
    fit: Callable[[Any], Any],
    score: Callable[[Any, Any], float | Mapping[str, float]],
    mode: Literal["rolling", "expanding"] = "rolling",
    train_windows: int = 1,
    threshold: float | None = None,
    higher_is_better: bool = True,
) -> BacktestReport:
    """Simulate deploying a model over time and score it on each window that follows.

    ``window`` is a pandas frequency (``"QS"`` quarters, ``"MS"`` months, ``"W"``,
    ``"YS"``, ``"30D"`` ...) anchored at the start of the period holding the first row,
    or explicit windows: a list of boundaries ``[t0, t1, ..., tk]`` (windows
    ``[t0, t1), [t1, t2), ...``) or of ``(start, end)`` pairs. For each fold, ``fit(train)``
    returns a model and ``score(model, test)`` a number or a mapping of metric names to
    numbers. ``mode="rolling"`` trains on the ``train_windows`` windows just before the test
    window; ``"expanding"`` on every window before it. With ``threshold``, the report
    passes only if the first metric of every fold is at least (or, with
    ``higher_is_better=False``, at most) the threshold.
    """
    require_frame(df, "frame")
    require_columns(df, [on], "frame")
    require_datetime(df, on)
    if mode not in ("rolling", "expanding"):
        raise ConfigError(f"mode must be 'rolling' or 'expanding', not {mode!r}")
    if isinstance(train_windows, bool) or not isinstance(train_windows, int) or train_windows < 1:
        raise ConfigError(f"train_windows must be a positive integer, not {train_windows!r}")
    times = df[on]
    bounds = _windows(window, times)
    if len(bounds) <= train_windows:
        raise ConfigError(
            f"backtest needs more than {train_windows} window(s) to train and test on; "
            f"the data spans {len(bounds)}"
        )
    masks = []
    for start, end in bounds:
        mask = ((times >= start) & (times < end)).to_numpy()
        if not mask.any():
            raise EmptyWindowError(f"window [{_label(start)}, {_label(end)})")
        masks.append(mask)

    folds = []
    for index, test_at in enumerate(range(train_windows, len(bounds))):
        first = test_at - train_windows if mode == "rolling" else 0
        train_mask = masks[first].copy()
        for mask in masks[first + 1 : test_at]:
            train_mask |= mask
        train, test = df[train_mask], df[masks[test_at]]
        where = f"backtest fold {index} (test window from {_label(bounds[test_at][0])})"
        try:
            model = fit(train)
            result = score(model, test)
        except Exception as exc:
            exc.add_note(f"raised in {where}")
            raise
        folds.append(
            BacktestFold(
                index=index,
                train_start=_label(bounds[first][0]),
                train_end=_label(bounds[test_at - 1][1]),
                test_start=_label(bounds[test_at][0]),
                test_end=_label(bounds[test_at][1]),
                n_train=int(train_mask.sum()),
                n_test=int(masks[test_at].sum()),
                metrics=_metrics(result, where),
            )
        )
    return BacktestReport(
        on=on,
        window=window if isinstance(window, str) else "explicit",
        mode=mode,
        train_windows=train_windows,
        folds=tuple(folds),
        threshold=threshold,
        higher_is_better=higher_is_better,
    )


def _metrics(result: Any, where: str) -> dict[str, float | None]:
    items = list(result.items()) if isinstance(result, Mapping) else [("score", result)]
    if not items:
        raise ConfigError(f"score returned no metrics in {where}")
    metrics: dict[str, float | None] = {}
    for name, value in items:
        try:
            metrics[str(name)] = finite(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"score must return a number or a mapping of names to numbers; "
                f"got {value!r} for {name!r} in {where}"
            ) from exc
    return metrics


def _windows(window: str | Sequence[Any], times: Any) -> list[tuple[Any, Any]]:
    pd = import_pandas()
    if isinstance(window, str):
        try:
            offset = pd.tseries.frequencies.to_offset(window)
        except ValueError as exc:
            raise ConfigError(f"window {window!r} is not a pandas frequency") from exc
        first, last = times.min(), times.max()
        if first is pd.NaT:
            raise EmptyWindowError(f"column {times.name!r}", "has no times")
        start = offset.rollback(first.normalize())
        if not start + offset > start:
            raise ConfigError(f"window {window!r} does not move forward in time")
        edges = [start]
        while edges[-1] <= last:
            edges.append(edges[-1] + offset)
        return list(itertools.pairwise(edges))
    items = list(window)
    if items and all(isinstance(item, tuple | list) and len(item) == 2 for item in items):
        pairs = [(_timestamp(a, times), _timestamp(b, times)) for a, b in items]
    else:
        edges = [_timestamp(item, times) for item in items]
        pairs = list(itertools.pairwise(edges))
    for start, end in pairs:
        if not start < end:
            raise ConfigError(
                f"window [{_label(start)}, {_label(end)}) does not end after it starts"
            )
    pairs.sort(key=lambda pair: pair[0])
    for (start, end), (next_start, next_end) in itertools.pairwise(pairs):
        if end > next_start:
            # A test window sharing rows with a training window would leak the future.
            raise ConfigError(
                f"windows [{_label(start)}, {_label(end)}) and "
                f"[{_label(next_start)}, {_label(next_end)}) overlap"
            )
    return pairs


def _boundary(spec: Any, times: Any, role: str) -> Any:
    pd = import_pandas()
    if isinstance(spec, float):
        if not 0.0 < spec < 1.0:
            raise ConfigError(f"{role}={spec!r}: a share of rows must be between 0 and 1")
        return _at_share(spec, times, role)
    if isinstance(spec, str):
        share = _SHARE.match(spec)
        if share:
            percent = float(share.group(2))
            if not 0.0 < percent < 100.0:
                raise ConfigError(f"{role}={spec!r}: the percentage must be between 0 and 100")
            fraction = percent / 100.0
            return _at_share(
                fraction if share.group(1).lower() == "first" else 1.0 - fraction, times, role
            )
        last = _LAST.match(spec)
        if last:
            count = int(last.group(1) or 1)
            if count < 1:
                raise ConfigError(f"{role}={spec!r}: the count must be at least 1")
            latest = times.max()
            if latest is pd.NaT:
                raise EmptyWindowError(f"column {times.name!r}", "has no times")
            tz = latest.tz
            period = latest.tz_localize(None).to_period(_PERIOD_CODES[last.group(2).lower()])
            start = (period - (count - 1)).start_time
            return start.tz_localize(tz) if tz is not None else start
    if isinstance(spec, bool | int):
        raise ConfigError(
            f"{role}={spec!r}: give a date, a share of rows as a float in (0, 1), "
            "or a phrase such as 'last quarter'"
        )
    return _timestamp(spec, times, role)


def _at_share(fraction: float, times: Any, role: str) -> Any:
    ordered = times.dropna().sort_values()
    if len(ordered) == 0:
        raise EmptyWindowError(f"column {times.name!r}", "has no times")
    position = min(round(fraction * len(ordered)), len(ordered) - 1)
    return ordered.iloc[position]


def _timestamp(value: Any, times: Any, role: str = "window") -> Any:
    pd = import_pandas()
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{role}={value!r} is not a date or a known phrase") from exc
    if stamp is pd.NaT:
        raise ConfigError(f"{role}={value!r} is not a date")
    tz = getattr(times.dtype, "tz", None)
    if tz is not None and stamp.tz is None:
        return stamp.tz_localize(tz)
    if tz is None and stamp.tz is not None:
        raise ConfigError(f"{role}={value!r} has a time zone but column {times.name!r} does not")
    return stamp


def _label(stamp: Any) -> str:
    if stamp.tz is None and stamp == stamp.normalize():
        return str(stamp.date())
    return str(stamp.isoformat())
