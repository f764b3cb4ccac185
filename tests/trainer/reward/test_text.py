from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from trainer.default_models import DEFAULT_REWARD, reward_base_path
from trainer.reward.text import PairEncoder, render_conversation


@pytest.fixture(scope="module")
def reward_tokenizer():  # type: ignore[no-untyped-def]
    return AutoTokenizer.from_pretrained(reward_base_path(DEFAULT_REWARD))


def test_render_conversation() -> None:
    text = render_conversation(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    )
    assert text == "System: Be brief.\nUser: Hi\nAssistant: Hello"


def test_truncation_keeps_prompt_end_and_whole_response(reward_tokenizer) -> None:  # type: ignore[no-untyped-def]
    encoder = PairEncoder(reward_tokenizer, max_length=16)
    prompt = "one two three four five six seven eight nine ten eleven twelve"
    (pair,) = encoder.encode([prompt], ["alpha beta gamma"])
    tokens = reward_tokenizer.convert_ids_to_tokens(pair.input_ids)
    assert len(tokens) == 16
    assert tokens[-5:] == ["[SEP]", "alpha", "beta", "gamma", "[SEP]"]
    # The prompt lost its start, kept its end.
    assert tokens[:3] == ["[CLS]", "three", "four"]
    assert tokens[-6] == "twelve"
    assert pair.token_type_ids == [0] * 12 + [1] * 4


def test_response_longer_than_window_is_cut_from_its_end(reward_tokenizer) -> None:  # type: ignore[no-untyped-def]
    encoder = PairEncoder(reward_tokenizer, max_length=8)
    (pair,) = encoder.encode(["question"], ["a b c d e f g h i j"])
    tokens = reward_tokenizer.convert_ids_to_tokens(pair.input_ids)
    assert tokens == ["[CLS]", "question", "[SEP]", "a", "b", "c", "d", "[SEP]"]


def test_short_pairs_untouched_and_padding_dynamic(reward_tokenizer) -> None:  # type: ignore[no-untyped-def]
    encoder = PairEncoder(reward_tokenizer, max_length=512)
    pairs = encoder.encode(["hi", "hello there"], ["yes", "no thanks friend"])
    batch = encoder.pad(pairs)
    assert batch["input_ids"].shape == (2, len(pairs[1].input_ids))
    assert batch["attention_mask"][0].sum().item() == len(pairs[0].input_ids)
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask"}
