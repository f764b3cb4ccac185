"""The default policy is materialised once, atomically; other names pass through.

The real GGUF conversion is exercised by the slow end-to-end test in tests/trainer/ppo/;
here the writer is swapped for a quick one to pin down the directory handling around it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer import default_models
from trainer.default_models import DEFAULT_POLICY, ensure_policy, smollm2_gguf_file


def test_the_shipped_gguf_file_is_found_without_importing_its_package() -> None:
    path = smollm2_gguf_file()
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def test_other_names_pass_through_untouched(tmp_path: Path) -> None:
    assert ensure_policy("HuggingFaceTB/SmolLM2-360M-Instruct", tmp_path) == (
        "HuggingFaceTB/SmolLM2-360M-Instruct"
    )
    assert ensure_policy("/models/my-policy", tmp_path) == "/models/my-policy"
    assert list(tmp_path.iterdir()) == []


def fake_writer(calls: list[Path], fail: bool = False):  # type: ignore[no-untyped-def]
    def write(gguf_file: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        if fail:
            raise RuntimeError("disk full")
        (out_dir / "model.safetensors").write_text("weights")

    return write


def test_materialisation_happens_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(default_models, "_write_plain_model", fake_writer(calls))
    first = ensure_policy(DEFAULT_POLICY, tmp_path)
    second = ensure_policy(DEFAULT_POLICY, tmp_path)
    assert first == second == str(tmp_path / "base" / DEFAULT_POLICY)
    assert len(calls) == 1
    # Written elsewhere, then renamed into place.
    assert calls[0].parent == tmp_path / "base" and calls[0].name != DEFAULT_POLICY
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == [DEFAULT_POLICY]
    assert (Path(first) / "model.safetensors").read_text() == "weights"


def test_a_crash_mid_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(default_models, "_write_plain_model", fake_writer(calls, fail=True))
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_policy(DEFAULT_POLICY, tmp_path)
    assert list((tmp_path / "base").iterdir()) == []

    monkeypatch.setattr(default_models, "_write_plain_model", fake_writer(calls))
    path = Path(ensure_policy(DEFAULT_POLICY, tmp_path))
    assert (path / "model.safetensors").is_file()


def test_a_worker_that_loses_the_race_keeps_the_winners_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "base" / DEFAULT_POLICY

    def slow_writer(gguf_file: Path, out_dir: Path) -> None:
        # Another worker finishes first while this one is still writing.
        target.mkdir(parents=True)
        (target / "model.safetensors").write_text("winner")
        out_dir.mkdir()
        (out_dir / "model.safetensors").write_text("loser")

    monkeypatch.setattr(default_models, "_write_plain_model", slow_writer)
    assert ensure_policy(DEFAULT_POLICY, tmp_path) == str(target)
    assert (target / "model.safetensors").read_text() == "winner"
    assert sorted(p.name for p in target.parent.iterdir()) == [DEFAULT_POLICY]
