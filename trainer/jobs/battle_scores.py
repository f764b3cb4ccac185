"""The reward model's side of the leaderboard: scores of the project's battle responses.

Scored in chunks, each stored in its own short transaction (guarded by the job's lease), so a
long scoring run keeps what it did when the worker stops, and the next run scores only the
rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.queries import jobs as job_queries
from app.queries.reward_scores import store_reward_scores, unscored_battle_responses
from trainer.context import JobInterrupted
from trainer.jobs.spec import JobRun
from trainer.jobs.versions import ResolvedVersion
from trainer.reward.scoring import RewardScorer

CHUNK = 256


def scores_with_uncertainty(
    scorer: RewardScorer,
    prompts: Sequence[list[dict[str, str]]],
    responses: Sequence[str],
) -> list[tuple[float, float | None]]:
    """(score, uncertainty) per response; the uncertainty (an ensemble's spread) is None for
    a reward model with a single head."""
    scores, spreads = scorer.score_with_uncertainty(prompts, responses)
    if spreads is None:
        return [(s, None) for s in scores.tolist()]
    return list(zip(scores.tolist(), spreads.tolist(), strict=True))


def score_battles(run: JobRun, reward: ResolvedVersion) -> int:
    """Scores every battle response of the job's project that ``reward`` has not scored;
    returns how many it scored."""
    with run.reading() as session:
        todo = unscored_battle_responses(session, run.job.project_id, reward.id)
    if not todo:
        return 0
    scorer = RewardScorer(reward.path)
    for start in range(0, len(todo), CHUNK):
        if run.ctx.should_stop():
            raise JobInterrupted("scoring stopped")
        chunk = todo[start : start + CHUNK]
        scored = scores_with_uncertainty(scorer, [m for _, m, _ in chunk], [t for *_, t in chunk])
        with run.transaction() as session:
            job_queries.held_job(session, run.job.id, run.worker_id)
            store_reward_scores(
                session, reward.id, [(r[0], s, u) for r, (s, u) in zip(chunk, scored, strict=True)]
            )
    return len(todo)
