"""Bodies of the annotator API: the next comparison, a label, a skip."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from app.content import MAX_TEXT_CHARS
from app.queries.labels import LabelInput


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ResponsePublic(BaseModel):
    text: str


class NextComparison(BaseModel):
    """A comparison leased to the caller, in its own order, with the order to show it in."""

    comparison_id: int
    project_id: int
    prompt: list[Message]
    response_a: ResponsePublic
    response_b: ResponsePublic
    shown_swapped: bool = Field(
        description="Show response_b on the left as 'Response A' (position-bias control); "
        "the label's choice is still about the comparison's own A and B."
    )
    lease_expires_at: datetime
    idempotency_key: str = Field(description="Send it with the label; a retry reuses it.")


class LabelCreate(BaseModel):
    """A label as every path receives it: the API's JSON body, the fast lane's, and the
    rating page's form (its choice first turned into the comparison's order). One model, so
    all three accept and refuse the same labels."""

    comparison_id: int
    idempotency_key: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    choice: Literal["better", "worse", "same"] = Field(
        description="Response B compared with response A, in the comparison's own order."
    )
    strength: Literal["slightly", "much"] | None = None
    # Stripped on every path: white space around a comment carries nothing, and feedback of
    # only white space is no feedback.
    feedback: Annotated[str, StringConstraints(strip_whitespace=True)] = Field(
        default="", max_length=MAX_TEXT_CHARS
    )
    flag_harmful: bool = False
    flag_untrue: bool = False
    flag_unhelpful: bool = False
    time_spent_ms: int | None = Field(default=None, ge=0, le=86_400_000)

    @field_validator("strength")
    @classmethod
    def _strength_needs_a_preference(cls, strength: str | None, info: ValidationInfo) -> str | None:
        # Refused rather than dropped: a strength with "same" is a contradiction whose
        # intent (a preference, or no strength) only the annotator knows.
        if strength is not None and info.data.get("choice") == "same":
            raise ValueError("strength applies to 'better' or 'worse', not to 'same'")
        return strength

    def to_input(self, annotator_id: int, shown_swapped: bool) -> LabelInput:
        """The row to store; `shown_swapped` is the order the server told the caller to show,
        never taken from the body."""
        return LabelInput(
            comparison_id=self.comparison_id,
            annotator_id=annotator_id,
            idempotency_key=self.idempotency_key,
            choice=self.choice,
            strength=self.strength,
            feedback=self.feedback,
            flag_harmful=self.flag_harmful,
            flag_untrue=self.flag_untrue,
            flag_unhelpful=self.flag_unhelpful,
            shown_swapped=shown_swapped,
            time_spent_ms=self.time_spent_ms,
        )


class LabelPublic(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    comparison_id: int
    annotator_id: int | None
    choice: str
    strength: str | None
    feedback: str
    flag_harmful: bool
    flag_untrue: bool
    flag_unhelpful: bool
    shown_swapped: bool
    time_spent_ms: int | None
    idempotency_key: str
    created_at: datetime


class LabelAndNext(BaseModel):
    """A stored label and the caller's next comparison: one round trip per label."""

    label: LabelPublic
    next: NextComparison | None = Field(description="None when nothing is left to rate.")


class SkipResult(BaseModel):
    comparison_id: int
    status: Literal["skipped"]
