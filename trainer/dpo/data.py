"""Preference pairs as the token ids a policy reads: prompt, chosen response, rejected response.

The prompt is rendered exactly as generation renders it (``trainer.policy.render_prompt``: the
chat template with the assistant turn opened) and tokenised on its own, as generation does, so
the policy is trained on the tokens it would itself produce after that prompt. A response
ends with the end-of-turn token, so DPO also teaches where to stop. When a pair is too long
the prompt loses its *start* (the most recent turns matter most) and each response is kept
whole; only a response longer than the whole window is cut, from its end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from transformers import PreTrainedTokenizerBase

from trainer.dpo.config import DPOConfig
from trainer.policy import render_prompt
from trainer.reward.data import PreferenceExample, orient


@dataclass(frozen=True)
class EncodedPair:
    prompt: list[int]
    chosen: list[int]  # the preferred response, end-of-turn token included
    rejected: list[int]
    margin: float  # required implicit-reward gap (label strength); 0.0 when none
    group: int  # comparison id: labels of one comparison stay on one side of the split

    def length(self) -> int:
        """Tokens of the longer side: what a batch pads to."""
        return len(self.prompt) + max(len(self.chosen), len(self.rejected))


def strict_preferences(examples: Sequence[PreferenceExample]) -> list[PreferenceExample]:
    """Ties say nothing about which response to prefer: DPO leaves them out."""
    return [e for e in examples if e.choice != "same"]


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[PreferenceExample],
    config: DPOConfig,
) -> list[EncodedPair]:
    """Tokenised pairs, in the order given; ties must have been left out already."""
    if any(e.choice == "same" for e in examples):
        raise ValueError("ties have no chosen response; leave them out (strict_preferences)")
    oriented = [orient(e, config.use_margin) for e in examples]
    prompts = _ids(tokenizer, [render_prompt(tokenizer, e.prompt) for e in examples])
    # A base model without a chat template continues "Assistant:" with a space.
    lead = "" if tokenizer.chat_template else " "
    chosen = _ids(tokenizer, [lead + p.first for p in oriented])
    rejected = _ids(tokenizer, [lead + p.second for p in oriented])
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the policy's tokenizer has no end-of-sequence token")
    rows = zip(prompts, chosen, rejected, oriented, examples, strict=True)
    return [
        _fit(prompt, [*c, int(eos)], [*r, int(eos)], pair.margin, example.group, config)
        for prompt, c, r, pair, example in rows
    ]


def _ids(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    # Templates write their own special tokens into the text.
    ids: list[list[int]] = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return ids


def _fit(
    prompt: list[int],
    chosen: list[int],
    rejected: list[int],
    margin: float,
    group: int,
    config: DPOConfig,
) -> EncodedPair:
    # At least one prompt token stays: the first response token needs a position to be
    # predicted from.
    chosen, rejected = chosen[: config.max_length - 1], rejected[: config.max_length - 1]
    room = min(config.max_prompt_length, config.max_length - max(len(chosen), len(rejected)))
    # One cut for both sides: chosen and rejected are compared after the very same prompt.
    return EncodedPair(prompt[-room:], chosen, rejected, margin, group)


def data_fingerprint(examples: Sequence[PreferenceExample], policy_path: str) -> str:
    """Identifies the data and policy: a resumed run must see exactly the same pairs."""
    digest = hashlib.sha256(policy_path.encode())
    for example in examples:
        digest.update(json.dumps(asdict(example), sort_keys=True).encode())
    return digest.hexdigest()
