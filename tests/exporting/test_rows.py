"""Row builders: the raw row's fields, the TRL row's orientation, margin and text form."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from app.exporting.options import TrlForm
from app.exporting.rows import prompt_text, raw_row, trl_row
from app.exporting.selects import RAW_COLUMNS
from app.exporting.writers import RAW_SCHEMA

MESSAGES = '[{"role": "user", "content": "Hi?"}]'


def test_raw_row_names_every_selected_column_like_the_parquet_schema() -> None:
    row = tuple(range(len(RAW_COLUMNS)))
    record = raw_row(row, prompt=str)
    assert tuple(record) == RAW_COLUMNS == tuple(RAW_SCHEMA.names)
    assert list(record.values()) == [
        str(3) if k == "prompt" else bool(i) if k == "is_gold" else i
        for i, k in enumerate(RAW_COLUMNS)
    ]


def test_raw_jsonl_embeds_the_stored_messages_verbatim() -> None:
    row = list(range(len(RAW_COLUMNS)))
    row[3] = MESSAGES
    row[19] = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    line = orjson.loads(orjson.dumps(raw_row(row, prompt=orjson.Fragment)))
    assert line["prompt"] == [{"role": "user", "content": "Hi?"}]
    assert line["created_at"] == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    ("outcome", "chosen", "margin"),
    [("better", "B text", 1.0), ("worse", "A text", pytest.approx(1 / 3))],
)
def test_trl_row_takes_the_winner_and_its_margin(outcome: str, chosen: str, margin: float) -> None:
    # (id, messages, A, B, outcome, n, votes, margin sum better, strengths better, worse...)
    row = (7, MESSAGES, "A text", "B text", outcome, 3, 2, 2.0, 2, 1 / 3, 1)
    record = trl_row(row, form=TrlForm.conversational, prompt=orjson.loads)
    assert record["chosen"] == [{"role": "assistant", "content": chosen}]
    assert record["rejected"][0]["content"] != chosen
    assert record["margin"] == margin
    assert record["agreement"] == pytest.approx(2 / 3)
    assert (record["labels"], record["comparison_id"]) == (3, 7)


def test_trl_margin_is_zero_without_strengths() -> None:
    row = (1, MESSAGES, "a", "b", "better", 1, 1, None, 0, None, 0)
    assert trl_row(row, form=TrlForm.conversational, prompt=orjson.loads)["margin"] == 0.0


def test_text_form_reads_as_one_transcript() -> None:
    row = (1, MESSAGES, "a", "b", "worse", 1, 1, None, 0, None, 0)
    record = trl_row(row, form=TrlForm.text, prompt=orjson.loads)
    assert record["prompt"] + record["chosen"] == "\n\nHuman: Hi?\n\nAssistant: a"
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    assert prompt_text(messages) == (
        "\n\nSystem: Be brief.\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant:"
    )
