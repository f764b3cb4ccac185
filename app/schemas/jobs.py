"""Jobs and model versions: the parameters each job kind accepts, and what the API returns.

Parameter models refuse unknown keys (a typo is a 422, not a silently ignored setting). The
training fields mirror ``RewardConfig``, ``PPOConfig``, ``DPOConfig`` and ``GenerationConfig`` by name; a
test checks that they stay in step, and the worker builds the configs from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.schemas.dpo import DPOParams, DPOTuning
from app.schemas.params import StrictParams as _Params
from app.schemas.reward import RewardParams


class Message(_Params):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)


PromptInput = Annotated[str, Field(min_length=1, max_length=100_000)] | list[Message]


class GenerateParams(_Params):
    """Two different responses per prompt from one policy version, or one from each of two."""

    policy_version_id: int | None = Field(
        None, description="default: the project's policy, else the default policy"
    )
    policy_b_version_id: int | None = Field(None, description="B from this version instead")
    prompts: list[PromptInput] | None = Field(
        None, max_length=10_000, description="default: the project's prompts"
    )
    max_prompts: int | None = Field(None, ge=1, le=1_000_000)
    priority: int = Field(0, description="queue priority of the new comparisons")
    max_new_tokens: int = Field(128, ge=1, le=8192)
    temperature: float = Field(0.8, gt=0, le=10)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 0
    batch_size: int = Field(8, ge=1, le=1024)
    max_prompt_tokens: int = Field(512, ge=1, le=65536)
    max_attempts: int = Field(3, ge=1, le=20)

    def config_fields(self) -> dict[str, Any]:
        return self.model_dump(
            exclude={
                "policy_version_id",
                "policy_b_version_id",
                "prompts",
                "max_prompts",
                "priority",
            }
        )


class PPOTuning(_Params):
    """PPO hyper-parameters (see ``trainer/ppo/config.py`` for each one's meaning)."""

    max_prompts: int | None = Field(None, ge=1, le=1_000_000)
    total_steps: int = Field(100, ge=1, le=1_000_000)
    batch_size: int = Field(16, ge=1, le=4096)
    num_mini_batches: int = Field(2, ge=1, le=4096)
    ppo_epochs: int = Field(4, ge=1, le=100)
    learning_rate: float = Field(5e-5, gt=0, le=1)
    anneal_lr: bool = True
    max_grad_norm: float = Field(1.0, gt=0)
    response_length: int = Field(64, ge=1, le=8192)
    max_prompt_tokens: int = Field(512, ge=1, le=65536)
    temperature: float = Field(0.7, gt=0, le=10)
    kl_coef: float = Field(0.05, ge=0)
    kl_estimator: Literal["k1", "k3"] = "k1"
    kl_target: float | None = Field(None, gt=0)
    kl_horizon: int = Field(10_000, ge=1)
    kl_budget: float | None = Field(20.0, gt=0)
    gamma: float = Field(1.0, ge=0, le=1)
    lam: float = Field(0.95, ge=0, le=1)
    clip_range: float = Field(0.2, gt=0)
    clip_range_value: float = Field(0.2, gt=0)
    vf_coef: float = Field(0.1, ge=0)
    missing_eos_penalty: float = Field(1.0, ge=0)
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1)
    lora_target_modules: str = Field("all-linear", max_length=500)
    seed: int = 0
    eval_prompts: int = Field(16, ge=0)
    checkpoint_every: int = Field(10, ge=1)
    sample_every: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _mini_batches_divide(self) -> PPOTuning:
        if self.batch_size % self.num_mini_batches:
            raise ValueError("batch_size must be a multiple of num_mini_batches")
        return self

    def config_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"max_prompts", "policy_version_id", "reward_version_id"})


class PPOParams(PPOTuning):
    """Tunes a policy version against a reward version on the project's prompts."""

    policy_version_id: int | None = Field(
        None, description="default: the project's policy, else the default policy"
    )
    reward_version_id: int | None = Field(
        None, description="default: the project's reward model, else its latest"
    )


class IterateParams(_Params):
    """One turn of the loop: reward -> ppo -> generate, or dpo -> generate; each a child job."""

    method: Literal["ppo", "dpo"] = Field(
        "ppo",
        description="ppo: train a reward model, then PPO against it; dpo: train the policy"
        " straight on the labels",
    )
    reward: RewardParams = Field(default_factory=RewardParams)
    # PPO tunes the project's current policy against the reward model just trained.
    ppo: PPOTuning = Field(default_factory=PPOTuning)
    # DPO (method "dpo") tunes the project's current policy on its labels.
    dpo: DPOTuning = Field(default_factory=DPOTuning)
    # Generation samples from the policy PPO (or DPO) just made.
    generate: GenerateParams = Field(default_factory=GenerateParams)

    @model_validator(mode="after")
    def _no_versions_in_generate(self) -> IterateParams:
        if self.generate.policy_version_id is not None or self.generate.policy_b_version_id:
            raise ValueError("iterate generates from the policy it trains; omit version ids")
        return self


class EvaluateParams(_Params):
    """Blind comparisons between policy versions: one response per version per prompt, paired
    between versions in random A/B order, for annotators who are never told which is which."""

    policy_version_ids: list[int] = Field(
        min_length=2, max_length=16, description="two or more policy versions of the project"
    )
    prompts: list[PromptInput] | None = Field(
        None, max_length=10_000, description="default: the project's held-out evaluation prompts"
    )
    max_prompts: int | None = Field(None, ge=1, le=100_000)
    priority: int = Field(
        10, description="queue priority of the evaluation pairs (generated pairs have 0)"
    )
    reward_version_id: int | None = Field(
        None,
        description="reward model whose verdicts are stored beside the humans'; default: the "
        "project's current one (none: the pairs are not scored)",
    )
    max_new_tokens: int = Field(128, ge=1, le=8192)
    temperature: float = Field(0.8, gt=0, le=10)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 0
    batch_size: int = Field(8, ge=1, le=1024)
    max_prompt_tokens: int = Field(512, ge=1, le=65536)

    @field_validator("policy_version_ids")
    @classmethod
    def _distinct_versions(cls, version_ids: list[int]) -> list[int]:
        seen: set[int] = set()
        for version_id in version_ids:
            if version_id in seen:
                raise ValueError(f"policy_version_ids lists version {version_id} twice")
            seen.add(version_id)
        return version_ids

    def config_fields(self) -> dict[str, Any]:
        """The generation settings (``GenerationConfig`` fields)."""
        return self.model_dump(
            include={
                "max_new_tokens",
                "temperature",
                "top_p",
                "seed",
                "batch_size",
                "max_prompt_tokens",
            }
        )


PARAMS_BY_KIND: dict[str, type[_Params]] = {
    "reward": RewardParams,
    "generate": GenerateParams,
    "ppo": PPOParams,
    "dpo": DPOParams,
    "iterate": IterateParams,
    "evaluate": EvaluateParams,
}


class _JobCreateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: int


class RewardJobCreate(_JobCreateBase):
    kind: Literal["reward"]
    params: RewardParams = Field(default_factory=RewardParams)


class GenerateJobCreate(_JobCreateBase):
    kind: Literal["generate"]
    params: GenerateParams = Field(default_factory=GenerateParams)


class PPOJobCreate(_JobCreateBase):
    kind: Literal["ppo"]
    params: PPOParams = Field(default_factory=PPOParams)


class DPOJobCreate(_JobCreateBase):
    kind: Literal["dpo"]
    params: DPOParams = Field(default_factory=DPOParams)


class IterateJobCreate(_JobCreateBase):
    kind: Literal["iterate"]
    params: IterateParams = Field(default_factory=IterateParams)


class EvaluateJobCreate(_JobCreateBase):
    kind: Literal["evaluate"]
    params: EvaluateParams


JobCreate = Annotated[
    RewardJobCreate
    | GenerateJobCreate
    | PPOJobCreate
    | DPOJobCreate
    | IterateJobCreate
    | EvaluateJobCreate,
    Field(discriminator="kind"),
]


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    kind: str
    status: str
    progress: float
    metrics: dict[str, float | None]
    error: str | None
    model_version_id: int | None = None
    params: dict[str, Any]
    attempts: int
    max_attempts: int
    cancel_requested: bool
    parent_job_id: int | None
    child_job_ids: list[int] = Field(default_factory=list)
    created_by_id: int | None
    lease_owner: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MetricPoint(BaseModel):
    step: int
    values: dict[str, float | None]


class Sample(BaseModel):
    step: int
    prompt: str = ""
    response: str = ""
    score: float | None = None
    extra: dict[str, str | float | None] = Field(default_factory=dict)


class JobMetrics(BaseModel):
    job_id: int
    kind: str
    status: str
    progress: float
    points: list[MetricPoint]
    samples: list[Sample]


class ModelVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int | None
    kind: str
    name: str
    parent_id: int | None
    base_model: str
    path: str
    job_id: int | None
    metrics: dict[str, Any]
    params: dict[str, Any]
    created_at: datetime
    current: bool = False
