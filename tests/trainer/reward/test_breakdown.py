"""The length breakdown and calibration of reward-model margins, on hand-made numbers."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.reward.breakdown import length_difference, pearson, preference_breakdown
from trainer.reward.loss import preference_metrics


def test_breakdown_by_subset_and_shorter_chosen_pairs() -> None:
    margins = [1.0, -0.5, 2.0, 0.0, -1.0, 0.3]
    length_diffs = [10, 5, -3, -8, -2, 0]
    subsets = ["helpful", "helpful", "helpful", "harmless", "harmless", "harmless"]
    out = preference_breakdown(margins, length_diffs, subsets)
    assert out["accuracy"] == pytest.approx(3 / 6) and out["n"] == 6
    assert out["accuracy_helpful"] == pytest.approx(2 / 3)
    assert out["accuracy_harmless"] == pytest.approx(1 / 3)  # a zero margin counts as wrong
    # Shorter chosen: pairs 3, 4 and 5 (-3, -8, -2); the model gets pair 3 only.
    assert (out["n_shorter_chosen"], out["accuracy_shorter_chosen"]) == (3, pytest.approx(1 / 3))
    assert out["length_rule_accuracy_shorter_chosen"] == 0.0
    # The length rule: right where the chosen one is longer; an equal length is wrong.
    assert out["length_rule_accuracy"] == pytest.approx(2 / 6)
    assert out["length_rule_accuracy_helpful"] == pytest.approx(2 / 3)
    assert out["length_rule_accuracy_harmless"] == 0.0
    expected = pearson(margins, [float(d) for d in length_diffs])
    assert out["margin_length_corr"] == pytest.approx(expected)


def test_pearson_by_hand_and_when_undefined() -> None:
    assert pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)
    assert pearson([1.0, 2.0, 3.0], [3.0, 1.0, 2.0]) == pytest.approx(-0.5)
    assert math.isnan(pearson([1.0, 1.0], [1.0, 2.0]))
    assert math.isnan(preference_breakdown([], [])["accuracy"])
    assert length_difference("abcd", "ab") == 2


def test_ece_against_a_hand_computed_example() -> None:
    # Confidences sigma(|delta|): two pairs at 0.6 (one right, one wrong), two at 0.9 (both
    # right). ECE = 0.5 * |0.6 - 0.5| + 0.5 * |0.9 - 1.0| = 0.1.
    d6, d9 = math.log(0.6 / 0.4), math.log(0.9 / 0.1)
    delta = torch.tensor([d6, -d6, d9, d9])
    metrics = preference_metrics(delta, torch.ones(4))
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["ece"] == pytest.approx(0.1, abs=1e-6)
    # A perfectly calibrated set: confidence 0.75, right three times in four.
    d75 = math.log(3.0)
    calibrated = preference_metrics(torch.tensor([d75, d75, d75, -d75]), torch.ones(4))
    assert calibrated["ece"] == pytest.approx(0.0, abs=1e-6)
