"""Anthropic HH-RLHF transcripts: "\\n\\nHuman: ...\\n\\nAssistant: ..." split into turns.

A record's `chosen` and `rejected` transcripts normally share every turn but the last
Assistant turn. In a few records (2 of 1,800 in harmless-base, 9 of 2,354 in helpful-base)
they part earlier, with extra turns after the first difference — text the sampling model
produced past its own turn. Those records are still one human choice between two
continuations of one conversation, so the prompt is the turns both share and each response
is its transcript from the first differing Assistant turn to the end, kept verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.content import ContentError, check_text
from app.importing.records import LineError, SkipKind, SkipLine

_MARKER = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    # Where this turn's text starts in the transcript, right after its marker.
    start: int
    text: str


def split_turns(transcript: str, what: str) -> list[Turn]:
    """The turns of a transcript; text before the first marker is refused."""
    markers = list(_MARKER.finditer(transcript))
    if not markers or transcript[: markers[0].start()].strip():
        raise LineError(f"{what} must start with '\\n\\nHuman:' (HH transcript format)")
    turns = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(transcript)
        turns.append(Turn(_ROLES[marker.group(1)], marker.end(), transcript[marker.end() : end]))
    return turns


def _refuse_extension(chosen: list[Turn], rejected: list[Turn], shared: int) -> None:
    """One transcript holds all of the other: a degenerate record (skipped) when the shorter
    one ends with an Assistant turn and the longer one only goes on with a Human turn;
    malformed otherwise."""
    if len(chosen) == len(rejected):
        raise SkipLine("chosen and rejected hold the same turns", SkipKind.identical)
    shorter, longer = (chosen, rejected) if len(chosen) < len(rejected) else (rejected, chosen)
    if shorter and shorter[-1].role == "assistant" and longer[shared].role == "user":
        side = "rejected" if longer is rejected else "chosen"
        added = len(longer) - shared
        raise SkipLine(
            f"the {side} transcript is the other plus {added} turn{'s' if added > 1 else ''}"
            " from a Human turn on; no two responses to compare",
            SkipKind.extended_transcript,
        )
    raise LineError("one transcript is the other with turns added; no final turns to compare")


def split_record(chosen: str, rejected: str) -> tuple[list[dict[str, str]], str, str]:
    """(shared prompt as messages, chosen response, rejected response)."""
    if chosen == rejected:
        raise SkipLine("chosen and rejected are the same transcript", SkipKind.identical)
    chosen_turns = split_turns(chosen, "chosen")
    rejected_turns = split_turns(rejected, "rejected")
    shared = 0
    for a, b in zip(chosen_turns, rejected_turns, strict=False):
        if a.role != b.role or a.text != b.text:
            break
        shared += 1
    if shared == len(chosen_turns) or shared == len(rejected_turns):
        _refuse_extension(chosen_turns, rejected_turns, shared)
    first_chosen, first_rejected = chosen_turns[shared], rejected_turns[shared]
    if first_chosen.role != "assistant" or first_rejected.role != "assistant":
        raise LineError(f"the transcripts first differ at turn {shared + 1}, a Human turn")
    # An empty turn in the history carries nothing; dropping it keeps the prompt storable.
    messages = [
        {"role": t.role, "content": t.text.strip()} for t in chosen_turns[:shared] if t.text.strip()
    ]
    if not messages:
        raise LineError("the transcripts share no turn before the responses")
    chosen_text = chosen[first_chosen.start :].strip()
    rejected_text = rejected[first_rejected.start :].strip()
    if not chosen_text or not rejected_text:
        # Real HH records end with an empty Assistant turn now and then (8 of 4,154).
        side = "chosen" if not chosen_text else "rejected"
        raise SkipLine(f"the {side} response is empty", SkipKind.empty_response)
    try:
        for i, message in enumerate(messages):
            check_text(message["content"], f"turn {i + 1}")
        check_text(chosen_text, "the chosen response")
        check_text(rejected_text, "the rejected response")
    except ContentError as exc:
        raise LineError(str(exc)) from exc
    return messages, chosen_text, rejected_text
