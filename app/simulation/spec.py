"""`--raters SPEC`: which simulated annotators, how many, with what parameters.

A comma-separated list of `KIND:COUNT[:PARAM]` items:

| kind | answers | PARAM (default) |
| --- | --- | --- |
| `honest` | the truth with probability PARAM, else the other answer | accuracy (0.75) |
| `random` | Better or Worse at random | - |
| `left` | always the response on the left of the screen (`shown_swapped` says which) | - |
| `always-better`, `always-worse`, `always-same` | always that choice (as the API sends it) | - |
| `flipper` | always the opposite of the truth | - |
| `fast` | like `honest`, in a fraction of a second per label | accuracy (0.75) |
| `colluders` | a group: on a share PARAM of pairs (the same pairs for all of them) all answer against the truth, honestly (0.75) otherwise | share (0.5) |

Example: `honest:20:0.75,random:3,left:2,always-better:2,flipper:2,fast:1`.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = {
    "honest": 0.75,
    "random": None,
    "left": None,
    "always-better": None,
    "always-worse": None,
    "always-same": None,
    "flipper": None,
    "fast": 0.75,
    "colluders": 0.5,
}
MAX_RATERS = 1000


class SpecError(ValueError):
    """A SPEC that cannot be read; the message names the item."""


@dataclass(frozen=True)
class RaterGroup:
    kind: str
    count: int
    param: float | None


def parse_spec(spec: str) -> list[RaterGroup]:
    groups = []
    for position, item in enumerate(spec.split(","), start=1):
        parts = item.strip().split(":")
        if len(parts) not in (2, 3) or parts[0] not in KINDS:
            raise SpecError(
                f"item {position} {item.strip()!r}: write KIND:COUNT[:PARAM] with KIND one of"
                f" {', '.join(KINDS)}"
            )
        kind = parts[0]
        try:
            count = int(parts[1])
        except ValueError:
            raise SpecError(f"item {position} {item.strip()!r}: COUNT must be a number") from None
        if count < 1:
            raise SpecError(f"item {position} {item.strip()!r}: COUNT must be at least 1")
        param = KINDS[kind]
        if len(parts) == 3:
            if param is None:
                raise SpecError(f"item {position} {item.strip()!r}: {kind} takes no PARAM")
            try:
                param = float(parts[2])
            except ValueError:
                raise SpecError(
                    f"item {position} {item.strip()!r}: PARAM must be a number"
                ) from None
            if not 0 <= param <= 1:
                raise SpecError(f"item {position} {item.strip()!r}: PARAM must lie in 0..1")
        groups.append(RaterGroup(kind, count, param))
    if sum(g.count for g in groups) > MAX_RATERS:
        raise SpecError(f"at most {MAX_RATERS} raters")
    return groups
