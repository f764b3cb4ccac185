"""One parser per import format: a JSON line in, a ParsedPair out, or a LineError saying why not."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import orjson

from app.content import MAX_TEXT_CHARS, ContentError, check_text, normalise_messages
from app.importing import hh
from app.importing.records import LineError, ParsedPair, SkipLine
from app.models import Choice, Strength


class ImportFormat(enum.StrEnum):
    pairs = "pairs"
    hh = "hh"
    trl = "trl"


_CHOICES = {choice.value: choice for choice in Choice}
_STRENGTHS = {strength.value: strength for strength in Strength}


def _plain(value: object) -> bool:
    """What check_text accepts, tested inline: the common line skips the full checks."""
    return (
        type(value) is str
        and len(value) <= MAX_TEXT_CHARS
        and not value.isspace()
        and value != ""
        and "\x00" not in value
    )


def parse_pairs(record: dict[str, Any]) -> ParsedPair:
    """`{"prompt": str | [messages], "response_a", "response_b", "label"?, "strength"?,
    "model_a"?, "model_b"?, "gold"?}`: the model names say where each response came from;
    gold is the known answer of a quality-control pair."""
    prompt: Any = record.get("prompt")
    first: Any = record.get("response_a")
    second: Any = record.get("response_b")
    messages: list[dict[str, str]]
    if _plain(prompt) and _plain(first) and _plain(second):
        messages = [{"role": "user", "content": prompt}]
    else:
        # The full checks, in field order, for the message that names the first problem.
        messages = _messages(_required(record, "prompt"), "prompt")
        first = _text(_required(record, "response_a"), "response_a")
        second = _text(_required(record, "response_b"), "response_b")
    label = record.get("label")
    # isinstance first: a list or an object is unhashable and must not reach the lookup.
    choice = _CHOICES.get(label) if isinstance(label, str) else None
    if label is not None and choice is None:
        raise LineError(
            f"label must be one of better, worse, same (B compared with A), not {label!r}"
        )
    strength = record.get("strength")
    level = None
    if strength is not None:
        level = _STRENGTHS.get(strength) if isinstance(strength, str) else None
        if level is None:
            raise LineError(f"strength must be slightly or much, not {strength!r}")
        if choice is None or choice == Choice.same:
            raise LineError("strength needs a label of better or worse")
    raw_gold = record.get("gold")
    gold = _CHOICES.get(raw_gold) if isinstance(raw_gold, str) else None
    if raw_gold is not None and gold is None:
        raise LineError(
            f"gold must be one of better, worse, same (B compared with A), not {raw_gold!r}"
        )
    return ParsedPair(
        messages,
        first,
        second,
        choice,
        level,
        # A gold pair's order is randomised too, so its answer is not always on one side.
        randomise=choice is not None or gold is not None,
        model_first=_model_name(record, "model_a"),
        model_second=_model_name(record, "model_b"),
        gold=gold,
    )


MAX_MODEL_NAME_CHARS = 200


def _model_name(record: dict[str, Any], key: str) -> str | None:
    """The optional name of a response's source: a leaderboard entry, so short and printable."""
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LineError(f"{key} must be a non-empty string naming the response's source")
    if len(value) > MAX_MODEL_NAME_CHARS:
        raise LineError(f"{key} has {len(value)} characters; at most {MAX_MODEL_NAME_CHARS}")
    if not value.isprintable():
        raise LineError(f"{key} contains control characters")
    return value.strip()


def parse_hh(record: dict[str, Any]) -> ParsedPair:
    """`{"chosen": transcript, "rejected": transcript}`: the human chose `chosen`."""
    chosen = _string(_required(record, "chosen"), "chosen")
    rejected = _string(_required(record, "rejected"), "rejected")
    messages, chosen_text, rejected_text = hh.split_record(chosen, rejected)
    return ParsedPair(messages, rejected_text, chosen_text, Choice.better)


def parse_trl(record: dict[str, Any]) -> ParsedPair:
    """TRL preference rows, standard (strings) or conversational (message lists).

    Without a `prompt` key (TRL's implicit-prompt form) chosen and rejected are whole
    conversations and the prompt is the turns they share.
    """
    chosen_raw = _required(record, "chosen")
    rejected_raw = _required(record, "rejected")
    if "prompt" in record:
        messages = _messages(record["prompt"], "prompt")
        chosen = _completion(chosen_raw, "chosen")
        rejected = _completion(rejected_raw, "rejected")
    else:
        if not isinstance(chosen_raw, list) or not isinstance(rejected_raw, list):
            raise LineError("prompt is missing (only conversational rows may leave it implicit)")
        chosen_messages = _messages(chosen_raw, "chosen")
        rejected_messages = _messages(rejected_raw, "rejected")
        shared = 0
        for a, b in zip(chosen_messages, rejected_messages, strict=False):
            if a != b:
                break
            shared += 1
        if shared == 0:
            raise LineError("chosen and rejected share no prompt turns")
        messages = chosen_messages[:shared]
        chosen = _completion(chosen_messages[shared:], "chosen")
        rejected = _completion(rejected_messages[shared:], "rejected")
    return ParsedPair(messages, rejected, chosen, Choice.better)


PARSERS: dict[ImportFormat, Callable[[dict[str, Any]], ParsedPair]] = {
    ImportFormat.pairs: parse_pairs,
    ImportFormat.hh: parse_hh,
    ImportFormat.trl: parse_trl,
}


def parse_line(fmt: ImportFormat, line: bytes) -> ParsedPair:
    """Raises LineError for a bad line and SkipLine for one that holds no comparison."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise LineError(f"not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise LineError("a line must be a JSON object")
    return PARSERS[fmt](record)


def _required(record: dict[str, Any], key: str) -> Any:
    if key not in record:
        raise LineError(f"missing field {key!r}")
    return record[key]


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise LineError(f"{what} must be a string")
    return value


def _text(value: object, what: str) -> str:
    try:
        return check_text(value, what)
    except ContentError as exc:
        raise LineError(str(exc)) from None


def _messages(value: object, what: str) -> list[dict[str, str]]:
    try:
        return normalise_messages(value)
    except ContentError as exc:
        raise LineError(f"{what}: {exc}") from None


def _completion(value: object, what: str) -> str:
    """A response: a string, or a list holding exactly one assistant message."""
    if isinstance(value, str):
        return _text(value, what)
    if isinstance(value, list):
        if len(value) != 1:
            raise LineError(f"{what} must hold exactly one assistant message, not {len(value)}")
        message = _messages(value, what)[0]
        if message["role"] != "assistant":
            raise LineError(f"{what} must be an assistant message, not {message['role']}")
        return message["content"]
    raise LineError(f"{what} must be a string or a list with one assistant message")


__all__ = ["ImportFormat", "LineError", "SkipLine", "parse_line"]
