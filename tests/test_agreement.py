"""Krippendorff's alpha from choice-count patterns, against the reference package."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest

from app.agreement import krippendorff_alpha_ordinal, percent_agreement

pytestmark = pytest.mark.nodb


def patterns_of(matrix: np.ndarray) -> list[tuple[tuple[int, ...], int]]:
    found: dict[tuple[int, ...], int] = {}
    for unit in matrix.T:
        counts = tuple(int((unit == v).sum()) for v in range(3))
        found[counts] = found.get(counts, 0) + 1
    return list(found.items())


@pytest.mark.parametrize("seed", range(5))
def test_alpha_matches_the_krippendorff_package(seed: int) -> None:
    rng = random.Random(seed)
    matrix = np.full((6, 60), np.nan)
    for unit in range(60):
        truth = rng.randrange(3)
        for coder in rng.sample(range(6), rng.randint(1, 6)):
            matrix[coder, unit] = truth if rng.random() < 0.7 else rng.randrange(3)
    expected = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement="ordinal", value_domain=[0, 1, 2]
    )
    assert krippendorff_alpha_ordinal(patterns_of(matrix)) == pytest.approx(expected)


def test_alpha_undefined_without_variation_and_perfect_with_agreement() -> None:
    assert krippendorff_alpha_ordinal([((0, 0, 3), 5)]) is None
    assert krippendorff_alpha_ordinal([((0, 0, 2), 5), ((2, 0, 0), 5)]) == pytest.approx(1.0)
    assert percent_agreement([((1, 0, 1), 1), ((0, 0, 2), 1)]) == pytest.approx(0.5)
