"""PPO maths on hand-made tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainer.ppo.tensor_ops import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_of,
    gae,
    kl_estimate,
    logprobs_of,
    masked_mean,
    masked_var,
    masked_whiten,
    response_mask,
)

MASK = torch.tensor([[True, True, False], [True, False, False]])


def test_masked_mean_ignores_padding() -> None:
    values = torch.tensor([[1.0, 3.0, 100.0], [5.0, -100.0, 7.0]])
    assert masked_mean(values, MASK).item() == pytest.approx(3.0)
    assert masked_mean(values, MASK, dim=1).tolist() == pytest.approx([2.0, 5.0])


def test_masked_var_is_unbiased_over_the_mask() -> None:
    values = torch.tensor([[1.0, 3.0, 100.0], [5.0, -100.0, 7.0]])
    assert masked_var(values, MASK).item() == pytest.approx(4.0)  # values 1, 3, 5
    assert masked_var(values, MASK, unbiased=False).item() == pytest.approx(8.0 / 3.0)


def test_masked_whiten_gives_zero_mean_unit_variance_on_the_mask() -> None:
    values = torch.tensor([[1.0, 3.0, 100.0], [5.0, -100.0, 7.0]])
    white = masked_whiten(values, MASK)
    assert white[MASK].tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=1e-5)
    kept = masked_whiten(values, MASK, shift_mean=False)
    assert kept[MASK].tolist() == pytest.approx([2.0, 3.0, 4.0], abs=1e-5)


def test_gae_matches_a_hand_computation() -> None:
    rewards = torch.tensor([[0.0, 0.5, 1.0, 9.0]])
    values = torch.tensor([[0.2, 0.4, 0.1, 9.0]])
    mask = torch.tensor([[True, True, True, False]])
    gamma, lam = 0.9, 0.5
    # Last real token: no next value. delta2 = 1 - 0.1 = 0.9; A2 = 0.9
    # delta1 = 0.5 + 0.9*0.1 - 0.4 = 0.19; A1 = 0.19 + 0.45*0.9 = 0.595
    # delta0 = 0 + 0.9*0.4 - 0.2 = 0.16; A0 = 0.16 + 0.45*0.595 = 0.42775
    adv = gae(rewards, values, mask, gamma, lam)
    assert adv.tolist()[0] == pytest.approx([0.42775, 0.595, 0.9, 0.0])


def test_gae_with_gamma_and_lambda_one_is_return_minus_value() -> None:
    rewards = torch.tensor([[0.1, -0.2, 2.0]])
    values = torch.tensor([[0.5, 0.3, 0.7]])
    adv = gae(rewards, values, torch.ones(1, 3, dtype=torch.bool), 1.0, 1.0)
    returns_to_go = torch.tensor([[1.9, 1.8, 2.0]])
    assert torch.allclose(adv, returns_to_go - values)


def test_kl_estimators() -> None:
    logp = torch.tensor([math.log(0.5), math.log(0.2)])
    logq = torch.tensor([math.log(0.25), math.log(0.4)])
    k1 = kl_estimate(logp, logq, "k1")
    assert k1.tolist() == pytest.approx([math.log(2.0), math.log(0.5)])
    k3 = kl_estimate(logp, logq, "k3")  # r = q/p: 0.5 and 2
    assert k3.tolist() == pytest.approx([0.5 - 1 - math.log(0.5), 2 - 1 - math.log(2.0)])
    assert (k3 >= 0).all()
    assert kl_estimate(logp, logp, "k3").abs().max().item() == 0.0
    with pytest.raises(ValueError):
        kl_estimate(logp, logq, "k2")  # type: ignore[arg-type]


def test_kl_estimators_are_unbiased_on_samples() -> None:
    p = torch.tensor([0.6, 0.3, 0.1])
    q = torch.tensor([0.2, 0.5, 0.3])
    exact = (p * (p / q).log()).sum().item()
    gen = torch.Generator().manual_seed(0)
    x = torch.multinomial(p, 200_000, replacement=True, generator=gen)
    for estimator in ("k1", "k3"):
        est = kl_estimate(p.log()[x], q.log()[x], estimator).mean().item()  # type: ignore[arg-type]
        assert est == pytest.approx(exact, abs=0.01)


def test_clipped_policy_loss_and_clip_fraction() -> None:
    old = torch.zeros(1, 4)
    # ratios 1.5, 0.5, 1.1, 1.5; advantages +1, -1, +1, -1
    new = torch.log(torch.tensor([[1.5, 0.5, 1.1, 1.5]]))
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    loss, clipfrac = clipped_policy_loss(new, old, adv, torch.ones(1, 4, dtype=torch.bool), 0.2)
    # per token max(-A r, -A clip(r)): -1.2 (clipped), 0.8 (clipped), -1.1, 1.5
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 1.1 + 1.5) / 4)
    assert clipfrac.item() == pytest.approx(0.5)


def test_clipped_policy_loss_gradient_vanishes_where_clipped() -> None:
    new = torch.log(torch.tensor([[1.5, 1.1]])).requires_grad_()
    loss, _ = clipped_policy_loss(
        new, torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2, dtype=torch.bool), 0.2
    )
    loss.backward()
    assert new.grad is not None
    assert new.grad[0, 0].item() == 0.0
    assert new.grad[0, 1].item() == pytest.approx(-1.1 / 2)


def test_clipped_value_loss_and_clip_fraction() -> None:
    old = torch.tensor([[0.0, 0.0, 0.0]])
    new = torch.tensor([[1.0, 0.1, -1.0]])
    ret = torch.tensor([[2.0, 0.0, 1.0]])
    mask = torch.tensor([[True, True, False]])
    loss, clipfrac = clipped_value_loss(new, old, ret, mask, 0.2)
    # token 0: unclipped (1-2)^2 = 1, clipped (0.2-2)^2 = 3.24 -> 3.24, clipped wins
    # token 1: unclipped 0.01, clipped (0.1)^2 = 0.01 -> equal, not counted as clipped
    assert loss.item() == pytest.approx(0.5 * (3.24 + 0.01) / 2)
    assert clipfrac.item() == pytest.approx(0.5)


def test_logprobs_and_entropy_match_softmax() -> None:
    logits = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(1))
    tokens = torch.tensor([[0, 6, 3], [2, 2, 5]])
    expected = F.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(logprobs_of(logits, tokens), expected, atol=1e-6)
    uniform = entropy_of(torch.zeros(1, 1, 8))
    assert uniform.item() == pytest.approx(math.log(8))


def test_response_mask_keeps_the_stop_token_and_flags_unended() -> None:
    responses = torch.tensor([[5, 9, 2, 2, 2], [5, 5, 5, 5, 5], [7, 3, 5, 1, 1]])
    mask, ended = response_mask(responses, [2, 7])
    assert mask.tolist() == [
        [True, True, True, False, False],
        [True, True, True, True, True],
        [True, False, False, False, False],
    ]
    assert ended.tolist() == [True, False, True]
