"""Agreement between annotators on the ordinal scale worse < same < better.

Krippendorff's alpha is computed here from the coincidence matrix rather than with the
`krippendorff` package: that package wants an annotators x comparisons matrix (dense,
mostly missing), while three ordered categories need only how many comparisons had each
pattern of (worse, same, better) counts, which one GROUP BY returns at any size. The
tests check this against the package.
"""

from __future__ import annotations

from collections.abc import Iterable

# Ordinal order of the choices (B compared with A): counts in patterns follow it.
ORDER = ("worse", "same", "better")
# (counts per choice in ORDER, how many comparisons had exactly those counts).
Patterns = Iterable[tuple[tuple[int, ...], int]]


def krippendorff_alpha_ordinal(patterns: Patterns) -> float | None:
    """Alpha from (counts per category in ORDER, number of comparisons with those counts).

    Units with fewer than two values are not pairable and do not count. None when the
    expected disagreement is zero (every value the same category).
    """
    k = len(ORDER)
    coincidence = [[0.0] * k for _ in range(k)]
    for counts, units in patterns:
        m = sum(counts)
        if m < 2:
            continue
        for c in range(k):
            for d in range(k):
                pairs = counts[c] * (counts[d] - (1 if c == d else 0))
                coincidence[c][d] += units * pairs / (m - 1)
    totals = [sum(row) for row in coincidence]
    n = sum(totals)
    if n <= 1:
        return None

    def distance(c: int, d: int) -> float:
        low, high = min(c, d), max(c, d)
        return (sum(totals[low : high + 1]) - (totals[c] + totals[d]) / 2) ** 2

    observed = sum(coincidence[c][d] * distance(c, d) for c in range(k) for d in range(k))
    expected = sum(totals[c] * totals[d] * distance(c, d) for c in range(k) for d in range(k))
    if expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def percent_agreement(patterns: Patterns) -> float | None:
    """Share of pairs of labels on one comparison that agree."""
    agreeing = pairs = 0
    for counts, units in patterns:
        m = sum(counts)
        agreeing += units * sum(c * (c - 1) for c in counts)
        pairs += units * m * (m - 1)
    return agreeing / pairs if pairs else None
