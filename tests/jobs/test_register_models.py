"""`rlhf models register`: models trained by the launch entry points (outside the queue) become
versions that the next job uses, and directories that cannot become one are refused whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.config import get_settings
from app.db import get_engine
from app.models import Comparison, Job, ModelVersion, Project, Response
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import project_with_prompts
from tests.trainer.ppo.tiny_policy import PROMPTS
from trainer.policy import adapter_base, is_adapter
from trainer.ppo import launch as ppo_launch
from trainer.reward import launch as reward_launch

Cli = Callable[..., tuple[int, str, str]]
PPO_FLAGS = [
    "--total-steps", "2", "--batch-size", "4", "--num-mini-batches", "2", "--ppo-epochs", "1",
    "--response-length", "8", "--eval-prompts", "2", "--kl-budget", "none",
]  # fmt: skip


@pytest.fixture
def cli(
    job_db: JobDatabase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """`rlhf ...` in this process (torch loads once) against the job database and its store."""
    monkeypatch.setenv("RLHF_DATABASE_URL", str(job_db.settings.database_url))
    monkeypatch.setenv("RLHF_DATA_DIR", str(job_db.settings.data_dir))
    get_settings.cache_clear()
    get_engine.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture(scope="module")
def launched_adapter(
    tmp_path_factory: pytest.TempPathFactory, tiny_policy_dir: Path, tiny_reward_base: Path
) -> Path:
    """A PPO launch's --out, trained over a copy of the tiny policy that is gone afterwards,
    as a path on another machine would be."""
    root = tmp_path_factory.mktemp("launched-ppo")
    elsewhere = root / "training-box" / "policy"
    shutil.copytree(tiny_policy_dir, elsewhere)
    prompts = root / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": m}) + "\n" for m in PROMPTS))
    out = root / "out"
    ppo_launch.main(
        ["--prompts", str(prompts), "--policy", str(elsewhere), "--reward", str(tiny_reward_base),
         "--out", str(out), *PPO_FLAGS]
    )  # fmt: skip
    shutil.rmtree(elsewhere)
    assert is_adapter(out) and (out / "checkpoint").is_dir()
    return out


def _generate(job_db: JobDatabase, project_id: int, seed: int = 0) -> int:
    with job_db.session() as session, session.begin():
        job_id = job_queries.enqueue_job(
            session,
            project_id=project_id,
            kind="generate",
            params={"max_new_tokens": 8, "batch_size": 4, "temperature": 1.0, "seed": seed},
            max_attempts=1,
        ).id
    job_db.run_worker_once()
    return job_id


def _registered_dirs(job_db: JobDatabase, kind: str) -> list[Path]:
    return sorted((job_db.settings.model_dir / kind).glob("registered-*"))


def test_a_launched_ppo_adapter_becomes_the_policy_that_generates_next(
    job_db: JobDatabase, cli: Cli, launched_adapter: Path
) -> None:
    with job_db.session() as session, session.begin():
        project = project_with_prompts(session, prompts=4)
        project_id, name = project.id, project.name
    # The project's first generate job makes the default policy's version: the parent here.
    _generate(job_db, project_id)
    with job_db.session() as session:
        parent = session.scalars(
            select(ModelVersion).where(ModelVersion.project_id == project_id)
        ).one()
        parent_dir = version_queries.resolve_path(job_db.settings.model_dir, parent.path)

    code, _, err = cli("models", "register", name, "policy", str(launched_adapter))
    assert code == 2
    assert "training-box/policy" in err and "--parent" in err
    assert _registered_dirs(job_db, "policy") == []

    code, out, err = cli(
        "models", "register", name, "policy", str(launched_adapter),
        "--parent", str(parent.id), "--name", "tuned-offline",
    )  # fmt: skip
    assert code == 0, err
    assert "'tuned-offline'" in out and "now current" in out
    metrics = json.loads((launched_adapter / "metrics.json").read_text())
    with job_db.session() as session:
        version = session.scalars(
            select(ModelVersion).where(ModelVersion.name == "tuned-offline")
        ).one()
        assert session.get_one(Project, project_id).policy_version_id == version.id
        assert (version.kind, version.job_id, version.parent_id) == ("policy", None, parent.id)
        assert version.metrics == metrics and version.metrics["steps"] == 2
        assert version.params["total_steps"] == 2
        assert version.params["registered_from"] == str(launched_adapter.resolve())
        stored = Path(version_queries.resolve_path(job_db.settings.model_dir, version.path))
    # A copy in the store, without the run's resumable state, over the parent's weights.
    assert stored.parent == job_db.settings.model_dir / "policy" and stored.is_dir()
    assert not (stored / "checkpoint").exists()
    assert Path(adapter_base(stored)).resolve() == Path(parent_dir).resolve()

    # The next generate job takes the project's current policy: the registered one.
    job_id = _generate(job_db, project_id, seed=1)
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        writers = set(
            session.scalars(
                select(Response.model_version_id)
                .join(Comparison, Comparison.response_a_id == Response.id)
                .where(Comparison.source == f"generate:job-{job_id}")
            )
        )
    assert job.metrics["comparisons_created"] > 0
    assert writers == {version.id}


def test_a_launched_reward_model_is_registered_and_bad_directories_leave_nothing(
    job_db: JobDatabase,
    cli: Cli,
    tiny_reward_base: Path,
    tiny_policy_dir: Path,
    tmp_path: Path,
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": f"question {i}?",
                    "response_a": "no",
                    "response_b": f"a careful answer to question {i}",
                    "label": "better",
                }
            )
            + "\n"
            for i in range(12)
        )
    )
    out = tmp_path / "reward-out"
    reward_launch.main(
        ["--data", str(pairs), "--base-model", str(tiny_reward_base), "--out", str(out),
         "--batch-size", "4", "--val-fraction", "0.25"]
    )  # fmt: skip
    with job_db.session() as session, session.begin():
        project = project_with_prompts(session, prompts=2)
        project_id, name = project.id, project.name

    refusals = {
        "a policy is not a reward model": (str(tiny_policy_dir), "sequence classifier"),
        "no model at all": (str(tmp_path), "no config.json"),
        "no directory": (str(tmp_path / "missing"), "no such directory"),
    }
    broken = tmp_path / "broken"
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns("checkpoint"))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    refusals["weights that do not load"] = (str(broken), "cannot be loaded as a reward model")
    for why, (directory, message) in refusals.items():
        code, _, err = cli("models", "register", name, "reward", directory)
        assert code == 2 and message in err, (why, err)
    code, _, err = cli("models", "register", name, "reward", str(out), "--name", "42")
    assert code == 2 and "all digits" in err
    code, _, err = cli("models", "register", "no such project", "reward", str(out))
    assert code == 2 and "no project" in err
    # Nothing was published for any refusal, nor registered.
    assert _registered_dirs(job_db, "reward") == []
    with job_db.session() as session:
        assert session.get_one(Project, project_id).reward_version_id is None

    code, printed, err = cli("models", "register", str(project_id), "reward", str(out))
    assert code == 0, err
    with job_db.session() as session:
        version = session.scalars(
            select(ModelVersion).where(
                ModelVersion.project_id == project_id, ModelVersion.kind == "reward"
            )
        ).one()
        assert session.get_one(Project, project_id).reward_version_id == version.id
    assert version.name == "reward-v1" and "'reward-v1'" in printed
    assert version.metrics == json.loads((out / "metrics.json").read_text())
    assert len(_registered_dirs(job_db, "reward")) == 1

    code, listed, _ = cli("models", "list", name)
    assert code == 0
    assert any(
        line.startswith("*") and f" {version.id} " in line and "registered" in line
        for line in listed.splitlines()
    )
