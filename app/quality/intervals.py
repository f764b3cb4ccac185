"""Small statistics: Wilson intervals, exact binomial tests, percentages people can read."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (well behaved near 0, 1 and for small n)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def binomial_p(successes: int, n: int, p: float) -> float:
    """Two-sided exact binomial test of `successes` in `n` against rate `p`."""
    if n <= 0:
        return 1.0
    # Imported here: scipy.stats costs seconds at start-up, and the server rarely needs it.
    from scipy.stats import binomtest

    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(binomtest(successes, n, p).pvalue)


def percent(value: float) -> str:
    return f"{round(100 * value)} %"


def interval(low: float, high: float) -> str:
    return f"[{round(100 * low)}–{round(100 * high)}]"  # noqa: RUF001 - as people write it
