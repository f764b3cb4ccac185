"""`rlhf worker --once`, `rlhf demo` queueing generation, and `rlhf reward-eval`, as a user runs them."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, aliased
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from app.cli import main
from app.config import get_settings
from app.db import get_engine
from app.models import Comparison, Job, ModelVersion, Response
from harness.databases import fresh_database, migrated_engine
from tests.factories import make_project
from trainer.jobs.preference_files import read_preference_file


@pytest.fixture
def cli(tmp_path: Path, tiny_policy_dir: Path) -> Iterator[tuple[dict[str, str], Engine]]:
    with fresh_database(tmp_path) as url:
        engine = migrated_engine(url, tmp_path / "data")
        env = {
            **os.environ,
            "RLHF_DATABASE_URL": url,
            "RLHF_DATA_DIR": str(tmp_path / "data"),
            "RLHF_LOG_LEVEL": "INFO",
            "RLHF_POLICY_MODEL": str(tiny_policy_dir),
            "OMP_NUM_THREADS": "1",
        }
        yield env, engine
        engine.dispose()


def rlhf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_demo_queues_generation_that_a_worker_turns_into_model_pairs(
    cli: tuple[dict[str, str], Engine],
) -> None:
    env, engine = cli
    seeded = rlhf(env, "demo", "--password", "demo-password-1")
    assert seeded.returncode == 0, seeded.stderr
    assert "queued generate job" in seeded.stdout
    again = rlhf(env, "demo")
    assert again.returncode == 0 and "queued generate job" not in again.stdout

    worked = rlhf(env, "worker", "--once", "--id", "cli-worker")
    assert worked.returncode == 0, worked.stderr
    assert "running job 1 (generate)" in worked.stderr

    with Session(engine) as session:
        job = session.scalars(select(Job)).one()
        assert job.status == "succeeded", job.error
        version = session.scalars(select(ModelVersion)).one()
        assert (version.kind, version.base_model) == ("policy", env["RLHF_POLICY_MODEL"])
        a, b = aliased(Response), aliased(Response)
        rows = session.execute(
            select(a.model_version_id, b.model_version_id)
            .select_from(Comparison)
            .join(a, Comparison.response_a_id == a.id)
            .join(b, Comparison.response_b_id == b.id)
            .where(Comparison.source == f"generate:job-{job.id}")
        ).all()
        assert rows and all(r == (version.id, version.id) for r in rows)


def _reward_version(engine: Engine, path: Path, kind: str = "reward") -> int:
    with Session(engine) as session, session.begin():
        project = make_project(session, name=f"eval {kind} {path.name}")
        version = ModelVersion(
            project_id=project.id,
            kind=kind,
            name=f"{kind}-{path.name}",
            base_model="tiny",
            path=str(path),
        )
        session.add(version)
        session.flush()
        return version.id


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def eval_cli(
    cli: tuple[dict[str, str], Engine],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[tuple[Engine, Callable[..., tuple[int, str, str]]]]:
    """`rlhf reward-eval` run in this process (torch is loaded once) against the CLI database."""
    env, engine = cli
    for key in ("RLHF_DATABASE_URL", "RLHF_DATA_DIR"):
        monkeypatch.setenv(key, env[key])
    get_settings.cache_clear()
    get_engine.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["reward-eval", *args])
        out, err = capsys.readouterr()
        return code, out, err

    yield engine, run
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_reward_eval_scores_a_labelled_file(
    eval_cli: tuple[Engine, Callable[..., tuple[int, str, str]]],
    tiny_reward_base: Path,
    tmp_path: Path,
) -> None:
    engine, run = eval_cli
    version_id = _reward_version(engine, tiny_reward_base)
    pairs = _write(
        tmp_path / "pairs.jsonl",
        [
            {"prompt": "hi?", "response_a": "hello", "response_b": "go away", "label": "worse"},
            {"prompt": "hi?", "response_a": "yo", "response_b": "good day", "label": "better"},
            {"prompt": "hi?", "response_a": "hey", "response_b": "hiya", "label": "same"},
            {"prompt": "hi?", "response_a": "a", "response_b": "b"},
        ],
    )
    code, out, err = run(str(version_id), str(pairs))
    assert code == 0, err
    result = json.loads(out)
    # The tie and the unlabelled pair are left out.
    assert result["n"] == 2 and 0.0 <= result["accuracy"] <= 1.0
    assert 0.0 <= result["ece"] <= 1.0
    assert {"length_rule_accuracy", "accuracy_shorter_chosen", "margin_length_corr"} <= set(result)
    # Chosen "hello" is shorter than "go away"; chosen "good day" is longer than "yo".
    assert result["n_shorter_chosen"] == 1 and result["length_rule_accuracy"] == 0.5
    code, out, _ = run(f"reward-{tiny_reward_base.name}", str(pairs))
    assert code == 0 and json.loads(out) == result
    more = _write(
        tmp_path / "more.jsonl",
        [{"prompt": "q", "response_a": "long answer", "response_b": "ok", "label": "better"}],
    )
    code, out, err = run(str(version_id), str(pairs), str(more))
    assert code == 0, err
    both = json.loads(out)
    assert (both["n"], both["n_pairs.jsonl"], both["n_more.jsonl"]) == (3, 2, 1)
    assert both["length_rule_accuracy_more.jsonl"] == 0.0 and both["n_shorter_chosen"] == 2


def test_reward_eval_counts_equal_scores_as_wrong(
    eval_cli: tuple[Engine, Callable[..., tuple[int, str, str]]],
    tiny_reward_base: Path,
    tmp_path: Path,
) -> None:
    engine, run = eval_cli
    flat = tmp_path / "flat-reward"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_reward_base, num_labels=1)
    with torch.no_grad():
        model.classifier.weight.zero_()  # every text scores the bias: all ties
    model.save_pretrained(flat)
    AutoTokenizer.from_pretrained(tiny_reward_base).save_pretrained(flat)
    version_id = _reward_version(engine, flat)
    pairs = _write(
        tmp_path / "pairs.jsonl",
        [
            {
                "prompt": "q",
                "response_a": f"answer {i}",
                "response_b": f"other {i}",
                "label": "better",
            }
            for i in range(3)
        ],
    )
    code, out, err = run(str(version_id), str(pairs))
    assert code == 0, err
    result = json.loads(out)
    assert (result["accuracy"], result["n"], result["skipped"]) == (0.0, 3, {})
    # Every pair is a confident-looking 0.5 that is always wrong: ECE is |0.5 - 0|.
    assert result["ece"] == 0.5


def test_reward_eval_leaves_out_degenerate_hh_records_and_says_how_many(
    eval_cli: tuple[Engine, Callable[..., tuple[int, str, str]]],
    tiny_reward_base: Path,
    tmp_path: Path,
) -> None:
    engine, run = eval_cli
    version_id = _reward_version(engine, tiny_reward_base)
    history = "\n\nHuman: how do I bake bread?\n\nAssistant: With flour."
    rows = [
        {"chosen": f"\n\nHuman: q{i}\n\nAssistant: yes {i}",
         "rejected": f"\n\nHuman: q{i}\n\nAssistant: no {i}"}
        for i in range(3)
    ]  # fmt: skip
    # helpful-online shape: one transcript is the other plus a trailing Human turn.
    rows.insert(1, {"chosen": history, "rejected": history + "\n\nHuman: thanks!"})
    rows.append({"chosen": history + "\n\nHuman: and rye?", "rejected": history})
    hh = tmp_path / "online.jsonl.gz"
    with gzip.open(hh, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run(str(version_id), str(hh))
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == 3 and result["skipped"] == {"extended_transcript": 2}
    assert "left out 2 records (2 extended transcript)" in err


def test_reward_eval_explains_bad_input(
    eval_cli: tuple[Engine, Callable[..., tuple[int, str, str]]],
    tiny_reward_base: Path,
    tmp_path: Path,
) -> None:
    engine, run = eval_cli
    policy_id = _reward_version(engine, tiny_reward_base, kind="policy")
    reward_id = _reward_version(engine, tiny_reward_base)
    pairs = _write(
        tmp_path / "pairs.jsonl",
        [{"prompt": "q", "response_a": "x", "response_b": "y", "label": "better"}],
    )
    code, _, err = run("424242", str(pairs))
    assert code == 2 and "no model version" in err
    code, _, err = run(str(policy_id), str(pairs))
    assert code == 2 and "not reward" in err
    broken = _write(
        tmp_path / "broken.jsonl",
        [{"prompt": "q", "response_a": "x", "response_b": "y", "label": "meh"}],
    )
    code, _, err = run(str(reward_id), str(broken))
    assert code == 2 and "line 1" in err and "label" in err
    ties = _write(
        tmp_path / "ties.jsonl",
        [{"prompt": "q", "response_a": "x", "response_b": "y", "label": "same"}],
    )
    code, _, err = run(str(reward_id), str(ties))
    assert code == 2 and "ties are left out" in err


def test_preference_files_in_every_import_format(tmp_path: Path) -> None:
    hh = _write(
        tmp_path / "hh.jsonl",
        [
            {
                "chosen": "\n\nHuman: hi\n\nAssistant: hello there",
                "rejected": "\n\nHuman: hi\n\nAssistant: no",
            },
        ],
    )
    (example,) = read_preference_file(hh).examples
    assert example.prompt == [{"role": "user", "content": "hi"}]
    chosen = example.response_b if example.choice == "better" else example.response_a
    assert chosen == "hello there"
    trl = _write(
        tmp_path / "trl.jsonl",
        [
            {
                "prompt": [{"role": "user", "content": "hi"}],
                "chosen": [{"role": "assistant", "content": "hello"}],
                "rejected": [{"role": "assistant", "content": "bye"}],
            },
            {"prompt": "plain", "chosen": "yes", "rejected": "no"},
        ],
    )
    examples = read_preference_file(trl).examples
    assert [(e.response_a, e.response_b, e.choice) for e in examples] == [
        ("bye", "hello", "better"),
        ("no", "yes", "better"),
    ]
    with pytest.raises(ValueError, match="format"):
        read_preference_file(_write(tmp_path / "odd.jsonl", [{"question": "?"}]))
