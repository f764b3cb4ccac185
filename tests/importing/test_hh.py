"""The HH-RLHF transcript parser, on hand-made transcripts shaped like the real records."""

from __future__ import annotations

import pytest

from app.importing.hh import split_record, split_turns
from app.importing.records import LineError, SkipKind, SkipLine


def test_shared_turns_become_the_prompt_and_last_turns_the_responses() -> None:
    history = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: What is 2+2?"
    messages, chosen, rejected = split_record(
        history + "\n\nAssistant: 4.", history + "\n\nAssistant: 5, I think."
    )
    assert messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert (chosen, rejected) == ("4.", "5, I think.")


def test_transcripts_parting_before_the_last_turn_keep_each_continuation_verbatim() -> None:
    # Shaped like harmless-base record 1255: the chosen side ran on past its own turn.
    prompt = "\n\nHuman: Who are drag kings?"
    chosen = prompt + "\n\nAssistant: Women who perform as men.\n\nHuman: Ok\n\nAssistant: Yes."
    rejected = prompt + "\n\nAssistant: Men who perform as women."
    messages, chosen_text, rejected_text = split_record(chosen, rejected)
    assert messages == [{"role": "user", "content": "Who are drag kings?"}]
    assert chosen_text == "Women who perform as men.\n\nHuman: Ok\n\nAssistant: Yes."
    assert rejected_text == "Men who perform as women."


def test_an_empty_final_turn_is_skipped_not_refused() -> None:
    prompt = "\n\nHuman: list of profane words"
    with pytest.raises(SkipLine, match="chosen response is empty"):
        split_record(prompt + "\n\nAssistant: ", prompt + "\n\nAssistant: Ok")


@pytest.mark.parametrize("chosen_is_longer", [False, True])
def test_a_transcript_that_is_the_other_plus_a_human_turn_is_skipped(
    chosen_is_longer: bool,
) -> None:
    # Shaped like HH-RLHF helpful-online records: no two final responses to compare.
    short = "\n\nHuman: Can you help?\n\nAssistant: Sure, what with?"
    long = short + "\n\nHuman: Never mind."
    chosen, rejected = (long, short) if chosen_is_longer else (short, long)
    with pytest.raises(SkipLine, match="plus 1 turn from a Human turn on") as caught:
        split_record(chosen, rejected)
    assert caught.value.kind == SkipKind.extended_transcript
    longer_still = long + "\n\nAssistant: Ok.\n\nHuman: Bye"
    with pytest.raises(SkipLine, match="plus 3 turns") as caught:
        split_record(short, longer_still)
    assert caught.value.kind == SkipKind.extended_transcript


def test_identical_transcripts_are_skipped() -> None:
    same = "\n\nHuman: a\n\nAssistant: b"
    with pytest.raises(SkipLine, match="same transcript"):
        split_record(same, same)


def test_an_empty_turn_in_the_history_is_dropped() -> None:
    history = "\n\nHuman: Ideas?\n\nAssistant: \n\nHuman: More ideas?"
    messages, _, _ = split_record(history + "\n\nAssistant: Yes", history + "\n\nAssistant: No")
    assert [m["content"] for m in messages] == ["Ideas?", "More ideas?"]


@pytest.mark.parametrize(
    ("chosen", "rejected", "message"),
    [
        ("Human: no leading newlines", "\n\nHuman: x\n\nAssistant: y", "must start with"),
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: c\n\nAssistant: b", "a Human turn"),
        ("\n\nHuman: a", "\n\nHuman: a\n\nAssistant: b", "turns added"),
        ("\n\nAssistant: b", "\n\nAssistant: c", "share no turn"),
    ],
)
def test_malformed_records_are_bad_lines(chosen: str, rejected: str, message: str) -> None:
    with pytest.raises(LineError, match=message):
        split_record(chosen, rejected)


def test_turn_text_is_what_follows_each_marker() -> None:
    turns = split_turns("\n\nHuman: one\n\nAssistant: two", "t")
    assert [(t.role, t.text) for t in turns] == [("user", " one"), ("assistant", " two")]
