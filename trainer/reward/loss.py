"""Pairwise preference loss and metrics: pure functions on score tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def preference_loss(
    delta: torch.Tensor, target: torch.Tensor, margin: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-pair Bradley-Terry loss on ``delta = r(first) - r(second)``, shape (B,) -> (B,).

    target 1 gives ``-log sigma(delta - margin)``; target 1/2 (a tie) is a soft label whose
    minimum lies at delta = 0, so it pulls the two scores together.
    """
    logits = delta if margin is None else delta - margin * (target == 1.0)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def centering_penalty(r_first: torch.Tensor, r_second: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B,): ``(r1 + r2)^2``, TRL's ``center_rewards_coefficient`` term: scores near 0."""
    return (r_first + r_second) ** 2


def expected_calibration_error(
    confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 10
) -> float:
    """ECE over equal-width confidence bins; confidence (N,) in [0.5, 1], correct (N,) bool."""
    if confidence.numel() == 0:
        return float("nan")
    bins = torch.clamp((confidence * n_bins).long(), max=n_bins - 1)  # (N,)
    ece = torch.zeros((), dtype=torch.float64)
    for b in range(n_bins):
        in_bin = bins == b
        if not bool(in_bin.any()):
            continue
        gap = confidence[in_bin].double().mean() - correct[in_bin].double().mean()
        ece += in_bin.double().mean() * gap.abs()
    return float(ece)


def preference_metrics(delta: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """accuracy, loss, margin and ECE for scores ``delta = r(first) - r(second)``, shape (N,).

    Accuracy, margin and ECE leave ties out; a strict pair with equal scores counts as wrong.
    ECE is of the predicted winner's probability sigma(|delta|) against being right.
    """
    delta, target = delta.double(), target.double()
    strict = target == 1.0
    d = delta[strict]
    correct = d > 0
    return {
        "accuracy": float(correct.double().mean()) if d.numel() else float("nan"),
        "loss": float(preference_loss(delta, target).mean()) if delta.numel() else float("nan"),
        "margin": float(d.mean()) if d.numel() else float("nan"),
        "ece": expected_calibration_error(torch.sigmoid(d.abs()), correct),
        "n": float(d.numel()),
    }
