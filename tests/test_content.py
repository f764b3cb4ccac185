"""Content hashes: the fast canonical form must hash exactly as the json.dumps form always did."""

from __future__ import annotations

import hashlib
import json

import pytest

from app.content import messages_hash


def reference_hash(messages: list[dict[str, str]]) -> str:
    canonical = json.dumps(
        [[m["role"], m["content"]] for m in messages], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_every_code_point_hashes_as_before() -> None:
    # Prompts stored before the switch keep their hashes only if the bytes are identical.
    step = 4096
    for start in range(0, 0x110000, step):
        text = "".join(
            chr(c) for c in range(start, start + step) if not 0xD800 <= c <= 0xDFFF and c > 0
        )
        messages = [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]
        assert messages_hash(messages) == reference_hash(messages), hex(start)


def test_escapes_and_a_lone_surrogate() -> None:
    messages = [{"role": "system", "content": 'a "quote", \\ \n\t\x01 \u2028 \x7f é'}]
    assert messages_hash(messages) == reference_hash(messages)
    with pytest.raises(UnicodeEncodeError):
        messages_hash([{"role": "user", "content": "\ud800"}])
