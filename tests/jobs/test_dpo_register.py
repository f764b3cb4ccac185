"""A DPO launch's --out becomes a policy version with `rlhf models register`, metrics and
settings included, over the version it was trained from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.config import get_settings
from app.db import get_engine
from app.models import ModelVersion, Project
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import project_with_prompts
from tests.trainer.dpo.synthetic import separable_examples
from trainer.dpo import launch as dpo_launch


@pytest.fixture
def rlhf(
    job_db: JobDatabase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[object]:
    """`rlhf ...` in this process against the job database and its model store."""
    monkeypatch.setenv("RLHF_DATABASE_URL", str(job_db.settings.database_url))
    monkeypatch.setenv("RLHF_DATA_DIR", str(job_db.settings.data_dir))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_a_launched_dpo_adapter_registers_as_a_child_policy(
    job_db: JobDatabase,
    tiny_policy_dir: Path,
    tmp_path: Path,
    rlhf: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": e.prompt, "response_a": e.response_a, "response_b": e.response_b,
         "label": e.choice}
        for e in separable_examples(16)
    ]  # fmt: skip
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    dpo_launch.main(
        ["--data", str(data), "--policy-model", str(tiny_policy_dir), "--out", str(out),
         "--batch-size", "4", "--lora-r", "4", "--beta", "0.3", "--val-fraction", "0.25"]
    )  # fmt: skip
    with job_db.session() as session, session.begin():
        project = project_with_prompts(session, prompts=1)
        start = ModelVersion(
            project_id=project.id, kind="policy", name="start", base_model="tiny",
            path=str(tiny_policy_dir),
        )  # fmt: skip
        session.add(start)
        session.flush()
        project_id, name, start_id = project.id, project.name, start.id

    capsys.readouterr()
    code = main(["models", "register", name, "policy", str(out), "--parent", str(start_id)])
    assert code == 0, capsys.readouterr().err
    with job_db.session() as session:
        current = session.get_one(Project, project_id).policy_version_id
        version = session.scalars(select(ModelVersion).where(ModelVersion.id == current)).one()
        assert version.parent_id == start_id and version.id != start_id
        assert version.metrics == json.loads((out / "metrics.json").read_text())
        assert version.metrics["num_processes"] == 1 and "accuracy" in version.metrics
        assert version.params["beta"] == 0.3 and version.params["loss_type"] == "sigmoid"
