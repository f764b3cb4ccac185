"""Conversation and response content: validation and the hashes that de-duplicate it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import orjson

ROLES = ("system", "user", "assistant")
MAX_TEXT_CHARS = 100_000
MAX_MESSAGES = 200


class ContentError(ValueError):
    """Content that cannot be stored; the message says what is wrong."""


def normalise_messages(raw: object) -> list[dict[str, str]]:
    """A prompt as a message list: a plain string becomes one user turn."""
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise ContentError("prompt must be a non-empty string or a non-empty list of messages")
    if len(raw) > MAX_MESSAGES:
        raise ContentError(f"prompt has {len(raw)} messages; at most {MAX_MESSAGES}")
    messages: list[dict[str, str]] = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ContentError(f"message {i} is not an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ContentError(f"message {i} has unknown role {role!r}; use one of {ROLES}")
        messages.append({"role": str(role), "content": check_text(content, f"message {i}")})
    return messages


def check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ContentError(f"{what} must be a string")
    if not value.strip():
        raise ContentError(f"{what} is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise ContentError(f"{what} has {len(value)} characters; at most {MAX_TEXT_CHARS}")
    if "\x00" in value:
        raise ContentError(f"{what} contains a NUL character")
    return value


def messages_hash(messages: Sequence[dict[str, str]]) -> str:
    turns = [[m["role"], m["content"]] for m in messages]
    try:
        # Byte for byte what json.dumps(ensure_ascii=False, separators=(",", ":")) gives for
        # every code point outside the surrogates (tests/test_content.py checks them all), in a
        # tenth of the time: stored hashes stay valid.
        canonical = orjson.dumps(turns)
    except orjson.JSONEncodeError:
        # A lone surrogate: orjson refuses it, and so does encode() below, as it always did.
        canonical = json.dumps(turns, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pair_hash(prompt_hash: str, text_hash_a: str, text_hash_b: str) -> str:
    """Order-free: the pair (A, B) and the pair (B, A) are the same comparison."""
    first, second = sorted((text_hash_a, text_hash_b))
    return hashlib.sha256(f"{prompt_hash}:{first}:{second}".encode()).hexdigest()
