"""Drift between a reference and a current frame, column by column.

Every column gets its significance test (Kolmogorov-Smirnov for numeric columns,
two-sample chi-squared for categorical ones) and its population stability index. Which
number decides the verdict depends on ``method``:

- ``"auto"`` picks per column the way Evidently's default data-drift preset does, so the
  two agree: up to 1,000 reference rows a test (KS; for categories and numbers with at
  most 5 distinct values, Evidently's chi-squared fit of the current counts to the
  reference proportions, or a two-proportion z-test for two values);
  above that a distance, because on large samples every test finds some tiny, harmless
  difference significant (normed Wasserstein distance for numbers, Jensen-Shannon for
  categories);
- ``"test"``: the KS or chi-squared p-value below ``threshold``;
- ``"psi"``: population stability index at or above ``psi_threshold``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from headrace.errors import ConfigError, MissingExtraError

from ._frames import finite, import_pandas, require_columns, require_frame
from .errors import ColumnTypeError, EmptyFrameError
from .reports import ColumnDrift, DriftReport

Method = Literal["auto", "test", "psi"]
Flavor = Literal["scipy", "evidently"]

SMALL_SAMPLE = 1000
"""Up to this many reference rows, ``method="auto"`` decides with a significance test."""
INTEGER_CATEGORIES = 10
"""Integer columns with at most this many distinct values are treated as categorical."""
_FEW_VALUES = 5
_PSI_BINS = 10
_PSI_FLOOR = 1e-4
_EXACT_KS = 10_000
_PARALLEL_ROWS = 200_000


def drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    threshold: float = 0.05,
    *,
    method: Method = "auto",
    distance_threshold: float = 0.1,
    psi_threshold: float = 0.2,
    drift_share: float = 0.5,
    categorical: Sequence[str] = (),
    flavor: Flavor = "scipy",
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column and give a verdict.

    Each column gets the KS (numeric) or two-sample chi-squared (categorical) test and
    its population stability index. ``method`` decides the verdict: ``"auto"`` the way
    Evidently's default preset does (tests up to 1,000 reference rows, distances above),
    ``"test"`` the test's p-value, ``"psi"`` the PSI. ``columns`` defaults to every column of the reference that is not a date or time.
    A column is categorical when it is text, boolean or categorical, listed in
    ``categorical``, or an integer column with at most 10 distinct values; otherwise it
    is numeric. Missing and infinite values are dropped. ``threshold`` applies to
    p-values, ``distance_threshold`` to the Wasserstein and Jensen-Shannon distances
    (``method="auto"`` on more than 1,000 reference rows), ``psi_threshold`` to the PSI.
    The data as a whole drifted when at least ``drift_share`` of the columns did.
    ``flavor="evidently"`` runs Evidently's ``DataDriftPreset`` instead (needs the
    ``evidently`` extra, which requires pandas < 3).
    """
    require_frame(reference, "reference")
    require_frame(current, "current")
    _check_options(method, threshold, distance_threshold, psi_threshold, drift_share, flavor)
    selected, skipped = _select(reference, current, columns)
    if flavor == "evidently":
        ignored = [
            name
            for name, value, default in (
                ("method", method, "auto"),
                ("threshold", threshold, 0.05),
                ("distance_threshold", distance_threshold, 0.1),
                ("psi_threshold", psi_threshold, 0.2),
                ("categorical", tuple(categorical), ()),
            )
            if value != default
        ]
        if ignored:
            raise ConfigError(
                f"flavor='evidently' uses Evidently's own preset settings; "
                f"{', '.join(ignored)} apply to flavor='scipy' only"
            )
        from ._evidently import evidently_drift

        return evidently_drift(
            reference, current, selected, skipped=skipped, drift_share=drift_share
        )
    np = _numpy()
    wanted = set(categorical)
    require_columns(reference, list(categorical), "reference")
    options = _Options(method, threshold, distance_threshold, psi_threshold)

    def one(column: Any) -> ColumnDrift:
        kind = _kind(current[column], column in wanted)
        return _column(str(column), kind, reference[column], current[column], options, np)

    rows = len(reference) + len(current)
    if rows >= _PARALLEL_ROWS and len(selected) > 1:
        # numpy sorts release the GIL, so columns overlap well on a few threads.
        from concurrent.futures import ThreadPoolExecutor

        workers = min(len(selected), os.cpu_count() or 1, 8)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, selected))
    else:
        results = [one(column) for column in selected]
    return DriftReport(
        columns=tuple(results),
        n_reference=len(reference),
        n_current=len(current),
        drift_share=drift_share,
        method=method,
        flavor="scipy",
        skipped=tuple(str(c) for c in skipped),
    )


@dataclass(frozen=True, slots=True)
class _Options:
    method: str
    threshold: float
    distance_threshold: float
    psi_threshold: float


def _check_options(
    method: str, threshold: float, distance: float, psi: float, share: float, flavor: str
) -> None:
    if method not in ("auto", "test", "psi"):
        raise ConfigError(f"method must be 'auto', 'test' or 'psi', not {method!r}")
    if flavor not in ("scipy", "evidently"):
        raise ConfigError(f"flavor must be 'scipy' or 'evidently', not {flavor!r}")
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold is a p-value and must be between 0 and 1, not {threshold!r}")
    if distance <= 0 or psi <= 0:
        raise ConfigError("distance_threshold and psi_threshold must be positive")
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"drift_share must be in (0, 1], not {share!r}")


def _numpy() -> Any:
    try:
        import numpy
        import scipy  # noqa: F401  (fail here, not halfway through the columns)
    except ImportError as exc:
        raise MissingExtraError("scipy", "data", purpose="drift statistics") from exc
    return numpy


def _select(
    reference: Any, current: Any, columns: Sequence[str] | None
) -> tuple[list[Any], list[Any]]:
    pd = import_pandas()
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        require_columns(reference, columns, "reference")
        require_columns(current, columns, "current")
        for column in columns:
            if _is_time(reference[column].dtype, pd) or _is_time(current[column].dtype, pd):
                raise ColumnTypeError(str(column), "holds dates or times; drift compares values")
        return list(dict.fromkeys(columns)), []
    selected, skipped = [], []
    for column in reference.columns:
        if _is_time(reference[column].dtype, pd):
            skipped.append(column)
        else:
            selected.append(column)
    require_columns(current, selected, "current")
    if not selected:
        raise ConfigError("the reference has no columns to compare (dates and times are skipped)")
    return selected, skipped


def _is_time(dtype: Any, pd: Any) -> bool:
    return bool(
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    )


def _kind(series: Any, forced: bool) -> str:
    pd = import_pandas()
    dtype = series.dtype
    if forced or pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype) and series.nunique() <= INTEGER_CATEGORIES:
        return "categorical"
    return "numeric"


def _column(
    name: str, kind: str, reference: Any, current: Any, options: _Options, np: Any
) -> ColumnDrift:
    if kind == "numeric":
        ref = _finite_values(reference, np)
        cur = _finite_values(current, np)
        _require_values(name, ref, cur)
        ref.sort()  # both are fresh copies, so sort in place
        cur.sort()
        return _numeric(name, ref, cur, options, np)
    ref_counts = _counts(reference)
    cur_counts = _counts(current)
    _require_values(name, ref_counts, cur_counts)
    return _categorical(name, ref_counts, cur_counts, options, np)


def _require_values(name: str, reference: Any, current: Any) -> None:
    if len(reference) == 0:
        raise EmptyFrameError("reference", column=name)
    if len(current) == 0:
        raise EmptyFrameError("current", column=name)


def _finite_values(series: Any, np: Any) -> Any:
    """A new float array of the column's finite values."""
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    keep = np.isfinite(values)
    return values[keep] if not keep.all() else values.copy()


def _counts(series: Any) -> dict[Any, int]:
    """Counts of the non-missing values, keyed by plain Python values."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    return dict(zip(counts.index.tolist(), counts.to_numpy().tolist(), strict=True))


def _numeric(name: str, a: Any, b: Any, options: _Options, np: Any) -> ColumnDrift:
    from scipy import stats

    n, m = len(a), len(b)
    distinct_a, distinct_b = _distinct_sorted(a, np), _distinct_sorted(b, np)
    few = max(len(distinct_a), len(distinct_b)) <= _FEW_VALUES
    values = np.union1d(distinct_a, distinct_b) if few else None
    n_values = len(values) if values is not None else _FEW_VALUES + 1

    if max(n, m) <= _EXACT_KS:
        result = stats.ks_2samp(a, b)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        statistic = _ks_statistic(a, b, np)
        # The asymptotic distribution scipy's ks_2samp uses for samples this large.
        p_value = float(np.clip(stats.kstwo.sf(statistic, round(n * m / (n + m))), 0.0, 1.0))
    psi = _psi_numeric(a, b, np)

    method, score = _numeric_verdict(options, n, n_values, p_value, psi)
    if method == "wasserstein":
        score = _wasserstein(a, b, np) / max(float(np.std(a)), 0.001)
    elif method in ("chi2_vs_reference", "z", "jensenshannon"):
        ref_counts = _value_counts(a, values, np)
        cur_counts = _value_counts(b, values, np)
        score = _categorical_score(method, ref_counts, cur_counts, np)
    return _result(name, "numeric", method, score, options, statistic, p_value, psi, n, m)


def _numeric_verdict(
    options: _Options, n: int, n_values: int, p_value: float, psi: float
) -> tuple[str, float]:
    if options.method == "test":
        return "ks", p_value
    if options.method == "psi":
        return "psi", psi
    if n <= SMALL_SAMPLE:
        if n_values > _FEW_VALUES:
            return "ks", p_value
        return ("chi2_vs_reference" if n_values > 2 else "z"), math.nan
    return ("wasserstein" if n_values > _FEW_VALUES else "jensenshannon"), math.nan


def _categorical(
    name: str, ref: dict[Any, int], cur: dict[Any, int], options: _Options, np: Any
) -> ColumnDrift:
    keys = list(dict.fromkeys([*ref, *cur]))
    ref_counts = np.array([ref.get(k, 0) for k in keys], dtype="float64")
    cur_counts = np.array([cur.get(k, 0) for k in keys], dtype="float64")
    statistic, p_value = _chi2(ref_counts, cur_counts, np)
    psi = _psi(ref_counts, cur_counts, np)
    n = int(ref_counts.sum())
    if options.method == "test":
        method, score = "chi2", p_value
    elif options.method == "psi":
        method, score = "psi", psi
    elif n <= SMALL_SAMPLE:
        if len(keys) > 2:
            method = "chi2_vs_reference"
            score = _chi2_vs_reference(ref_counts, cur_counts, np)[1]
        else:
            method, score = "z", _z_test(keys, ref, cur, np)
    else:
        method = "jensenshannon"
        score = _categorical_score(method, ref_counts, cur_counts, np)
    return _result(
        name,
        "categorical",
        method,
        score,
        options,
        statistic,
        p_value,
        psi,
        n,
        int(cur_counts.sum()),
    )


def _result(
    name: str,
    kind: str,
    method: str,
    score: float,
    options: _Options,
    statistic: float,
    p_value: float,
    psi: float,
    n: int,
    m: int,
) -> ColumnDrift:
    if method == "ks":
        # Evidently flags a KS p-value at the threshold too; chi-squared and z only below it.
        threshold, drifted = options.threshold, score <= options.threshold
    elif method in ("chi2", "chi2_vs_reference", "z"):
        threshold, drifted = options.threshold, score < options.threshold
    elif method == "psi":
        threshold, drifted = options.psi_threshold, score >= options.psi_threshold
    else:
        threshold, drifted = options.distance_threshold, score >= options.distance_threshold
    return ColumnDrift(
        column=name,
        kind=kind,
        method=method,
        score=finite(score),
        threshold=threshold,
        drifted=bool(drifted),
        statistic=finite(statistic),
        p_value=finite(p_value),
        psi=finite(psi),
        n_reference=n,
        n_current=m,
    )


def _distinct_sorted(values: Any, np: Any) -> Any:
    """The distinct values of a sorted array, but at most ``_FEW_VALUES + 1`` of them."""
    if len(values) == 0:
        return values
    starts = np.flatnonzero(values[1:] != values[:-1])[:_FEW_VALUES] + 1
    return np.concatenate([values[:1], values[starts]])


def _value_counts(sorted_values: Any, keys: Any, np: Any) -> Any:
    right = np.searchsorted(sorted_values, keys, side="right")
    left = np.searchsorted(sorted_values, keys, side="left")
    return (right - left).astype("float64")


def _ks_statistic(a: Any, b: Any, np: Any) -> float:
    """Two-sample KS statistic of sorted samples.

    Between two neighbouring distinct values of ``a`` its CDF is flat while ``b``'s rises,
    so the largest gap is at a value of ``a`` or just below one: one search of ``a``'s
    distinct values in ``b`` (and a second only for the few that also occur in ``b``).
    """
    n, m = len(a), len(b)
    ends = np.flatnonzero(np.append(a[1:] != a[:-1], True))
    values = a[ends]
    below_a = np.append(0, ends[:-1] + 1)  # elements of a strictly below each distinct value
    right = np.searchsorted(b, values, side="right")
    left = right.copy()
    tied = np.flatnonzero((right > 0) & (b[np.maximum(right - 1, 0)] == values))
    if len(tied):
        left[tied] = np.searchsorted(b, values[tied], side="left")
    at = np.abs((ends + 1) / n - right / m).max()
    below = np.abs(below_a / n - left / m).max()
    return float(max(at, below))


def _wasserstein(a: Any, b: Any, np: Any) -> float:
    """First Wasserstein distance of two sorted samples: the area between their quantile functions."""
    n, m = len(a), len(b)
    if n == m:
        return float(np.mean(np.abs(a - b)))
    if max(n, m) <= _EXACT_KS:
        from scipy import stats

        return float(stats.wasserstein_distance(a, b))
    # Quantile levels i/n and j/m on a common integer grid of step 1/(n*m).
    grid = np.concatenate(
        [np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n]
    )
    grid.sort(kind="stable")
    grid = grid[np.append(True, grid[1:] != grid[:-1])]
    widths = np.diff(grid, prepend=0)
    at_a = (grid + m - 1) // m - 1
    at_b = (grid + n - 1) // n - 1
    return float(np.sum(widths * np.abs(a[at_a] - b[at_b])) / (n * m))


def _psi_numeric(a: Any, b: Any, np: Any) -> float:
    """PSI over the reference's deciles (fewer bins when the reference has many ties)."""
    # Quantiles of the sorted reference by linear interpolation, as numpy's default method.
    levels = (len(a) - 1) * np.linspace(0.0, 1.0, _PSI_BINS + 1)[1:-1]
    low = np.floor(levels).astype(np.int64)
    high = np.minimum(low + 1, len(a) - 1)
    cuts = np.unique(a[low] + (levels - low) * (a[high] - a[low]))
    edges_a = np.concatenate([[0], np.searchsorted(a, cuts, side="right"), [len(a)]])
    edges_b = np.concatenate([[0], np.searchsorted(b, cuts, side="right"), [len(b)]])
    return _psi(np.diff(edges_a).astype("float64"), np.diff(edges_b).astype("float64"), np)


def column_psi(reference: Any, current: Any, kind: str) -> float | None:
    """The PSI of one column pair, or None when either side has no values."""
    np = _numpy()
    if kind == "numeric":
        ref, cur = _finite_values(reference, np), _finite_values(current, np)
        if len(ref) == 0 or len(cur) == 0:
            return None
        ref.sort()
        cur.sort()
        return _psi_numeric(ref, cur, np)
    ref_map, cur_map = _counts(reference), _counts(current)
    if not ref_map or not cur_map:
        return None
    keys = list(dict.fromkeys([*ref_map, *cur_map]))
    return _psi(
        np.array([ref_map.get(k, 0) for k in keys], dtype="float64"),
        np.array([cur_map.get(k, 0) for k in keys], dtype="float64"),
        np,
    )


def _psi(ref_counts: Any, cur_counts: Any, np: Any) -> float:
    ref = np.maximum(ref_counts / ref_counts.sum(), _PSI_FLOOR)
    cur = np.maximum(cur_counts / cur_counts.sum(), _PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _chi2(ref_counts: Any, cur_counts: Any, np: Any) -> tuple[float, float]:
    """Chi-squared test that both samples come from one distribution (2 x k contingency table)."""
    from scipy import stats

    if len(ref_counts) < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]), correction=False)
    return float(result.statistic), float(result.pvalue)


def _chi2_vs_reference(ref_counts: Any, cur_counts: Any, np: Any) -> tuple[float, float]:
    """Chi-squared goodness of fit of the current counts to the reference's proportions.

    This is Evidently's test; it takes the reference proportions as exact, so with a
    reference no larger than the current sample it flags drift more often than its level.
    """
    from scipy import stats

    if len(ref_counts) < 2:
        return 0.0, 1.0
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    if np.any((expected == 0) & (cur_counts > 0)):
        return math.inf, 0.0  # a value the reference never had
    result = stats.chisquare(cur_counts, expected)
    return float(result.statistic), float(result.pvalue)


def _z_test(keys: list[Any], ref: dict[Any, int], cur: dict[Any, int], np: Any) -> float:
    """Two-proportion z-test on the share of rows not equal to the first (sorted) value."""
    from scipy import stats

    if len(keys) < 2:
        return 1.0
    try:
        first = sorted(keys)[0]
    except TypeError:
        first = sorted(keys, key=str)[0]
    n, m = sum(ref.values()), sum(cur.values())
    p_ref = 1.0 - ref.get(first, 0) / n
    p_cur = 1.0 - cur.get(first, 0) / m
    pooled = (p_ref * n + p_cur * m) / (n + m)
    spread = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n + 1.0 / m))
    if spread == 0.0:
        return 1.0
    return float(2.0 * stats.norm.sf(abs((p_ref - p_cur) / spread)))


def _categorical_score(method: str, ref_counts: Any, cur_counts: Any, np: Any) -> float:
    if method == "chi2_vs_reference":
        return _chi2_vs_reference(ref_counts, cur_counts, np)[1]
    if method == "z":
        keys = list(range(len(ref_counts)))
        return _z_test(
            keys,
            {k: int(c) for k, c in zip(keys, ref_counts, strict=True)},
            {k: int(c) for k, c in zip(keys, cur_counts, strict=True)},
            np,
        )
    from scipy.spatial import distance

    return float(
        distance.jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
    )
