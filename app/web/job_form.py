"""The start-a-job form, generated from the job kinds' pydantic parameter models.

Every kind in ``PARAMS_BY_KIND`` gets typed fields (number, checkbox, choice, text) with the
model's default, range and description, so a kind that gains a parameter model (``dpo``,
``evaluate``) appears in the form without touching it. The posted fields are turned back
into the API's own ``JobCreate`` body and validated by it: the form and the API cannot
disagree about a rule. Field names are ``<kind>.<param>`` (nested: ``iterate.ppo.kl_coef``)
so each kind's fields stay apart.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from app.web.forms import FieldErrors

# Words shown in capitals (or their usual spelling) when a parameter name becomes a label.
WORDS = {
    "ppo": "PPO",
    "kl": "KL",
    "lr": "LR",
    "lora": "LoRA",
    "eos": "EOS",
    "id": "ID",
    "ids": "IDs",
    "dpo": "DPO",
    "ipo": "IPO",
    "vf": "Value-function",
    "b": "B",
}
# Fields naming a model version offer the versions of that kind.
VERSION_KINDS = {
    "policy_version_id": "policy",
    "policy_b_version_id": "policy",
    "reward_version_id": "reward",
    "ref_version_id": "policy",
}


# The parameters shown first for each kind; the rest wait under "More parameters". A kind
# not listed shows its first FIRST_SHOWN parameters first.
PRIMARY = {
    "reward": ("epochs", "learning_rate", "batch_size", "max_length", "base_model"),
    "ppo": (
        "total_steps",
        "policy_version_id",
        "reward_version_id",
        "kl_coef",
        "learning_rate",
        "batch_size",
    ),
    "dpo": (
        "policy_version_id",
        "beta",
        "loss_type",
        "label_smoothing",
        "epochs",
        "learning_rate",
    ),
    "generate": ("policy_version_id", "max_prompts", "temperature", "max_new_tokens", "top_p"),
    "iterate": ("method", "reward", "ppo", "dpo", "generate"),
}
FIRST_SHOWN = 6


@dataclass
class FormField:
    name: str  # the form's field name: "<kind>.<param>[.<param>]"
    label: str
    widget: Literal["number", "checkbox", "select", "text", "lines", "version"]
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    options: list[str] = field(default_factory=list)
    version_kind: str = ""

    @property
    def dom_id(self) -> str:
        return "param-" + self.name.replace(".", "-").replace("_", "-")

    @property
    def default_text(self) -> str:
        if self.default is None:
            return ""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


@dataclass
class FieldGroup:
    """The fields of a nested model (iterate's reward, ppo and generate steps)."""

    name: str
    label: str
    help: str
    fields: list[FormField | FieldGroup]


def split_fields(
    kind: str, fields: list[FormField | FieldGroup]
) -> tuple[list[FormField | FieldGroup], list[FormField | FieldGroup]]:
    """(shown first, under "More parameters"), each in the model's order."""
    first = PRIMARY.get(kind)
    if first is None:
        return fields[:FIRST_SHOWN], fields[FIRST_SHOWN:]
    short = [f for f in fields if f.name.rsplit(".", 1)[1] in first]
    return short, [f for f in fields if f not in short]


def label_for(name: str) -> str:
    words = [WORDS.get(w, w) for w in name.removesuffix("_id").split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge | annotated_types.Gt):
            low = float(getattr(item, "ge", getattr(item, "gt", 0)))
        if isinstance(item, annotated_types.Le | annotated_types.Lt):
            high = float(getattr(item, "le", getattr(item, "lt", 0)))
    return low, high


def _help(info: FieldInfo, low: float | None, high: float | None, default: Any) -> str:
    parts = []
    if info.description:
        parts.append(info.description[0].upper() + info.description[1:] + ".")
    if low is not None and high is not None:
        parts.append(f"From {_num(low)} to {_num(high)}.")
    elif low is not None:
        parts.append(f"At least {_num(low)}.")
    elif high is not None:
        parts.append(f"At most {_num(high)}.")
    if default is not None and not isinstance(default, list | dict | BaseModel):
        parts.append(f"Default {default}.")
    return " ".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def fields_for(model: type[BaseModel], prefix: str) -> list[FormField | FieldGroup]:
    found: list[FormField | FieldGroup] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}"
        annotation, _ = _unwrap_optional(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            doc = (annotation.__doc__ or "").strip().split("\n")[0]
            found.append(FieldGroup(path, label_for(name), doc, fields_for(annotation, path)))
            continue
        low, high = _bounds(info)
        common: dict[str, Any] = {
            "name": path,
            "label": label_for(name),
            "default": default,
            "help": _help(info, low, high, default),
        }
        if name in VERSION_KINDS:
            found.append(FormField(widget="version", version_kind=VERSION_KINDS[name], **common))
        elif annotation is bool:
            found.append(FormField(widget="checkbox", **common))
        elif annotation is int or annotation is float:
            step = "1" if annotation is int else "any"
            found.append(FormField(widget="number", minimum=low, maximum=high, step=step, **common))
        elif get_origin(annotation) is Literal:
            options = [str(a) for a in get_args(annotation)]
            found.append(FormField(widget="select", options=options, **common))
        elif get_origin(annotation) is list:
            common["help"] = (common["help"] + " One per line.").strip()
            found.append(FormField(widget="lines", **common))
        else:
            found.append(FormField(widget="text", **common))
    return found


def _read(fields: list[FormField | FieldGroup], form: Mapping[str, str]) -> dict[str, Any]:
    """The parameters the form gives; blanks are left out, so the model's default applies."""
    values: dict[str, Any] = {}
    for item in fields:
        key = item.name.rsplit(".", 1)[1]
        if isinstance(item, FieldGroup):
            nested = _read(item.fields, form)
            if nested:
                values[key] = nested
            continue
        if item.widget == "checkbox":
            # A checkbox posts nothing when unticked: the hidden "present" field says the
            # form was shown, so absence means false rather than "not given".
            if f"{item.name}.present" in form:
                values[key] = form.get(item.name) == "true"
            continue
        raw = form.get(item.name, "").strip()
        if not raw:
            continue
        if item.widget == "lines":
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
            if item.name.endswith("_ids"):
                values[key] = [int(x) if x.isdigit() else x for x in lines]
            else:
                values[key] = lines
        else:
            values[key] = raw
    return values


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class ParsedJob:
    body: Any | None
    errors: FieldErrors


def parse_job_form(
    adapter: Any, kind_fields: Mapping[str, list[FormField | FieldGroup]], form: Mapping[str, str]
) -> ParsedJob:
    """The API's JobCreate from the posted form, or field errors keyed by the form's names
    (``"advanced"`` for the JSON box, ``"kind"``, ``"project_id"``)."""
    kind = form.get("kind", "")
    if kind not in kind_fields:
        return ParsedJob(None, {"kind": f"Choose one of: {', '.join(kind_fields)}."})
    params = _read(kind_fields[kind], form)
    advanced = form.get("advanced", "").strip()
    if advanced:
        try:
            extra = json.loads(advanced)
        except json.JSONDecodeError as exc:
            return ParsedJob(None, {"advanced": f"Not JSON: {exc.msg} (line {exc.lineno})."})
        if not isinstance(extra, dict):
            return ParsedJob(None, {"advanced": 'Give a JSON object, like {"epochs": 2}.'})
        params = _merge(params, extra)
    body = {"project_id": form.get("project_id") or None, "kind": kind, "params": params}
    try:
        return ParsedJob(adapter.validate_python(body), {})
    except ValidationError as exc:
        return ParsedJob(None, _errors(exc, kind))


def _errors(exc: ValidationError, kind: str) -> FieldErrors:
    found: FieldErrors = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        # The discriminated union puts the kind in the location: ("reward", "params", ...).
        if loc and loc[0] == kind:
            loc = loc[1:]
        message = str(err["msg"]).removeprefix("Value error, ")
        message = message[0].upper() + message[1:]
        if loc[:1] == ["params"] and len(loc) > 1:
            key = ".".join([kind, *loc[1:]])
            if err["type"] == "extra_forbidden":
                key, message = "advanced", f"Unknown parameter “{loc[-1]}”."
        elif loc[:1] == ["params"]:
            key = kind  # a rule across parameters: shown above the kind's fields
        elif loc:
            key = loc[0]
        else:
            key = ""
        found.setdefault(key, message)
    return found
