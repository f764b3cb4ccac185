"""Row builders: one database row in, one export row (a dict) out, per schema and form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import orjson

from app.exporting import aggregation
from app.exporting.options import ExportSchema, TrlForm

Row = Sequence[Any]
RowBuilder = Callable[[Row], dict[str, Any]]

# Plain-text prompts use the HH convention, so that prompt + chosen reads as one transcript.
_SPEAKERS = {"system": "System", "user": "Human", "assistant": "Assistant"}


def prompt_text(messages: list[dict[str, str]]) -> str:
    """`"\\n\\nHuman: ...\\n\\nAssistant:"`: the text form of a conversation awaiting its reply."""
    turns = "".join(f"\n\n{_SPEAKERS[m['role']]}: {m['content']}" for m in messages)
    return turns + "\n\nAssistant:"


def raw_row(row: Row, *, prompt: Callable[[str], Any]) -> dict[str, Any]:
    # Spelled out rather than dict(zip(...)): a literal is built about twice as fast, and
    # this runs once per label of an export.
    (
        label_id,
        comparison_id,
        prompt_id,
        messages,
        response_a_id,
        response_a,
        response_b_id,
        response_b,
        choice,
        strength,
        feedback,
        flag_harmful,
        flag_untrue,
        flag_unhelpful,
        shown_swapped,
        annotator,
        annotator_id,
        source,
        time_spent_ms,
        created_at,
        response_a_source,
        response_a_model_version_id,
        response_b_source,
        response_b_model_version_id,
        is_gold,
    ) = row
    return {
        "label_id": label_id,
        "comparison_id": comparison_id,
        "prompt_id": prompt_id,
        "prompt": prompt(messages),
        "response_a_id": response_a_id,
        "response_a": response_a,
        "response_b_id": response_b_id,
        "response_b": response_b,
        "choice": choice,
        "strength": strength,
        "feedback": feedback,
        "flag_harmful": flag_harmful,
        "flag_untrue": flag_untrue,
        "flag_unhelpful": flag_unhelpful,
        "shown_swapped": shown_swapped,
        "annotator": annotator,
        "annotator_id": annotator_id,
        "source": source,
        "time_spent_ms": time_spent_ms,
        "created_at": created_at,
        "response_a_source": response_a_source,
        "response_a_model_version_id": response_a_model_version_id,
        "response_b_source": response_b_source,
        "response_b_model_version_id": response_b_model_version_id,
        "is_gold": bool(is_gold),
    }


def trl_row(row: Row, *, form: TrlForm, prompt: Callable[[str], Any]) -> dict[str, Any]:
    (cid, messages, text_a, text_b, outcome, n, votes, m_better, s_better, m_worse, s_worse) = row
    if outcome == "better":
        chosen, rejected, margin = text_b, text_a, aggregation.mean_margin(m_better, s_better)
    else:
        chosen, rejected, margin = text_a, text_b, aggregation.mean_margin(m_worse, s_worse)
    record: dict[str, Any]
    if form is TrlForm.text:
        # The space after "Assistant:" goes with the completion, as in HH-RLHF itself.
        record = {
            "prompt": prompt_text(orjson.loads(messages)),
            "chosen": " " + chosen,
            "rejected": " " + rejected,
        }
    else:
        record = {
            "prompt": prompt(messages),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
    record["margin"] = margin
    record["agreement"] = votes / n
    record["labels"] = n
    record["comparison_id"] = cid
    return record


def row_builder(schema: ExportSchema, form: TrlForm, prompt: Callable[[str], Any]) -> RowBuilder:
    """`prompt` turns the stored messages' JSON text into the value written (kept or parsed)."""
    if schema is ExportSchema.raw:
        return partial(raw_row, prompt=prompt)
    return partial(trl_row, form=form, prompt=prompt)
