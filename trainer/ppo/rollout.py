"""Rollout phase: sample responses and record the policy's, reference's and critic's view of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from trainer.policy import encode_prompts
from trainer.ppo.config import PPOConfig
from trainer.ppo.policy_value import PolicyWithValueHead, forward_responses
from trainer.ppo.tensor_ops import logprobs_of, response_mask


@dataclass(frozen=True)
class Rollout:
    # Prompt (left-padded, width P) then response (right-padded, width T): (B, P + T).
    query_responses: torch.Tensor
    # 1 on real prompt tokens and on response tokens up to the stop token: (B, P + T).
    attention_mask: torch.Tensor
    responses: torch.Tensor  # (B, T) sampled token ids
    mask: torch.Tensor  # (B, T) bool, True up to and including the first stop token
    ended: torch.Tensor  # (B,) bool, False where the response hit the length limit
    logprobs: torch.Tensor  # (B, T) sampling policy, from logits / temperature
    ref_logprobs: torch.Tensor  # (B, T) reference policy, same scaling
    values: torch.Tensor  # (B, T) value head's estimate before each response token

    @property
    def width(self) -> int:
        return int(self.responses.shape[1])


@torch.no_grad()
def rollout(
    model: PolicyWithValueHead,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict[str, str]]],
    config: PPOConfig,
    stops: list[int],
    use_adapter: bool = True,
) -> Rollout:
    """Samples one response per prompt; ``use_adapter=False`` samples the reference instead.

    The whole batch is sampled together with the KV cache, the adapter merged into the weights
    (``PolicyWithValueHead.merged``): per token, the adapted layers cost what the base does.

    Log-probs and values come from the generation pass itself (its raw logits and the hidden
    states the value head reads), so only the reference needs a second forward pass.
    """
    device = model.value_head.weight.device
    input_ids, prompt_mask = encode_prompts(tokenizer, prompts, config.max_prompt_tokens)
    input_ids, prompt_mask = input_ids.to(device), prompt_mask.to(device)  # (B, P)
    model.eval()
    with model.captured_hidden() as hidden, model.merged() if use_adapter else model.reference():
        out = model.policy.generate(
            input_ids=input_ids,
            attention_mask=prompt_mask,
            do_sample=True,
            temperature=config.temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=config.response_length,
            eos_token_id=stops,
            pad_token_id=tokenizer.pad_token_id,
            use_cache=True,
            return_dict_in_generate=True,
            output_logits=True,
        )
        states = torch.cat([h[:, -1:] for h in hidden], dim=1)  # (B, T, H)
    responses = out.sequences[:, input_ids.shape[1] :]  # (B, T)
    logits = torch.stack(out.logits, dim=1) / config.temperature  # (B, T, V)
    mask, ended = response_mask(responses, stops)
    attention_mask = torch.cat([prompt_mask, mask.long()], dim=1)
    ref_logprobs = reference_logprobs(
        model, out.sequences, attention_mask, responses.shape[1], config
    )
    zero = torch.zeros((), device=device)
    return Rollout(
        query_responses=out.sequences,
        attention_mask=attention_mask,
        responses=responses,
        mask=mask,
        ended=ended,
        logprobs=torch.where(mask, logprobs_of(logits, responses), zero),
        ref_logprobs=torch.where(mask, ref_logprobs, zero),
        values=torch.where(mask, model.values_of(states), zero),
    )


@torch.no_grad()
def reference_logprobs(
    model: PolicyWithValueHead,
    query_responses: torch.Tensor,
    attention_mask: torch.Tensor,
    width: int,
    config: PPOConfig,
) -> torch.Tensor:
    """Reference log-probs of the last ``width`` tokens: (B, P + T) -> (B, T), by mini-batch."""
    chunk = config.batch_size // config.num_mini_batches
    out = []
    with model.reference():
        for start in range(0, query_responses.shape[0], chunk):
            rows = slice(start, start + chunk)
            logits, _ = forward_responses(
                model, query_responses[rows], attention_mask[rows], width, config.temperature
            )
            out.append(logprobs_of(logits, query_responses[rows, -width:]))
    return torch.cat(out, dim=0)
