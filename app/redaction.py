"""Keeps API tokens out of the logs, even when a caller pastes one into a URL.

Tokens travel in the Authorization header, which nothing logs; but a token put in a query
string (`?token=...`, by mistake or by a tool) would land in the access log as part of the
path. Tokens carry a fixed prefix, so they can be recognised and masked wherever they are.
"""

from __future__ import annotations

import logging
import re

from app.security import TOKEN_PREFIX

_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]{8,}")
MASK = TOKEN_PREFIX + "[redacted]"
# Loggers that write request lines or request-derived text.
LOGGERS = ("uvicorn.access", "uvicorn.error", "rlhf", "rlhf.server")


def redact(text: str) -> str:
    return _TOKEN.sub(MASK, text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Adds the filter to the request loggers once per process."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
