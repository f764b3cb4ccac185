"""Job kind -> handler. Handlers load lazily: a kind's heavy imports (or a broken module)
never stand in the way of the other kinds."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from trainer.jobs.spec import JobRun

Handler = Callable[[JobRun], None]

HANDLERS: dict[str, str] = {
    "reward": "trainer.jobs.reward:run_reward",
    "generate": "trainer.jobs.generate:run_generate",
    "ppo": "trainer.jobs.ppo:run_ppo",
    "dpo": "trainer.jobs.dpo:run_dpo",
    "iterate": "trainer.jobs.iterate:run_iterate",
    "evaluate": "trainer.jobs.evaluate:run_evaluate",
}


def handler_for(kind: str) -> Handler:
    if kind not in HANDLERS:
        raise KeyError(f"no handler for job kind {kind!r}")
    module_name, _, attr = HANDLERS[kind].partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), attr)
    return handler
