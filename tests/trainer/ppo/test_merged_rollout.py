"""Sampling with the adapter merged into the weights: the same policy, the weights restored."""

from __future__ import annotations

import torch

from tests.trainer.ppo.tiny_policy import PROMPTS
from trainer.policy import encode_prompts
from trainer.ppo.config import PPOConfig
from trainer.ppo.policy_value import (
    PolicyWithValueHead,
    build_policy_with_value_head,
    forward_responses,
)
from trainer.ppo.rollout import rollout


def trained_looking(tiny_policy: str) -> tuple[PolicyWithValueHead, object]:
    """A fresh adapter does nothing (B = 0); give it weights as if PPO had moved it."""
    model, tokenizer = build_policy_with_value_head(tiny_policy, PPOConfig(lora_r=4))
    torch.manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.normal_(0.0, 0.3)
    model.eval()
    return model, tokenizer


def base_weights(model: PolicyWithValueHead) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if not p.requires_grad}


def test_merged_logits_match_the_adapter_and_weights_come_back_bit_for_bit(
    tiny_policy: str,
) -> None:
    model, tokenizer = trained_looking(tiny_policy)
    ids, mask = encode_prompts(tokenizer, PROMPTS[:4], 64)
    before = {n: p.detach().clone() for n, p in base_weights(model).items()}
    storage = {n: p.data_ptr() for n, p in base_weights(model).items()}
    with torch.no_grad():
        unmerged, values = forward_responses(model, ids, mask, 5, 0.7)
        with model.reference():
            reference, _ = forward_responses(model, ids, mask, 5, 0.7)
        with model.merged():
            assert any(p.data_ptr() != storage[n] for n, p in base_weights(model).items())
            merged, merged_values = forward_responses(model, ids, mask, 5, 0.7)
    torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(merged_values, values, rtol=1e-4, atol=1e-4)
    # The adapter really changes the policy, so the match above is not the base's.
    assert (reference - unmerged).abs().max() > 1e-2
    for name, param in base_weights(model).items():
        assert param.data_ptr() == storage[name], name
        assert torch.equal(param, before[name]), name
    # After it, the adapter runs as a branch again (training needs its gradients).
    with torch.no_grad():
        again, _ = forward_responses(model, ids, mask, 5, 0.7)
    assert torch.equal(again, unmerged)


def test_rollout_log_probs_are_the_adapted_policys(tiny_policy: str) -> None:
    model, tokenizer = trained_looking(tiny_policy)
    config = PPOConfig(batch_size=4, num_mini_batches=2, response_length=6, lora_r=4)
    stops = [int(tokenizer.convert_tokens_to_ids("<|im_end|>"))]
    torch.manual_seed(0)
    batch = rollout(model, tokenizer, PROMPTS[:4], config, stops)
    # What the update recomputes with the adapter unmerged: the rollout's old log-probs and
    # values must agree, or every PPO ratio would start away from 1.
    with torch.no_grad():
        logits, values = forward_responses(
            model, batch.query_responses, batch.attention_mask, batch.width, config.temperature
        )
    logprobs = torch.log_softmax(logits, -1).gather(-1, batch.responses[..., None])[..., 0]
    torch.testing.assert_close(
        torch.where(batch.mask, logprobs, 0.0), batch.logprobs, rtol=1e-4, atol=1e-4
    )
    torch.testing.assert_close(
        torch.where(batch.mask, values, 0.0), batch.values, rtol=1e-4, atol=1e-4
    )
    assert not torch.equal(batch.logprobs, batch.ref_logprobs)
