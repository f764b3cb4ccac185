"""Parameters of ``dpo`` jobs (and of iterate's DPO step). The training fields mirror
``trainer.dpo.config.DPOConfig`` by name and default; a test keeps them in step."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from app.schemas.params import StrictParams

# Parameters that say which labels to learn from, not how to train.
TRUST_FIELDS = {"include_flagged", "aggregation"}


class DPOTuning(StrictParams):
    """DPO hyper-parameters (see ``trainer/dpo/config.py`` for each one's meaning)."""

    beta: float = Field(
        0.1, gt=0, le=100, description="weight of the implicit reward; larger stays nearer"
    )
    loss_type: Literal["sigmoid", "ipo", "robust"] = Field(
        "sigmoid",
        description="sigmoid (DPO), ipo, or robust (robust DPO: unbiased under noisy labels)",
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="assumed share of wrong labels: conservative DPO with sigmoid, the"
        " noise rate of robust",
    )
    use_margin: bool = Field(False, description="make stronger labels ask for a wider gap")
    epochs: int = Field(1, ge=1, le=1000)
    learning_rate: float = Field(5e-5, gt=0, le=1)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    batch_size: int = Field(8, ge=1, le=65536, description="pairs per optimiser step")
    max_tokens_per_forward: int = Field(512, ge=0)
    max_grad_norm: float = Field(1.0, ge=0)
    max_length: int = Field(512, ge=2, le=32768)
    max_prompt_length: int = Field(256, ge=1, le=32768)
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1)
    lora_target_modules: str = Field("all-linear", max_length=500)
    seed: int = 0
    length_group_size: int = Field(50, ge=1)
    val_fraction: float = Field(
        0.1, ge=0, lt=1, description="share of pairs held out for preference accuracy"
    )
    eval_batch_size: int = Field(16, ge=1, le=65536)
    checkpoint_every: int = Field(50, ge=1)
    log_every: int = Field(1, ge=1)
    include_flagged: bool = Field(
        False, description="also train on labels of flagged and suspended annotators"
    )
    aggregation: Literal["labels", "majority", "model"] = Field(
        "labels",
        description="labels: every trusted label is a pair; majority or model: one pair per"
        " comparison, its labels combined by majority vote or by the latent-truth model",
    )

    @model_validator(mode="after")
    def _smoothing_fits_the_loss(self) -> DPOTuning:
        if self.loss_type == "ipo" and self.label_smoothing:
            raise ValueError("label_smoothing applies to sigmoid and robust, not ipo")
        return self

    def config_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={*TRUST_FIELDS, "policy_version_id"})


class DPOParams(DPOTuning):
    """Tunes a policy version straight on the project's labelled pairs (no reward model)."""

    policy_version_id: int | None = Field(
        None, description="default: the project's policy, else the default policy"
    )
