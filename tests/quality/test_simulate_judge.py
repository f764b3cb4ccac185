"""`rlhf simulate --judge REWARD_VERSION`: simulated raters answer by a reward model's scores,
through the real server, with a tiny random reward model that the test asks the same
questions."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.models import Comparison, Label, ModelVersion, Prompt, Response, User
from tests.factories import make_project
from tests.live import LiveServer, unique
from tests.quality.test_simulate_cli import _rlhf
from tests.trainer.reward.tiny_model import build_tiny_reward_model
from trainer.judging import RewardJudge

pytestmark = pytest.mark.browser  # shares the live server with the browser tests

ResponseA = aliased(Response)
ResponseB = aliased(Response)


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_reward_model(tmp_path_factory.mktemp("judge"))


def test_simulated_raters_answer_by_the_judge(
    live_server: LiveServer, judge_dir: Path, tmp_path: Path
) -> None:
    tag = unique("judged")
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {
            "prompt": f"{tag}: how do I keep basil alive, part {i}?",
            "response_a": f"Water it. ({i})",
            "response_b": f"Give it sun, water when the soil is dry, pinch the tops. ({i})",
        }
        for i in range(30)
    ]
    pairs.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    with live_server.session() as session:
        project = make_project(session, name=unique("judge "), labels_per_comparison=2)
        judge = ModelVersion(
            project_id=project.id, kind="reward", name="judge-v1", base_model="tiny",
            path=str(judge_dir), metrics={}, params={},
        )  # fmt: skip
        policy = ModelVersion(
            project_id=project.id, kind="policy", name="policy-v1", base_model="tiny",
            path=str(judge_dir), metrics={}, params={},
        )  # fmt: skip
        session.add_all([judge, policy])
        session.flush()
        project_id, judge_id, policy_id = project.id, judge.id, policy.id
    assert _rlhf(live_server, "import", str(project_id), str(pairs)).returncode == 0

    run = _rlhf(
        live_server, "simulate", str(project_id), "--judge", str(judge_id),
        "--raters", "honest:2:1.0,flipper:1", "--labels", "45", "--check-every", "0",
        "--url", live_server.url, "--judge-device", "cpu",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["labels"] == 45
    assert result["judge"] == {
        "model_version_id": judge_id, "name": "judge-v1", "tie_margin": 0.0, "device": "cpu"
    }  # fmt: skip
    by_kind = {r["username"]: r for r in result["annotators"]}
    assert sum(r["labels"] for r in by_kind.values()) == 45
    for r in by_kind.values():
        assert r["skipped_unknown"] == 0  # the judge answers every pair
        assert r["accuracy"] == (1.0 if r["kind"] == "honest" else 0.0), r

    # Every stored label is what the judge says (honest) or its opposite (flipper).
    referee = RewardJudge(judge_dir)
    with live_server.session() as session:
        stored = session.execute(
            select(User.username, Label.choice, Prompt.messages, ResponseA.text, ResponseB.text)
            .join(User, User.id == Label.annotator_id)
            .join(Comparison, Comparison.id == Label.comparison_id)
            .join(Prompt, Prompt.id == Comparison.prompt_id)
            .join(ResponseA, ResponseA.id == Comparison.response_a_id)
            .join(ResponseB, ResponseB.id == Comparison.response_b_id)
            .where(Comparison.project_id == project_id)
        ).all()
    assert len(stored) == 45
    opposite = {"better": "worse", "worse": "better"}
    for username, choice, messages, text_a, text_b in stored:
        said = referee.answer(messages, text_a, text_b)
        assert said is not None and said.value in opposite  # a random model never ties exactly
        kind = by_kind[username]["kind"]
        assert choice == (said.value if kind == "honest" else opposite[said.value]), username

    refused = _rlhf(
        live_server, "simulate", str(project_id), "--judge", str(policy_id), "--raters", "honest:1"
    )
    assert refused.returncode == 2 and "is a policy model, not reward" in refused.stderr
    missing = _rlhf(
        live_server, "simulate", str(project_id), "--judge", "no-such-judge", "--raters", "random:1"
    )
    assert missing.returncode == 2 and "no model version 'no-such-judge'" in missing.stderr
    both = _rlhf(
        live_server, "simulate", str(project_id), "--judge", str(judge_id), "--truth",
        str(pairs), "--raters", "random:1",
    )  # fmt: skip
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    for bad in (refused, missing, both):
        assert "Traceback" not in bad.stderr
