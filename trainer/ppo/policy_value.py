"""The model PPO trains: a LoRA-adapted policy with a value head on its last hidden states.

Why a value head on the policy rather than a separate value model (TRL's choice, a copy of
the reward model): our reward model is a cross-encoder with its own tokenizer, so it cannot
give a value per *policy* token; a second copy of the policy would double memory and compute.
The head reads the final hidden state that the LM head reads, so one forward pass gives both
log-probs and values, also during generation. Its loss shares the adapter with the policy
loss, weighted by ``vf_coef`` (as in Ziegler et al.'s lm-human-preferences).

Why LoRA: the reference policy is the same network with the adapter switched off
(``disable_adapter``), so PPO never holds a second full copy of the weights.

Why merge for the rollout: generation runs one token at a time, and an unmerged adapter adds
two small matmuls (and peft's Python around them) to every adapted linear layer for every
token. ``merged`` folds the adapter into the weights for the rollout, and puts the original
weights back for the update, which trains the adapter as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from trainer.policy import lora_policy
from trainer.ppo.config import PPOConfig


class PolicyWithValueHead(nn.Module):
    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy  # a peft model
        hidden_size = int(policy.get_output_embeddings().in_features)
        self.value_head = nn.Linear(hidden_size, 1)
        # A zero head predicts 0 for every state at first; the returns teach it from there.
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)
        self._hidden: list[torch.Tensor] = []
        # The LM head's input is the final hidden state, whatever the architecture calls it.
        policy.get_output_embeddings().register_forward_pre_hook(self._keep_hidden)

    def _keep_hidden(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        self._hidden.append(args[0])

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, K, V), values (B, K)) for the last K = logits_to_keep positions."""
        self._hidden.clear()
        out = self.policy(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=positions(attention_mask),
            logits_to_keep=logits_to_keep,
            use_cache=False,
        )
        hidden = self._hidden.pop()[:, -logits_to_keep:]  # (B, K, H)
        self._hidden.clear()
        # Models that ignore logits_to_keep return every position; keep the last K alike.
        return out.logits[:, -logits_to_keep:], self.value_head(hidden).squeeze(-1)

    def values_of(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, H) final hidden states -> (B, T) values."""
        values: torch.Tensor = self.value_head(hidden).squeeze(-1)
        return values

    @contextmanager
    def captured_hidden(self) -> Iterator[list[torch.Tensor]]:
        """Collects the final hidden state of every LM-head call inside, e.g. each generate step."""
        self._hidden.clear()
        try:
            yield self._hidden
        finally:
            self._hidden = []

    @contextmanager
    def merged(self) -> Iterator[None]:
        """The policy with its adapter folded into the weights it adapts (W + scale * B A),
        for sampling. The merged weights are new tensors swapped in, never an in-place sum:
        the originals come back bit for bit afterwards (an in-place add and subtract would
        leave rounding noise in the base weights, which are also the reference policy).
        Costs one extra copy of the adapted weights while it lasts."""
        from peft.tuners.lora import LoraLayer

        swapped: list[tuple[nn.Parameter, torch.Tensor]] = []
        try:
            with torch.no_grad():
                for module in self.policy.modules():
                    if not isinstance(module, LoraLayer) or not module.active_adapters:
                        continue
                    weight = module.get_base_layer().weight
                    original = weight.data
                    merged = original.clone()
                    for name in module.active_adapters:
                        merged += module.get_delta_weight(name).to(merged.dtype)
                    weight.data = merged
                    swapped.append((weight, original))
            # The adapter's branch is already in the weights: switch it off.
            with self.policy.disable_adapter():
                yield
        finally:
            for weight, original in swapped:
                weight.data = original

    @contextmanager
    def reference(self) -> Iterator[None]:
        """The frozen reference policy: the base model with the adapter switched off."""
        with self.policy.disable_adapter():
            yield


def forward_responses(
    model: nn.Module,
    query_responses: torch.Tensor,
    attention_mask: torch.Tensor,
    width: int,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits / temperature (B, T, V), values (B, T)) for the last T = width tokens.

    The prediction for token t comes from position t - 1, so T + 1 positions are computed and
    the last one (after the final token) dropped; the prompt's other positions never reach the
    LM head, which saves a (B, P, V) tensor. ``model`` may be wrapped (DDP) around a
    PolicyWithValueHead.
    """
    logits, values = model(query_responses, attention_mask, logits_to_keep=width + 1)
    return logits[:, :-1] / temperature, values[:, :-1]


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token, as generate counts them."""
    return (attention_mask.long().cumsum(1) - 1).clamp(min=0)  # (B, L)


def build_policy_with_value_head(policy_path: str, config: PPOConfig) -> tuple[Any, Any]:
    """(PolicyWithValueHead over a fresh LoRA adapter, tokenizer) for a policy on disk."""
    model, tokenizer = lora_policy(
        policy_path, config.lora_r, config.lora_alpha, config.lora_target_modules
    )
    return PolicyWithValueHead(model), tokenizer


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the parameters PPO trains (adapter and value head): small, CPU-side."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        raise ValueError(f"checkpoint does not fit the model: missing {missing}, unknown {unknown}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
