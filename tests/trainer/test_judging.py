"""A reward model version as a simulated raters' judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.models import Choice
from tests.trainer.reward.tiny_model import build_tiny_reward_model
from trainer.judging import RewardJudge
from trainer.reward.scoring import RewardScorer

PROMPT = [{"role": "user", "content": "how do i boil an egg?"}]
ANSWERS = ("no.", "put it in boiling water for eight minutes, then cool it.")


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_reward_model(tmp_path_factory.mktemp("judge"))


def test_the_judge_prefers_what_its_reward_model_scores_higher(reward_dir: Path) -> None:
    judge = RewardJudge(reward_dir)
    low, high = sorted(
        ANSWERS, key=lambda t: float(RewardScorer(reward_dir).score([PROMPT], [t])[0])
    )
    assert judge.answer(PROMPT, low, high) is Choice.better
    assert judge.answer(PROMPT, high, low) is Choice.worse
    assert judge.margin(PROMPT, high, low) == pytest.approx(-judge.margin(PROMPT, low, high))
    generous = RewardJudge(reward_dir, tie_margin=abs(judge.margin(PROMPT, low, high)) + 1)
    assert generous.answer(PROMPT, low, high) is Choice.same
    with pytest.raises(ValueError, match="tie_margin"):
        RewardJudge(reward_dir, tie_margin=-1)
