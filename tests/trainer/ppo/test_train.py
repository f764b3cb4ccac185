"""PPO on a tiny random policy with a synthetic reward: learning, guards, resume, outputs."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tests.trainer.ppo.conftest import letter_share_score
from tests.trainer.ppo.tiny_policy import PROMPTS
from trainer.context import JobInterrupted, NullContext
from trainer.policy import (
    ADAPTER_CONFIG,
    adapter_base,
    anchor_adapter_base,
    encode_prompts,
    is_adapter,
    load_policy,
    load_policy_tokenizer,
    stop_token_ids,
)
from trainer.ppo.checkpoint import CHECKPOINT_FILE
from trainer.ppo.config import PPOConfig
from trainer.ppo.policy_value import build_policy_with_value_head, forward_responses
from trainer.ppo.rollout import rollout
from trainer.ppo.tensor_ops import logprobs_of
from trainer.ppo.train import train_ppo

# A high learning rate makes a 2-layer policy move within a handful of steps.
FAST = PPOConfig(
    total_steps=10,
    batch_size=16,
    num_mini_batches=2,
    ppo_epochs=4,
    learning_rate=3e-3,
    response_length=16,
    kl_coef=0.01,
    kl_budget=50.0,
    missing_eos_penalty=0.0,
    eval_prompts=4,
    sample_every=5,
)


def test_ppo_raises_the_reward_within_the_kl_budget(tiny_policy: str, tmp_path: Path) -> None:
    ctx = NullContext(tmp_path / "ckpt")
    metrics = train_ppo(PROMPTS, tiny_policy, letter_share_score, FAST, ctx, tmp_path / "out")

    scores = [m["objective/scores"] for _, _, m in ctx.reports]
    assert len(scores) == FAST.total_steps
    assert sum(scores[-4:]) / 4 > 2 * sum(scores[:4]) / 4
    assert metrics["eval/new/score"] > metrics["eval/old/score"]
    assert metrics["stopped_early"] == 0.0
    assert max(m["objective/kl"] for _, _, m in ctx.reports) < FAST.kl_budget  # type: ignore[operator]
    assert metrics["eval/new/kl"] > 0.0
    assert abs(metrics["eval/old/kl"]) < 1e-3  # the old policy is the reference
    for name in (
        "objective/scores",
        "objective/kl",
        "objective/entropy",
        "objective/rlhf_reward",
        "policy/approxkl_avg",
        "policy/clipfrac_avg",
        "loss/policy_avg",
        "loss/value_avg",
        "val/ratio",
        "response/length",
        "response/ended_frac",
    ):
        assert name in ctx.reports[-1][2], name
    assert [p for _, p, _ in ctx.reports][-1] == pytest.approx(1.0)
    assert ctx.samples and {"prompt", "response", "score"} <= set(ctx.samples[0][1][0])


def test_saved_policy_loads_as_the_tuned_policy(tiny_policy: str, tmp_path: Path) -> None:
    config = replace(FAST, total_steps=3)
    out = tmp_path / "out"
    train_ppo(PROMPTS, tiny_policy, letter_share_score, config, NullContext(tmp_path / "c"), out)
    assert is_adapter(out)

    tuned, tok = load_policy(out)
    base, _ = load_policy(tiny_policy)
    ids, mask = encode_prompts(tok, PROMPTS[:2], 64)
    with torch.no_grad():
        assert not torch.allclose(
            tuned(ids, attention_mask=mask).logits, base(ids, attention_mask=mask).logits, atol=1e-4
        )

    # A second round trains over the first one's adapter; versions chain.
    second = tmp_path / "second"
    config = replace(FAST, total_steps=1, eval_prompts=2)
    train_ppo(PROMPTS, str(out), letter_share_score, config, NullContext(tmp_path / "d"), second)
    chained, _ = load_policy(second)
    with torch.no_grad():
        assert torch.isfinite(chained(ids, attention_mask=mask).logits).all()


def test_kl_budget_stops_early_and_keeps_the_last_policy_within_it(
    tiny_policy: str, tmp_path: Path
) -> None:
    config = replace(FAST, learning_rate=2e-2, kl_budget=0.5, total_steps=20)
    ctx = NullContext(tmp_path / "ckpt")
    metrics = train_ppo(PROMPTS, tiny_policy, letter_share_score, config, ctx, tmp_path / "out")
    assert metrics["stopped_early"] == 1.0
    assert len(ctx.reports) < config.total_steps
    assert ctx.reports[-1][2]["objective/kl"] > 0.5
    assert all(m["objective/kl"] <= 0.5 for _, _, m in ctx.reports[:-1])


def test_resume_after_interrupt_matches_an_uninterrupted_run(
    tiny_policy: str, tmp_path: Path
) -> None:
    config = replace(FAST, total_steps=4, checkpoint_every=100)
    straight = NullContext(tmp_path / "a")
    expected = train_ppo(
        PROMPTS, tiny_policy, letter_share_score, config, straight, tmp_path / "oa"
    )

    ctx = NullContext(tmp_path / "b")
    ctx.stop_after_reports = 2
    with pytest.raises(JobInterrupted):
        train_ppo(PROMPTS, tiny_policy, letter_share_score, config, ctx, tmp_path / "ob")
    assert (tmp_path / "b" / CHECKPOINT_FILE).is_file()
    assert not (tmp_path / "ob").exists()

    resumed = NullContext(tmp_path / "b")
    got = train_ppo(PROMPTS, tiny_policy, letter_share_score, config, resumed, tmp_path / "ob")
    assert [s for s, _, _ in resumed.reports] == [3, 4]
    for (_, _, want), (_, _, have) in zip(straight.reports[2:], resumed.reports, strict=True):
        assert have["objective/scores"] == pytest.approx(want["objective/scores"], abs=1e-5)
        assert have["loss/value_avg"] == pytest.approx(want["loss/value_avg"], rel=1e-3)
    assert got["eval/new/score"] == pytest.approx(expected["eval/new/score"], abs=1e-4)

    # A worker that dies after the last step but before saving redoes only evaluation and saving.
    again = NullContext(tmp_path / "b")
    redo = train_ppo(PROMPTS, tiny_policy, letter_share_score, config, again, tmp_path / "oc")
    assert again.reports == []
    assert redo["eval/new/score"] == pytest.approx(got["eval/new/score"], abs=1e-4)


def test_resume_refuses_a_checkpoint_of_another_config(tiny_policy: str, tmp_path: Path) -> None:
    config = replace(FAST, total_steps=2)
    ctx = NullContext(tmp_path / "c")
    ctx.stop_after_reports = 1
    with pytest.raises(JobInterrupted):
        train_ppo(PROMPTS, tiny_policy, letter_share_score, config, ctx, tmp_path / "o")
    with pytest.raises(ValueError, match="another config"):
        train_ppo(
            PROMPTS,
            tiny_policy,
            letter_share_score,
            replace(config, seed=1),
            NullContext(tmp_path / "c"),
            tmp_path / "o",
        )


def test_adaptive_kl_control_moves_beta(tiny_policy: str, tmp_path: Path) -> None:
    config = replace(FAST, total_steps=4, kl_target=1e-3, kl_horizon=100, eval_prompts=2)
    ctx = NullContext(tmp_path / "c")
    train_ppo(PROMPTS, tiny_policy, letter_share_score, config, ctx, tmp_path / "o")
    betas = [m["objective/beta"] for _, _, m in ctx.reports]
    kls = [m["objective/kl"] for _, _, m in ctx.reports]
    assert betas[0] == config.kl_coef
    for step in range(1, 4):
        # Each step's KL, above or below the target, pushes the next step's beta that way.
        assert (betas[step] > betas[step - 1]) == (kls[step - 1] > config.kl_target)


def test_rollout_logprobs_and_values_match_a_forward_pass(tiny_policy: str) -> None:
    config = replace(FAST, batch_size=8)
    model, tok = build_policy_with_value_head(tiny_policy, config)
    torch.nn.init.normal_(model.value_head.weight)
    stops = stop_token_ids(model.policy, tok)
    torch.manual_seed(0)
    batch = rollout(model, tok, PROMPTS[:8], config, stops)
    with torch.no_grad():
        logits, values = forward_responses(
            model, batch.query_responses, batch.attention_mask, batch.width, config.temperature
        )
    m = batch.mask
    assert (logprobs_of(logits, batch.responses) - batch.logprobs)[m].abs().max() < 1e-4
    assert (values - batch.values)[m].abs().max() < 1e-4
    # A fresh LoRA adapter is zero, so the policy starts as the reference.
    assert (batch.logprobs - batch.ref_logprobs)[m].abs().max() < 1e-4
    assert batch.ended.any() or batch.mask.all()


def test_a_chain_of_adapters_survives_moving_the_model_store(
    tiny_policy: str, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(tiny_policy, store / "base")
    config = replace(FAST, total_steps=1)
    first, second = store / "policy" / "job-1", store / "policy" / "job-2"
    # Built elsewhere and published later, as the job store does.
    build = tmp_path / "building"
    train_ppo(
        PROMPTS, str(store / "base"), letter_share_score, config, NullContext(tmp_path / "c"), build
    )
    anchor_adapter_base(build, first, store)
    first.parent.mkdir()
    build.rename(first)
    train_ppo(PROMPTS, str(first), letter_share_score, config, NullContext(tmp_path / "d"), second)
    anchor_adapter_base(second, second, store)
    assert adapter_base(second) == str(first)
    tok = load_policy_tokenizer(second)
    ids, mask = encode_prompts(tok, PROMPTS[:2], 64)
    with torch.no_grad():
        before = load_policy(second)[0](ids, attention_mask=mask).logits

    moved = store.rename(tmp_path / "restored")
    assert (
        json.loads((moved / "policy/job-2" / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
        == "../job-1"
    )
    assert adapter_base(moved / "policy/job-2") == str(moved / "policy/job-1")
    with torch.no_grad():
        after = load_policy(moved / "policy/job-2")[0](ids, attention_mask=mask).logits
    assert torch.allclose(before, after)


def test_a_base_outside_the_store_keeps_its_absolute_path(tiny_policy: str, tmp_path: Path) -> None:
    out = tmp_path / "store" / "policy" / "job-1"
    train_ppo(PROMPTS, tiny_policy, letter_share_score, replace(FAST, total_steps=1),
              NullContext(tmp_path / "c"), out)  # fmt: skip
    anchor_adapter_base(out, out, tmp_path / "store")
    assert adapter_base(out) == tiny_policy
