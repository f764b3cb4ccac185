"""The leaderboard as the API returns it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.leaderboard.board import Entry
from app.leaderboard.project import NamedVersion, ProjectLeaderboard


class RewardVerdictsPublic(BaseModel):
    """The reward model's verdicts on this model's battles, beside the humans' on the same."""

    battles: int = Field(description="battles whose two responses the reward model scored")
    win_rate: float = Field(description="share the reward model gives this model (ties half)")
    human_win_rate: float = Field(description="share the humans gave it in the same battles")
    human_win_rate_low: float
    human_win_rate_high: float
    agreement: float | None = Field(
        description="share of battles with a human preference where the reward model agrees"
    )
    overrates: bool = Field(
        description="the reward model rates this model above the humans' interval: the "
        "over-optimisation signal"
    )


class LeaderboardModel(BaseModel):
    name: str
    model_version_id: int | None = Field(description="null for a source named by an import")
    rating: float = Field(description="Bradley-Terry rating, Elo scale (400·log10 odds)")
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int
    battles: int
    win_rate: float = Field(description="(wins + ties / 2) / battles")
    win_rate_vs_base: float | None = Field(
        description="predicted share against the base policy (ties half), from the ratings"
    )
    win_rate_vs_base_low: float | None
    win_rate_vs_base_high: float | None
    reward_model: RewardVerdictsPublic | None


class VersionRef(BaseModel):
    model_version_id: int
    name: str


class RewardModelSummary(VersionRef):
    battles: int = Field(description="battles it scored")
    agreement: float | None = Field(description="share of human preferences it agrees with")


class Leaderboard(BaseModel):
    project_id: int
    models: list[LeaderboardModel] = Field(description="highest rating first")
    battles: int
    base: VersionRef | None = Field(description="the policy the win rates are against")
    bootstrap_rounds: int
    confidence: float
    reward_model: RewardModelSummary | None
    trusted_only: bool = Field(
        False,
        description="only trusted labels counted: flagged and suspended annotators' labels "
        "and gold pairs left out",
    )

    @classmethod
    def of(cls, project_id: int, found: ProjectLeaderboard) -> Leaderboard:
        board = found.board
        reward = None
        if found.reward_version is not None:
            reward = RewardModelSummary(
                **_ref(found.reward_version).model_dump(),
                battles=board.reward_battles,
                agreement=board.reward_agreement,
            )
        return cls(
            project_id=project_id,
            models=[_model(found, e) for e in board.entries],
            battles=board.battles,
            base=_ref(found.base) if found.base else None,
            bootstrap_rounds=board.rounds,
            confidence=board.confidence,
            reward_model=reward,
            trusted_only=found.trusted_only,
        )


def _ref(version: NamedVersion) -> VersionRef:
    return VersionRef(model_version_id=version.id, name=version.name)


def _model(found: ProjectLeaderboard, e: Entry) -> LeaderboardModel:
    reward = None
    if e.reward is not None:
        reward = RewardVerdictsPublic(
            battles=e.reward.battles,
            win_rate=e.reward.win_rate,
            human_win_rate=e.reward.human_win_rate,
            human_win_rate_low=e.reward.human_low,
            human_win_rate_high=e.reward.human_high,
            agreement=e.reward.agreement,
            overrates=e.reward.overrates,
        )
    return LeaderboardModel(
        name=found.name(e.source),
        model_version_id=e.source.version_id,
        rating=e.rating,
        ci_low=e.ci_low,
        ci_high=e.ci_high,
        wins=e.wins,
        losses=e.losses,
        ties=e.ties,
        battles=e.battles,
        win_rate=e.win_rate,
        win_rate_vs_base=e.win_rate_vs_base,
        win_rate_vs_base_low=e.win_rate_vs_base_low,
        win_rate_vs_base_high=e.win_rate_vs_base_high,
        reward_model=reward,
    )
