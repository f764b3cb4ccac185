"""The rules of rating that the rating page, the annotator API and its fast lane share.

Who may rate, the order a pair is shown in (position-bias control), the body of a `next`
answer, idempotency keys and how a Bearer token is read from a header live here once; the
label a caller sends is checked by one pydantic model, `app.schemas.labels.LabelCreate`.
Nothing here touches the database or the web framework, so queries may use these rules too
(the SQL role lists below are generated from `RATER_ROLES`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from app.models import Role

# The roles that may take pairs and label them.
RATER_ROLES = frozenset({Role.annotator.value, Role.admin.value})
# The same, as an SQL list for statements written as text: `u.role IN {RATER_ROLES_SQL}`.
# Role values are fixed identifiers, never user input, so inlining them is safe.
RATER_ROLES_SQL = "(" + ", ".join(f"'{role}'" for role in sorted(RATER_ROLES)) + ")"
# Requests of the rating API doing database work at once, per server process (worker
# threads of the full path, connections of the fast lane). A few are enough to keep
# PostgreSQL's group commit busy; more only add thread switches and connections beyond the
# pool, which cost more CPU than they save.
DB_CONCURRENCY = 8


def may_rate(role: str) -> bool:
    return role in RATER_ROLES


def rater_roles_text() -> str:
    """The roles that may rate, for a refusal message: "admin or annotator"."""
    return " or ".join(sorted(RATER_ROLES))


def swap_secret(state: Any) -> str:
    """The key of the display-order hash, read once per app (it may live in a file).

    `state` is the application's `app.state`; the value is kept on it.
    """
    secret: str | None = getattr(state, "swap_secret", None)
    if secret is None:
        secret = state.settings.ensure_secret_key()
        state.swap_secret = secret
    return str(secret)


def shown_swapped(secret: str, user_id: int, comparison_id: int) -> bool:
    """Whether this annotator sees B on the left: random across pairs, fixed for one pair.

    A keyed hash, so nobody can predict or steer the order, and a reload shows it unchanged.
    """
    digest = hmac.new(
        secret.encode(), f"swap:{user_id}:{comparison_id}".encode(), hashlib.sha256
    ).digest()
    return bool(digest[0] & 1)


def shown_swapped_in(state: Any, user_id: int, comparison_id: int) -> bool:
    """`shown_swapped` with the key of the application whose `app.state` this is."""
    return shown_swapped(swap_secret(state), user_id, comparison_id)


def gold_mixing_key(secret: str) -> str:
    """The key of the gold draw, derived from the server's secret (which never leaves it)."""
    return hashlib.sha256(f"gold-mix:{secret}".encode()).hexdigest()


def gold_key(state: Any) -> str:
    """`gold_mixing_key` of the application whose `app.state` this is, kept on it."""
    key: str | None = getattr(state, "gold_key", None)
    if key is None:
        key = gold_mixing_key(swap_secret(state))
        state.gold_key = key
    return str(key)


def gold_draw(key: str, user_id: int, closed: int) -> float:
    """Uniform in [0, 1), fixed by (annotator, pairs they have closed so far), unpredictable
    without the key: a pick is gold when this is below the project's `gold_rate`.

    `rlhf_take_next` (migration 0005) computes the same number in SQL.
    """
    digest = hashlib.sha256(f"{key}:{user_id}:{closed}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


def suspended_message(project_name: str) -> str:
    """What an annotator suspended from a project is told (the API's 403, the rating page).
    Who may rate a project: a rater role (`may_rate`), and not suspended from it
    (`app.queries.quality.is_suspended`, checked by the queue and by every label path)."""
    return (
        f"you are suspended from project {project_name!r}: no more pairs of it for you."
        " An admin can reinstate you."
    )


def screen_to_stored(choice: str, swapped: bool) -> str:
    """The choice in the comparison's own order, from the one made about the screen's A and B.

    Swapped, the screen's A is the comparison's B: "screen B is better than screen A" means
    the comparison's B is worse than its A. "Same" reads the same both ways, and anything
    that is not a choice is passed on unchanged for the label's model to refuse.
    """
    if not swapped or choice not in ("better", "worse"):
        return choice
    return "worse" if choice == "better" else "better"


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value; None for anything else."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def next_pair_body(
    *,
    comparison_id: int,
    project_id: int,
    prompt: object,
    text_a: str,
    text_b: str,
    swapped: bool,
    lease_expires_at: datetime,
) -> dict[str, object]:
    """The body of a `next` answer (`app.schemas.labels.NextComparison`), ready for orjson.

    `prompt` is the list of messages, or the stored JSON as an `orjson.Fragment`.
    """
    return {
        "comparison_id": comparison_id,
        "project_id": project_id,
        "prompt": prompt,
        "response_a": {"text": text_a},
        "response_b": {"text": text_b},
        "shown_swapped": swapped,
        "lease_expires_at": lease_expires_at,
        "idempotency_key": new_idempotency_key(),
    }
