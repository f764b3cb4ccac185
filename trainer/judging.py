"""A reward model version as a gold judge: simulated raters' right answers (``rlhf simulate
--judge REWARD_VERSION``) come from its scores instead of a file of labels.

With a judge trained on labels the tuned policy's own (proxy) reward model never saw, this is
the standard set-up for measuring over-optimisation without people (Gao et al., 2022,
"Scaling Laws for Reward Model Overoptimization"): the proxy is what PPO climbs, the judge
stands in for the humans who evaluate the result.

``RewardJudge`` implements the simulation's truth-source protocol: ``answer(messages, text_a,
text_b)`` is the right choice, B compared with A.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from app.content import messages_hash, text_hash
from app.models import Choice
from trainer.reward.scoring import RewardScorer

# Judgements remembered, so that several raters on one pair cost one scoring.
MEMORY = 4096


class RewardJudge:
    def __init__(
        self, model_path: str | Path, tie_margin: float = 0.0, device: str = "cpu"
    ) -> None:
        """``tie_margin``: score differences up to this are a tie (``same``)."""
        if tie_margin < 0:
            raise ValueError("tie_margin must be >= 0")
        self.scorer = RewardScorer(model_path, device=device)
        self.tie_margin = tie_margin
        self._memory: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def margin(self, messages: list[dict[str, str]], text_a: str, text_b: str) -> float:
        """score(B) - score(A) under the judge."""
        key = (messages_hash(messages), text_hash(text_a), text_hash(text_b))
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        scores = self.scorer.score([messages, messages], [text_a, text_b])
        difference = float(scores[1] - scores[0])
        self._memory[key] = difference
        if len(self._memory) > MEMORY:
            self._memory.popitem(last=False)
        return difference

    def answer(self, messages: list[dict[str, str]], text_a: str, text_b: str) -> Choice | None:
        difference = self.margin(messages, text_a, text_b)
        if abs(difference) <= self.tie_margin:
            return Choice.same
        return Choice.better if difference > 0 else Choice.worse
