"""Generated data with known answers, shared by the data toolkit's tests (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SHIFTED = ("num_shift", "num_scale", "cat_shift", "bin_shift", "few_shift")
STEADY = ("num_same", "num_exp", "int_many", "cat_same", "bin_same", "int_few")


def drift_pair(seed: int, n: int, m: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames; the columns in SHIFTED drift, those in STEADY do not."""
    rng = np.random.default_rng(seed)
    letters = list("abcd")

    def frame(size: int, current: bool) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "num_same": rng.normal(size=size),
                "num_shift": rng.normal(0.8 if current else 0.0, size=size),
                "num_scale": rng.normal(0.0, 2.5 if current else 1.0, size=size),
                "num_exp": rng.exponential(size=size),
                "int_many": rng.integers(0, 100, size),
                "cat_same": rng.choice(letters, size),
                "cat_shift": rng.choice(letters, size, p=[0.6, 0.2, 0.1, 0.1] if current else None),
                "bin_same": rng.choice(["yes", "no"], size),
                "bin_shift": rng.choice(["yes", "no"], size, p=[0.85, 0.15] if current else None),
                "int_few": rng.integers(0, 4, size),
                "few_shift": rng.choice(
                    [0.0, 1.0, 2.0], size, p=[0.7, 0.2, 0.1] if current else None
                ),
            }
        )

    return frame(n, False), frame(m, True)


def daily(start: str = "2023-01-01", end: str = "2024-12-31", seed: int = 0) -> pd.DataFrame:
    """One row per day with a feature, a noisy target and a customer segment."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq="D")
    x = rng.normal(size=len(dates))
    return pd.DataFrame(
        {
            "date": dates,
            "x": x,
            "y": 2.0 * x + rng.normal(scale=0.1, size=len(dates)),
            "segment": rng.choice(["retail", "business"], len(dates)),
        }
    )
