"""Line parsers per format, the deterministic A/B order, and oversized lines."""

from __future__ import annotations

import io

import orjson
import pytest

from app.importing.lines import OversizedLine, numbered_lines
from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import LineError, ParsedPair, SkipLine, to_row
from app.models import Choice, Strength


def parse(fmt: str, record: object) -> ParsedPair:
    return parse_line(ImportFormat(fmt), orjson.dumps(record))


def test_pairs_with_a_string_prompt_and_a_label() -> None:
    pair = parse(
        "pairs",
        {
            "prompt": "Hi?",
            "response_a": "a",
            "response_b": "b",
            "label": "worse",
            "strength": "much",
        },
    )
    assert pair.messages == [{"role": "user", "content": "Hi?"}]
    assert (pair.first, pair.second, pair.choice, pair.strength) == (
        "a",
        "b",
        Choice.worse,
        Strength.much,
    )


def test_unlabelled_pairs_keep_their_order() -> None:
    for i in range(20):
        row = to_row(1, parse("pairs", {"prompt": f"q{i}", "response_a": "a", "response_b": "b"}))
        assert (row.text_a, row.text_b, row.choice) == ("a", "b", None)


def test_labelled_rows_are_ordered_by_the_pair_not_by_the_file() -> None:
    chosen_first = chosen_as_b = 0
    for i in range(200):
        record = {"prompt": f"question {i}", "chosen": f"good {i}", "rejected": f"bad {i}"}
        row = to_row(1, parse("trl", record))
        # The same pair given the other way round lands on the same A and B.
        flipped = to_row(
            2,
            parse(
                "pairs",
                {
                    "prompt": f"question {i}",
                    "response_a": f"good {i}",
                    "response_b": f"bad {i}",
                    "label": "worse",
                },
            ),
        )
        assert (row.text_a, row.text_b, row.choice) == (
            flipped.text_a,
            flipped.text_b,
            flipped.choice,
        )
        chosen_text = row.text_b if row.choice is Choice.better else row.text_a
        assert chosen_text == f"good {i}"
        chosen_as_b += row.choice is Choice.better
        chosen_first += row.choice is Choice.worse
    # Random, not alternating nor one-sided: both orders are common.
    assert 60 < chosen_as_b < 140 and chosen_first == 200 - chosen_as_b


def test_trl_standard_conversational_and_implicit_prompt() -> None:
    standard = parse("trl", {"prompt": "Sky?", "chosen": "Blue.", "rejected": "Green."})
    conversational = parse(
        "trl",
        {
            "prompt": [{"role": "user", "content": "Sky?"}],
            "chosen": [{"role": "assistant", "content": "Blue."}],
            "rejected": [{"role": "assistant", "content": "Green."}],
        },
    )
    implicit = parse(
        "trl",
        {
            "chosen": [
                {"role": "user", "content": "Sky?"},
                {"role": "assistant", "content": "Blue."},
            ],
            "rejected": [
                {"role": "user", "content": "Sky?"},
                {"role": "assistant", "content": "Green."},
            ],
        },
    )
    assert standard == conversational == implicit
    assert (standard.second, standard.first, standard.choice) == ("Blue.", "Green.", Choice.better)


@pytest.mark.parametrize(
    ("fmt", "line", "message"),
    [
        ("pairs", b"{not json", "not valid JSON"),
        ("pairs", b"[1, 2]", "JSON object"),
        ("pairs", b'{"prompt": "q", "response_a": "a"}', "missing field 'response_b'"),
        ("pairs", b'{"prompt": "q", "response_a": " ", "response_b": "b"}', "response_a is empty"),
        ("pairs", b'{"prompt": "q", "response_a": 3, "response_b": "b"}', "must be a string"),
        (
            "pairs",
            b'{"prompt": [{"role": "wizard", "content": "x"}], "response_a": "a", "response_b": "b"}',
            "unknown role",
        ),
        (
            "pairs",
            b'{"prompt": "q", "response_a": "a", "response_b": "b", "label": "best"}',
            "label must be",
        ),
        (
            "pairs",
            b'{"prompt": "q", "response_a": "a", "response_b": "b", "strength": "much"}',
            "strength needs",
        ),
        ("hh", b'{"chosen": "x"}', "missing field 'rejected'"),
        ("trl", b'{"chosen": "a", "rejected": "b"}', "prompt is missing"),
        (
            "trl",
            b'{"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}',
            "assistant message",
        ),
    ],
)
def test_bad_lines_say_what_is_wrong(fmt: str, line: bytes, message: str) -> None:
    with pytest.raises(LineError, match=message):
        parse_line(ImportFormat(fmt), line)


def test_oversized_text_is_a_bad_line() -> None:
    with pytest.raises(LineError, match="at most"):
        parse("pairs", {"prompt": "q", "response_a": "a" * 100_001, "response_b": "b"})


def test_identical_responses_are_skipped() -> None:
    with pytest.raises(SkipLine):
        to_row(1, parse("pairs", {"prompt": "q", "response_a": "same", "response_b": "same"}))


def test_lines_are_numbered_blank_ones_counted_and_oversized_ones_never_held() -> None:
    stream = io.BytesIO(b'{"a": 1}\n\n' + b"x" * 5000 + b"\n{}\r\n")
    lines = list(numbered_lines(stream, max_bytes=1000))
    assert lines[0] == (1, b'{"a": 1}')
    assert lines[1] == (3, OversizedLine(5001))
    assert lines[2] == (4, b"{}")
