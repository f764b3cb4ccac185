"""DPO training on the tiny policy: it learns a separable preference with each loss, keeps its
reference fixed, reports TRL's metric names, and resumes from a checkpoint as if never stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.dpo.synthetic import separable_examples
from trainer.context import JobInterrupted, NullContext
from trainer.dpo.config import DPOConfig
from trainer.dpo.forward import collate, summed_logps
from trainer.dpo.scoring import reference_logps
from trainer.dpo.train import resume_or_start, start_run, train_dpo, train_epochs
from trainer.policy import adapter_base, is_adapter, load_policy
from trainer.reward.data import split_by_group

CONFIG = DPOConfig(
    epochs=2,
    learning_rate=5e-3,
    batch_size=8,
    val_fraction=0.25,
    lora_r=4,
    lora_alpha=8,
    warmup_ratio=0.0,
    checkpoint_every=4,
)
TRL_NAMES = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
)


@pytest.mark.parametrize(
    "settings",
    [
        {"loss_type": "sigmoid"},
        {"loss_type": "robust", "label_smoothing": 0.1},
        {"loss_type": "sigmoid", "label_smoothing": 0.1},
        {"loss_type": "ipo", "beta": 0.5},
    ],
)
def test_tiny_policy_learns_a_separable_preference(
    tiny_policy: str, tmp_path: Path, settings: dict[str, object]
) -> None:
    config = DPOConfig(**{**CONFIG.to_dict(), **settings})
    ctx = NullContext(tmp_path / "ckpt")
    metrics = train_dpo(separable_examples(96), tiny_policy, config, ctx, tmp_path / "out")

    assert metrics["n_val"] == 24 and metrics["n_train"] == 72 and metrics["steps"] == 18
    # Before training every implicit reward is 0 (adapter B starts at 0): accuracy 0.
    assert metrics["accuracy"] >= 0.95
    assert metrics["eval/rewards/margins"] > 0 and metrics["kl"] > 0
    assert all(name in metrics for name in TRL_NAMES)
    assert metrics["logps/chosen"] > metrics["logps/rejected"]
    # Held-out accuracy is reported after every epoch, not only at the end.
    evaluated = [step for step, _, m in ctx.reports if "accuracy" in m]
    assert evaluated == [9, 18]
    assert is_adapter(tmp_path / "out") and adapter_base(tmp_path / "out") == tiny_policy
    load_policy(tmp_path / "out")  # what a job, generation and registration will open


def test_reference_is_the_untouched_policy_and_is_kept(tiny_policy: str, tmp_path: Path) -> None:
    train, val = split_by_group(separable_examples(48), CONFIG.val_fraction, CONFIG.seed)
    run = start_run(tiny_policy, CONFIG, NullContext(tmp_path / "ckpt"), train, val)
    state = resume_or_start(run, "fingerprint")
    kept = state.ref_train.clone()
    train_epochs(run, state, "fingerprint")

    args = (run.accelerator, CONFIG, run.pad_id)
    assert torch.equal(state.ref_train, kept)  # never recomputed
    after = reference_logps(run.core, run.train, *args)  # adapter off, after training
    assert torch.allclose(after, kept, atol=1e-4)
    # ... and the adapter off is the policy as loaded, not merely itself at the start.
    base, _ = load_policy(tiny_policy)
    with torch.no_grad():
        batch = collate(run.train[:4], run.pad_id)
        chosen, rejected = summed_logps(base, batch)
    assert torch.allclose(torch.stack([chosen, rejected], dim=1), kept[:4], atol=1e-4)
    # The adapter on is a different policy now.
    with torch.no_grad():
        tuned_chosen, _ = summed_logps(run.core, batch)
    assert (tuned_chosen - chosen).abs().max() > 0.5


def test_a_stopped_run_resumes_to_the_same_adapter(tiny_policy: str, tmp_path: Path) -> None:
    examples = separable_examples(48)
    straight = NullContext(tmp_path / "straight-ckpt")
    expected = train_dpo(examples, tiny_policy, CONFIG, straight, tmp_path / "straight")

    stopped = NullContext(tmp_path / "ckpt")
    stopped.stop_after_reports = 5  # a worker told to stop (SIGTERM, cancel, lost lease)
    with pytest.raises(JobInterrupted):
        train_dpo(examples, tiny_policy, CONFIG, stopped, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    resumed = NullContext(tmp_path / "ckpt")
    metrics = train_dpo(examples, tiny_policy, CONFIG, resumed, tmp_path / "out")

    assert resumed.reports[0][0] == 6  # went on from step 5, not from the start
    assert metrics["steps"] == expected["steps"]
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
    assert metrics["loss"] == pytest.approx(expected["loss"], rel=1e-4, abs=1e-6)
    a = load_file(str(tmp_path / "straight" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "out" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name


def test_a_checkpoint_of_other_settings_is_not_resumed(tiny_policy: str, tmp_path: Path) -> None:
    examples = separable_examples(24)
    stopped = NullContext(tmp_path / "ckpt")
    stopped.stop_after_reports = 2
    with pytest.raises(JobInterrupted):
        train_dpo(examples, tiny_policy, CONFIG, stopped, tmp_path / "out")
    other = NullContext(tmp_path / "ckpt")
    config = DPOConfig(**{**CONFIG.to_dict(), "beta": 0.2})
    train_dpo(examples, tiny_policy, config, other, tmp_path / "out")
    assert other.reports[0][0] == 1
