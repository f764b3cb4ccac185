"""Pairs as tokens: the generation prompt, whole responses ending their turn, left-cut prompts;
and one left-padded forward pass that gives the same log-probs as scoring each row alone."""

from __future__ import annotations

import pytest
import torch

from trainer.dpo.config import DPOConfig
from trainer.dpo.data import encode_pairs, strict_preferences
from trainer.dpo.forward import collate, summed_logps
from trainer.policy import encode_prompts, load_policy, load_policy_tokenizer
from trainer.reward.data import PreferenceExample

PROMPT = [{"role": "user", "content": "tell me about the sea and the rivers that feed it"}]


def example(a: str, b: str, choice: str = "better", group: int = 0) -> PreferenceExample:
    return PreferenceExample(PROMPT, a, b, choice, group=group)


def test_prompt_is_what_generation_reads_and_responses_end_their_turn(tiny_policy: str) -> None:
    tokenizer = load_policy_tokenizer(tiny_policy)
    [pair] = encode_pairs(tokenizer, [example("no", "yes indeed")], DPOConfig())
    generation_ids, _ = encode_prompts(tokenizer, [PROMPT], 512)
    assert pair.prompt == generation_ids[0].tolist()
    eos = tokenizer.eos_token_id
    # "better": B is chosen.
    assert pair.chosen == [*tokenizer("yes indeed", add_special_tokens=False)["input_ids"], eos]
    assert pair.rejected == [*tokenizer("no", add_special_tokens=False)["input_ids"], eos]
    [worse] = encode_pairs(tokenizer, [example("no", "yes indeed", "worse")], DPOConfig())
    assert (worse.chosen, worse.rejected) == (pair.rejected, pair.chosen)


def test_long_pairs_lose_the_prompt_start_and_keep_responses_whole(tiny_policy: str) -> None:
    tokenizer = load_policy_tokenizer(tiny_policy)
    config = DPOConfig(max_length=40, max_prompt_length=30)
    [pair] = encode_pairs(tokenizer, [example("short", "a much longer answer")], config)
    full, _ = encode_prompts(tokenizer, [PROMPT], 512)
    assert len(pair.chosen) == len("a much longer answer") + 1  # characters + end of turn
    # One cut for both sides, fitted to the longer response.
    assert len(pair.prompt) == 40 - len(pair.chosen)
    assert pair.prompt == full[0].tolist()[-len(pair.prompt) :]
    assert pair.length() == 40
    capped = encode_pairs(tokenizer, [example("x", "y")], config)[0]
    assert len(capped.prompt) == 30  # max_prompt_length
    # Only a response longer than the whole window is cut, from its end, keeping one
    # prompt token.
    [huge] = encode_pairs(tokenizer, [example("x", "z" * 100)], config)
    assert len(huge.chosen) == 39 and len(huge.prompt) == 1
    assert huge.chosen == tokenizer("z" * 39, add_special_tokens=False)["input_ids"]


def test_ties_are_left_out() -> None:
    examples = [example("a", "b", "same", 1), example("a", "b", "better", 2)]
    assert [e.group for e in strict_preferences(examples)] == [2]


def test_ties_given_to_the_encoder_are_refused(tiny_policy: str) -> None:
    tokenizer = load_policy_tokenizer(tiny_policy)
    with pytest.raises(ValueError, match="ties"):
        encode_pairs(tokenizer, [example("a", "b", "same")], DPOConfig())


def test_one_left_padded_pass_matches_each_row_scored_alone(tiny_policy: str) -> None:
    model, tokenizer = load_policy(tiny_policy)
    examples = [example("no", "yes, gladly"), example("a long rambling answer here", "ok")]
    pairs = encode_pairs(tokenizer, examples, DPOConfig())
    batch = collate(pairs, int(tokenizer.pad_token_id))
    assert batch.input_ids.shape[0] == 4 and batch.width == len("a long rambling answer here") + 1
    with torch.no_grad():
        chosen, rejected = summed_logps(model, batch)
        for i, pair in enumerate(pairs):
            for response, got in ((pair.chosen, chosen[i]), (pair.rejected, rejected[i])):
                ids = torch.tensor([pair.prompt + response])
                logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
                targets = ids[0, 1:]
                alone = logp[torch.arange(len(targets)), targets][-len(response) :].sum()
                assert got.item() == pytest.approx(alone.item(), abs=1e-4)
