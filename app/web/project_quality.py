"""The project form's quality-control fields: the gold rate and the automatic rules'
thresholds, generated from the API's ``QualityThresholdsBody`` like the job form's fields.

A threshold left blank is no override: the project follows the default (shown in the help),
so a default changed later still applies to it. Field names are
``quality_thresholds.<name>``; the form posts them back into the API's own body, whose
errors come back under the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from app.quality.thresholds import QualityThresholds
from app.schemas.quality import QualityThresholdsBody
from app.web.job_form import FieldGroup, FormField, fields_for

PREFIX = "quality_thresholds"


def threshold_fields() -> list[FormField]:
    """One number field per threshold, its help naming the default that applies when blank."""
    defaults = QualityThresholds()
    found = []
    for item in fields_for(QualityThresholdsBody, PREFIX):
        assert not isinstance(item, FieldGroup)
        default = getattr(defaults, item.name.removeprefix(PREFIX + "."))
        note = "Off unless set." if default is None else f"Blank: the default, {default}."
        found.append(replace(item, help=f"{item.help} {note}".strip()))
    return found


def posted_thresholds(form: Mapping[str, str]) -> dict[str, Any]:
    """The thresholds the form gives (blanks left out), for the API body to validate."""
    values = {}
    for name in QualityThresholdsBody.model_fields:
        raw = form.get(f"{PREFIX}.{name}", "").strip()
        if raw:
            values[name] = raw
    return values


def form_values(overrides: Mapping[str, Any]) -> dict[str, str]:
    """A project's stored overrides as the form's fields."""
    return {f"{PREFIX}.{name}": str(value) for name, value in overrides.items()}


def has_thresholds(form: Mapping[str, Any], errors: Mapping[str, str]) -> bool:
    """Whether the thresholds section opens: something is set there, or refused."""
    ours = PREFIX + "."
    given = any(k.startswith(ours) and str(v).strip() for k, v in form.items())
    return given or any(k.startswith(ours) for k in errors)
