"""Loading and saving policies, and turning conversations into the token ids they read.

A policy on disk is either a full model directory (a hub id, the materialised default, any
``save_pretrained`` output) or a LoRA adapter directory written by PPO. An adapter names the
policy it was trained over (``base_model_name_or_path`` in ``adapter_config.json``), which may
itself be an adapter: versions chain, each a few MB instead of a full copy of the weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

ADAPTER_CONFIG = "adapter_config.json"
# Chains deeper than this are surely a cycle (an adapter naming itself, directly or not).
MAX_ADAPTER_DEPTH = 64


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def adapter_base(path: str | Path) -> str:
    """The policy a LoRA adapter directory was trained over.

    A relative name that exists beside the adapter is a path from the adapter's directory
    (see ``anchor_adapter_base``); anything else is passed on as written (an absolute path
    or a hub id).
    """
    config = json.loads((Path(path) / ADAPTER_CONFIG).read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{path}: adapter does not name its base model")
    if not Path(base).is_absolute() and (Path(path) / base).exists():
        return os.path.normpath(Path(path) / str(base))
    return str(base)


def anchor_adapter_base(adapter_dir: Path, published_at: Path, store: Path) -> None:
    """Names the adapter's base relative to where the adapter will live, when both are in
    ``store``: a model store that is moved or mounted elsewhere (a restored backup, another
    container path) keeps its chains of versions, which absolute paths would break.
    """
    config_file = adapter_dir / ADAPTER_CONFIG
    config = json.loads(config_file.read_text())
    base = Path(str(config.get("base_model_name_or_path") or ""))
    if not base.is_absolute() or not base.resolve().is_relative_to(store.resolve()):
        return
    config["base_model_name_or_path"] = os.path.relpath(base.resolve(), published_at.resolve())
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))


def load_policy(
    path: str | Path, dtype: torch.dtype = torch.float32, _depth: int = 0
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(causal LM in eval mode, tokenizer padding on the left) for a model or adapter directory.

    Adapters are merged into their base, so the result is a plain model that generates at full
    speed and can take a fresh adapter for the next round of PPO.
    """
    if _depth > MAX_ADAPTER_DEPTH:
        raise ValueError(f"{path}: adapter chain deeper than {MAX_ADAPTER_DEPTH}")
    if is_adapter(path):
        from peft import PeftModel

        base, _ = load_policy(adapter_base(path), dtype=dtype, _depth=_depth + 1)
        model = PeftModel.from_pretrained(base, str(path)).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
    tokenizer = load_policy_tokenizer(path)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def load_policy_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    # Generation appends to the right end of each row, so prompts are padded on the left.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def stop_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Tokens that end a response: the generation config's EOS ids and the tokenizer's."""
    ids: set[int] = set()
    configured = model.generation_config.eos_token_id
    if isinstance(configured, int):
        ids.add(configured)
    elif configured is not None:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if not ids:
        raise ValueError("the policy has no end-of-sequence token")
    return sorted(ids)


def render_prompt(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """The text a policy continues: its chat template with the assistant turn opened."""
    if tokenizer.chat_template:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return str(text)
    # Base models without a template get a plain transcript in the HH style.
    turns = "".join(f"\n\n{m['role'].capitalize()}: {m['content']}" for m in messages)
    return f"{turns}\n\nAssistant:"


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict[str, str]]],
    max_tokens: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (B, P), left-padded; long prompts lose their start."""
    texts = [render_prompt(tokenizer, p) for p in prompts]
    # Templates write their own special tokens into the text.
    rows: list[list[int]] = tokenizer(texts, add_special_tokens=False)["input_ids"]
    rows = [r[-max_tokens:] for r in rows]
    width = max(len(r) for r in rows)
    pad_id = int(tokenizer.pad_token_id)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, P)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, P)
    for i, r in enumerate(rows):
        if r:
            input_ids[i, width - len(r) :] = torch.tensor(r)
            attention_mask[i, width - len(r) :] = 1
    return input_ids, attention_mask


def save_adapter(model: Any, tokenizer: PreTrainedTokenizerBase, base: str, out_dir: Path) -> None:
    """Writes a peft model's adapter over ``base`` so that ``load_policy(out_dir)`` finds both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_config = model.peft_config["default"]
    peft_config.base_model_name_or_path = base
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


def lora_policy(path: str, r: int, alpha: int, target_modules: str) -> tuple[Any, Any]:
    """(the policy on disk under a fresh LoRA adapter, its tokenizer), dropout off: the model
    PPO and DPO train, whose reference is the same model with the adapter switched off."""
    from peft import LoraConfig, get_peft_model

    base, tokenizer = load_policy(path)
    disable_dropout(base)
    lora = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules=target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(base, lora), tokenizer


def disable_dropout(model: nn.Module) -> None:
    """Dropout would make the log-probs of one policy differ between passes: PPO's rollout and
    update, DPO's kept reference and its training pass."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    config = getattr(model, "config", None)
    for name in ("attention_dropout", "hidden_dropout", "dropout", "resid_pdrop", "embd_pdrop"):
        if config is not None and isinstance(getattr(config, name, None), float):
            setattr(config, name, 0.0)
