from __future__ import annotations

import math

import pytest
import torch

from trainer.reward.loss import (
    centering_penalty,
    expected_calibration_error,
    preference_loss,
    preference_metrics,
)


def test_bradley_terry_loss_values() -> None:
    delta = torch.tensor([0.0, 2.0, -1.0])
    loss = preference_loss(delta, torch.ones(3))
    expected = [math.log(2), math.log1p(math.exp(-2.0)), math.log1p(math.exp(1.0))]
    assert loss.tolist() == pytest.approx(expected, rel=1e-6)


def test_margin_applies_to_strict_pairs_only() -> None:
    delta = torch.tensor([1.0, 1.0])
    target = torch.tensor([1.0, 0.5])
    loss = preference_loss(delta, target, margin=torch.tensor([1.0, 1.0]))
    plain = preference_loss(delta, target)
    assert loss[0].item() == pytest.approx(math.log(2))  # sigma(1 - 1) = 1/2
    assert loss[1].item() == pytest.approx(plain[1].item())


@pytest.mark.parametrize(("start", "sign"), [(2.0, 1.0), (-3.0, -1.0)])
def test_tie_gradient_pulls_scores_together(start: float, sign: float) -> None:
    delta = torch.tensor([start], requires_grad=True)
    preference_loss(delta, torch.tensor([0.5])).sum().backward()
    assert delta.grad is not None
    # Gradient descent moves delta against the gradient: towards 0 from either side.
    assert torch.sign(delta.grad).item() == sign
    zero = torch.zeros(1, requires_grad=True)
    preference_loss(zero, torch.tensor([0.5])).sum().backward()
    assert zero.grad is not None and zero.grad.item() == pytest.approx(0.0)


def test_strict_gradient_pushes_chosen_up() -> None:
    delta = torch.tensor([3.0], requires_grad=True)
    preference_loss(delta, torch.ones(1)).sum().backward()
    assert delta.grad is not None and delta.grad.item() < 0


def test_centering_penalty() -> None:
    assert centering_penalty(torch.tensor([1.0, -2.0]), torch.tensor([1.0, 2.0])).tolist() == [
        4.0,
        0.0,
    ]


def test_metrics_leave_ties_out_and_count_equal_scores_wrong() -> None:
    delta = torch.tensor([1.0, 0.0, -0.5, 5.0, 9.0])
    target = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.5])
    m = preference_metrics(delta, target)
    assert m["n"] == 4
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["margin"] == pytest.approx((1.0 + 0.0 - 0.5 + 5.0) / 4)
    assert m["loss"] == pytest.approx(preference_loss(delta, target).mean().item())


def test_ece_hand_computed() -> None:
    # Bin 0.9: two predictions at 0.95, one right -> |0.95 - 0.5| * 2/4; bin 0.6: two at 0.6,
    # both right -> |0.6 - 1| * 2/4.
    confidence = torch.tensor([0.95, 0.95, 0.6, 0.6])
    correct = torch.tensor([True, False, True, True])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.45 / 2 + 0.4 / 2)
    assert math.isnan(expected_calibration_error(torch.empty(0), torch.empty(0, dtype=torch.bool)))
