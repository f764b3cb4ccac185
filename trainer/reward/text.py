"""How a conversation and a response become the token ids a reward model reads.

The reward model is a cross-encoder over a text pair: the rendered prompt is the first
segment and the response the second. When the pair is too long the prompt loses its
*start* (the most recent turns matter most) and the response is kept whole; only a
response longer than the whole window is cut, from its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tokenizers import Encoding, Tokenizer
from transformers import PreTrainedTokenizerBase

ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}


def render_conversation(messages: Sequence[dict[str, str]]) -> str:
    """Messages as plain text, one "Role: content" block per turn."""
    return "\n".join(
        f"{ROLE_NAMES.get(m['role'], m['role'].capitalize())}: {m['content']}" for m in messages
    )


@dataclass(frozen=True)
class EncodedPair:
    input_ids: list[int]
    token_type_ids: list[int]


class PairEncoder:
    """Tokenizes (prompt, response) pairs with left-truncated prompts, in batches."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if not isinstance(backend, Tokenizer):
            raise TypeError("PairEncoder needs a fast (tokenizers-backed) tokenizer")
        # A private copy: the shipped tokenizer may come with padding/truncation switched on.
        self.backend = Tokenizer.from_str(backend.to_str())
        self.backend.no_padding()
        self.backend.no_truncation()
        n_special = self.backend.num_special_tokens_to_add(is_pair=True)
        if max_length <= n_special + 1:
            raise ValueError(f"max_length {max_length} leaves no room for text")
        self.max_length = max_length
        self.budget = max_length - n_special  # tokens left for prompt + response text
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        # Decoder models take no token types; pass only what the tokenizer says the model reads.
        self.uses_token_types = "token_type_ids" in tokenizer.model_input_names

    def encode(self, prompts: Sequence[str], responses: Sequence[str]) -> list[EncodedPair]:
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        prompt_encs = self.backend.encode_batch(list(prompts), add_special_tokens=False)
        response_encs = self.backend.encode_batch(list(responses), add_special_tokens=False)
        return [self._join(p, r) for p, r in zip(prompt_encs, response_encs, strict=True)]

    def _join(self, prompt: Encoding, response: Encoding) -> EncodedPair:
        # Keep at least one prompt token so the pair structure (and token types) stays intact.
        response_room = self.budget - min(1, len(prompt.ids))
        if len(response.ids) > response_room:
            response.truncate(response_room, direction="right")
        prompt_room = self.budget - len(response.ids)
        if len(prompt.ids) > prompt_room:
            prompt.truncate(prompt_room, direction="left")
        joined = self.backend.post_process(prompt, response, add_special_tokens=True)
        return EncodedPair(input_ids=list(joined.ids), token_type_ids=list(joined.type_ids))

    def pad(self, pairs: Sequence[EncodedPair]) -> dict[str, torch.Tensor]:
        """Model inputs for a batch, right-padded to its longest pair only (dynamic padding)."""
        batch = pad_pairs(pairs, self.pad_id)
        if not self.uses_token_types:
            del batch["token_type_ids"]
        return batch


def pad_pairs(pairs: Sequence[EncodedPair], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(p.input_ids) for p in pairs)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)  # (B, T)
    token_type_ids = torch.zeros((len(pairs), width), dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(pairs), width), dtype=torch.long)  # (B, T)
    for i, p in enumerate(pairs):
        n = len(p.input_ids)
        input_ids[i, :n] = torch.tensor(p.input_ids)
        token_type_ids[i, :n] = torch.tensor(p.token_type_ids)
        attention_mask[i, :n] = 1
    return {
        "input_ids": input_ids,
        "token_type_ids": token_type_ids,
        "attention_mask": attention_mask,
    }
