"""Each DPO loss against values computed by hand from made-up log-probabilities."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.dpo.config import DPOConfig
from trainer.dpo.loss import METRICS, dpo_terms, pair_metric_sums, sequence_scores

# Policy and reference log-probs of two pairs: h = (pc - rc) - (pr - rr) = [2.0, -1.0].
PC, PR = torch.tensor([-10.0, -12.0]), torch.tensor([-14.0, -11.0])
RC, RR = torch.tensor([-11.0, -12.5]), torch.tensor([-13.0, -12.5])
H = [2.0, -1.0]


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_sigmoid_is_minus_log_sigmoid_of_beta_h() -> None:
    terms = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.5))
    assert terms.losses.tolist() == pytest.approx([-log_sigmoid(0.5 * h) for h in H], rel=1e-6)
    assert terms.chosen_rewards.tolist() == pytest.approx([0.5, 0.25])
    assert terms.rejected_rewards.tolist() == pytest.approx([-0.5, 0.75])


def test_conservative_dpo_smooths_the_label() -> None:
    terms = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.5, label_smoothing=0.2))
    expected = [-0.8 * log_sigmoid(0.5 * h) - 0.2 * log_sigmoid(-0.5 * h) for h in H]
    assert terms.losses.tolist() == pytest.approx(expected, rel=1e-6)


def test_robust_dpo_is_unbiased_for_flipped_labels() -> None:
    e = 0.2
    terms = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.5, loss_type="robust", label_smoothing=e))
    expected = [
        (-(1 - e) * log_sigmoid(0.5 * h) + e * log_sigmoid(-0.5 * h)) / (1 - 2 * e) for h in H
    ]
    assert terms.losses.tolist() == pytest.approx(expected, rel=1e-6)
    # Its point: averaged over a label flipped with probability e, it is the clean loss.
    flipped = dpo_terms(PR, PC, RR, RC, DPOConfig(beta=0.5, loss_type="robust", label_smoothing=e))
    mean = (1 - e) * terms.losses + e * flipped.losses
    clean = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.5)).losses
    assert mean.tolist() == pytest.approx(clean.tolist(), rel=1e-5)
    # Without noise it is plain DPO.
    plain = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.5, loss_type="robust"))
    assert plain.losses.tolist() == pytest.approx(clean.tolist())


def test_ipo_regresses_the_gap_to_one_over_two_beta() -> None:
    terms = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.25, loss_type="ipo"))
    assert terms.losses.tolist() == pytest.approx([(h - 2.0) ** 2 for h in H])
    # IPO compares per-token means: 10 and 4 response tokens.
    scores = sequence_scores(torch.tensor([-10.0, -4.0]), torch.tensor([10.0, 4.0]), "ipo")
    assert scores.tolist() == [-1.0, -1.0]
    assert sequence_scores(torch.tensor([-10.0]), torch.tensor([10.0]), "sigmoid").item() == -10


def test_margin_raises_the_bar_for_sigmoid_and_robust() -> None:
    margin = torch.tensor([1.0, 0.0])
    for loss_type in ("sigmoid", "robust"):
        config = DPOConfig(beta=0.5, loss_type=loss_type)
        terms = dpo_terms(PC, PR, RC, RR, config, margin)
        assert terms.losses[0].item() == pytest.approx(math.log(2))  # sigma(0.5 * 2 - 1) = 1/2


def test_gradient_raises_chosen_and_lowers_rejected() -> None:
    chosen = PC.clone().requires_grad_()
    rejected = PR.clone().requires_grad_()
    dpo_terms(chosen, rejected, RC, RR, DPOConfig()).losses.sum().backward()
    assert chosen.grad is not None and rejected.grad is not None
    assert (chosen.grad < 0).all() and (rejected.grad > 0).all()


def test_metric_sums_in_trl_names() -> None:
    terms = dpo_terms(PC, PR, RC, RR, DPOConfig(beta=0.5))
    sums = dict(zip(METRICS, pair_metric_sums(terms, PC, PR).tolist(), strict=True))
    assert sums["rewards/accuracies"] == 1.0  # pair 1 right, pair 2 wrong
    assert sums["rewards/margins"] == pytest.approx(0.5 * sum(H))
    assert sums["logps/chosen"] == -22.0 and sums["logps/rejected"] == -25.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"beta": 0.0}, "beta must be > 0"),
        ({"beta": -1.0}, "beta must be > 0"),
        ({"loss_type": "hinge"}, "loss_type"),
        ({"label_smoothing": 0.5}, "label_smoothing"),
        ({"loss_type": "ipo", "label_smoothing": 0.1}, "not ipo"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DPOConfig(**values)  # type: ignore[arg-type]
