"""Bradley-Terry strengths from pairwise battle counts, many data sets at once.

The model: model i beats model j with probability sigmoid(θ_i - θ_j); a tie counts as half a win
to each side (as in Chatbot Arena's Elo tables). Strengths are the maximum of the
log-likelihood plus a weak Gaussian prior, found by Newton's method on all the data sets of
a batch at once (the bootstrap's resamples are one batch), so a thousand fits cost about as
much as a few numpy calls on (B, K, K) arrays.

Ratings are on the Elo scale: 400 · log10 of the odds, so a 400-point gap means 10:1 odds
of winning; they are centred on ``RATING_CENTRE``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

ELO_PER_NAT = 400.0 / math.log(10.0)
RATING_CENTRE = 1000.0
# Prior: θ ~ N(0, PRIOR_SD²) in natural-log units (4 nats ≈ 695 Elo points). It keeps the
# strengths finite when a model won (or lost) every battle, where the likelihood alone has
# no maximum; with tens of battles per pair its pull on a rating is under a point.
PRIOR_SD = 4.0
MAX_ITERATIONS = 100
# In natural-log units: 1e-7 is 0.00002 Elo points.
TOLERANCE = 1e-7
# Newton steps are capped per coordinate: far from the optimum (a lopsided record) a full
# step can overshoot into a region where the logistic saturates.
MAX_STEP = 2.0


def fit_strengths(
    wins: FloatArray, prior_sd: float = PRIOR_SD, start: FloatArray | None = None
) -> FloatArray:
    """Strengths θ, shape (..., K), mean zero, from ``wins`` of shape (..., K, K).

    ``wins[..., i, j]`` is model i's score against model j: its wins plus half the ties.
    Battles between i and j are ``wins[i, j] + wins[j, i]``. ``start`` (K,) is where Newton
    begins for every data set (the bootstrap starts from the point estimate: two or three
    steps instead of five).
    """
    wins = np.asarray(wins, dtype=np.float64)
    batch_shape, k = wins.shape[:-2], wins.shape[-1]
    if wins.shape[-2] != k:
        raise ValueError(f"wins must be square in its last two axes, not {wins.shape}")
    w = wins.reshape(-1, k, k)  # (B, K, K)
    battles = w + np.swapaxes(w, 1, 2)  # (B, K, K), symmetric
    scores = w.sum(axis=2)  # (B, K): each model's total score
    precision = 1.0 / prior_sd**2
    eye = np.eye(k)
    theta = np.zeros((w.shape[0], k)) if start is None else np.tile(start, (w.shape[0], 1))
    for _ in range(MAX_ITERATIONS):
        p = _sigmoid(theta[:, :, None] - theta[:, None, :])  # (B, K, K): P(i beats j)
        gradient = scores - (battles * p).sum(axis=2) - precision * theta  # (B, K)
        curvature = battles * p * (1.0 - p)  # (B, K, K)
        # Negative Hessian: a graph Laplacian of the curvatures plus the prior's precision,
        # positive definite, so every solve succeeds.
        laplacian = (
            curvature.sum(axis=2)[:, :, None] * eye - curvature + precision * eye
        )  # (B, K, K)
        step = np.linalg.solve(laplacian, gradient[:, :, None])[:, :, 0]  # (B, K)
        largest = np.abs(step).max(axis=1, keepdims=True)  # (B, 1)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(largest, 1e-300))
        theta += step
        if float(largest.max()) < TOLERANCE:
            break
    theta -= theta.mean(axis=1, keepdims=True)
    return theta.reshape(*batch_shape, k)


def to_rating(theta: FloatArray) -> FloatArray:
    return RATING_CENTRE + ELO_PER_NAT * np.asarray(theta)


def expected_score(theta_i: FloatArray, theta_j: FloatArray) -> FloatArray:
    """P(i beats j), ties counted half: what a rating gap predicts."""
    return _sigmoid(np.asarray(theta_i) - np.asarray(theta_j))


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out
