"""Registering a model trained outside the job queue (``trainer.*.launch``) as a version.

The directory is copied into the model store and published whole, as a job's result is,
then loaded the way the worker will load it, and only then given a version row. A model
that cannot be loaded never becomes a version, and no version points at a directory that
goes away with a training machine's scratch space. A LoRA adapter names the policy it was
trained over; that name is usually a path on the training machine, so the policy version it
started from (``parent``) can be named instead, and the adapter is pointed at that version's
weights here.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.models import ModelKind, ModelVersion, Project
from app.queries import model_versions as version_queries
from trainer.jobs.store import MANIFEST, ModelStore
from trainer.policy import ADAPTER_CONFIG, adapter_base, anchor_adapter_base, is_adapter

WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
# What a launch leaves beside the model and a version does not need: resumable training state.
NOT_COPIED = frozenset({"checkpoint", MANIFEST})
MAX_NAME = 200


class RegistrationError(ValueError):
    """The directory or the options cannot make a version; nothing was kept."""


@dataclass
class Registration:
    """What to register: ``source`` as a ``kind`` version of ``project``."""

    project: Project
    kind: ModelKind
    source: Path
    parent: ModelVersion | None = None
    name: str | None = None
    make_current: bool = True
    # Load the published copy as the worker would; off only where loading is known to work.
    check: bool = True


def register_directory(session: Session, settings: Settings, spec: Registration) -> ModelVersion:
    """Publishes ``spec.source`` in the model store and adds its version to ``session``.

    A failure in here removes the published copy. The caller commits, and removes the copy
    with ``discard`` if the commit fails (see ``app.cli.model_versions``).
    """
    source = spec.source
    _check_options(session, spec)
    base_model, adapter_over = _inspect(source, spec, settings.model_dir)
    store = ModelStore(settings.model_dir)
    final = store.root / spec.kind.value / f"registered-{uuid.uuid4().hex[:12]}"
    manifest: dict[str, Any] = {
        "kind": spec.kind.value,
        "job_id": None,
        "base_model": base_model,
        "parent_id": spec.parent.id if spec.parent else None,
        "metrics": _json_object(source / "metrics.json"),
        "params": {
            # The training settings, whichever launch wrote them (PPO or DPO).
            **_json_object(source / "ppo_config.json"),
            **_json_object(source / "dpo_config.json"),
            "registered_from": str(source.resolve()),
        },
    }
    with store.building(final, manifest) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True, ignore=_not_copied(source))
        if adapter_over is not None:
            _point_adapter_at(tmp, adapter_over)
            anchor_adapter_base(tmp, final, store.root)
    try:
        if spec.check:
            _load(final, spec.kind)
        return version_queries.register_version(
            session,
            project=spec.project,
            kind=spec.kind,
            job_id=None,
            base_model=base_model,
            path=version_queries.stored_path(settings.model_dir, final),
            metrics=manifest["metrics"],
            params=manifest["params"],
            parent_id=manifest["parent_id"],
            make_current=spec.make_current,
            name=spec.name,
        )
    except BaseException:
        discard(final)
        raise


def discard(final: Path) -> None:
    """Removes a published copy whose version row was never committed."""
    shutil.rmtree(final, ignore_errors=True)


def _check_options(session: Session, spec: Registration) -> None:
    if spec.name is not None:
        if not spec.name.strip() or len(spec.name) > MAX_NAME:
            raise RegistrationError(f"a version name has 1 to {MAX_NAME} characters")
        if spec.name.isdigit():
            # Commands take a version "id or name": a name of digits would read as an id.
            raise RegistrationError(f"version name {spec.name!r} is all digits; add a letter")
        if version_queries.version_name_taken(session, spec.project.id, spec.name):
            raise RegistrationError(f"the project already has a version named {spec.name!r}")
    if spec.parent is not None:
        try:
            version_queries.check_serves(spec.parent, spec.kind, spec.project.id)
        except version_queries.UnusableVersion as exc:
            raise RegistrationError(f"parent: {exc}") from None


def _inspect(source: Path, spec: Registration, model_dir: Path) -> tuple[str, str | None]:
    """(base model to record, the policy an adapter must be pointed at or None)."""
    if not source.is_dir():
        raise RegistrationError(f"{source}: no such directory")
    if spec.kind is ModelKind.policy and is_adapter(source):
        if not any((source / name).is_file() for name in ADAPTER_WEIGHTS):
            raise RegistrationError(f"{source}: {ADAPTER_CONFIG} but no adapter weights")
        return _adapter_base(source, spec, model_dir)
    config = source / "config.json"
    if not config.is_file():
        what = "config.json (or, for a LoRA policy, adapter_config.json)"
        if spec.kind is ModelKind.reward:
            what = "config.json"
        raise RegistrationError(f"{source}: no {what}; is this the directory --out named?")
    if not any((source / name).is_file() for name in WEIGHTS):
        raise RegistrationError(f"{source}: config.json but no weights ({', '.join(WEIGHTS)})")
    try:
        described = json.loads(config.read_text())
    except ValueError as exc:
        raise RegistrationError(f"{source / 'config.json'}: not JSON ({exc})") from None
    architectures = described.get("architectures") or []
    if spec.kind is ModelKind.reward and not any(
        str(a).endswith("ForSequenceClassification") for a in architectures
    ):
        raise RegistrationError(
            f"{source}: a reward model is a sequence classifier; config.json names"
            f" {architectures or 'no architecture'}"
        )
    if spec.parent is not None:
        return spec.parent.base_model, None
    return str(described.get("_name_or_path") or source.name), None


def _adapter_base(source: Path, spec: Registration, model_dir: Path) -> tuple[str, str | None]:
    if spec.parent is not None:
        return spec.parent.base_model, version_queries.resolve_path(model_dir, spec.parent.path)
    try:
        base = adapter_base(source)
    except ValueError as exc:
        raise RegistrationError(str(exc)) from None
    if not Path(base).is_dir():
        raise RegistrationError(
            f"{source}: the adapter was trained over {base!r}, which is not a directory here;"
            " name the policy version it was trained from (--parent)"
        )
    return base, str(Path(base).resolve())


def _point_adapter_at(adapter_dir: Path, base: str) -> None:
    config_file = adapter_dir / ADAPTER_CONFIG
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = base
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))


def _not_copied(source: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) != source:
            return set()
        return {n for n in names if n in NOT_COPIED}

    return ignore


def _json_object(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise RegistrationError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RegistrationError(f"{path}: not a JSON object")
    return data


def _load(final: Path, kind: ModelKind) -> None:
    """Opens the published copy as a job would; any failure is the directory's fault."""
    try:
        if kind is ModelKind.reward:
            from trainer.reward.scoring import RewardScorer

            RewardScorer(str(final))
        else:
            from trainer.policy import load_policy

            load_policy(final)
    except Exception as exc:
        raise RegistrationError(f"cannot be loaded as a {kind.value} model: {exc}") from exc
