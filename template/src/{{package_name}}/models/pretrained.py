"""Load a local Hugging Face GPT-2 checkpoint (config.json + model.safetensors) into our GPT."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from .gpt import GPT, GPTConfig

# Hugging Face's GPT-2 uses Conv1D layers whose weights are stored (in, out); our Linear wants (out, in).
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# Causal-mask buffers of older checkpoints; our attention builds its mask itself.
IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def gpt2_config(**overrides) -> GPTConfig:
    """The GPT-2 small (124M) shape; overrides change single fields, e.g. for a tiny test model."""
    shape = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=True, position="learned")
    return GPTConfig(**{**shape, **overrides})


def check_config(model: GPT, hf_config: dict) -> None:
    """Refuse a checkpoint whose shape differs from the model's, naming the first difference."""
    ours = model.config
    pairs = {
        "n_layer": ours.n_layer,
        "n_head": ours.n_head,
        "n_embd": ours.n_embd,
        "vocab_size": ours.vocab_size,
        "n_positions": ours.block_size,
    }
    for key, value in pairs.items():
        if hf_config.get(key) != value:
            field = "block_size" if key == "n_positions" else key
            raise ValueError(
                f"The checkpoint has {key}={hf_config.get(key)} but the model has {field}={value}: "
                f"build the model with gpt2_config({field}={hf_config.get(key)})."
            )
    if ours.position != "learned" or not ours.bias or ours.moe_experts:
        raise ValueError("GPT-2 weights need position='learned', bias=True and moe_experts=0: use gpt2_config().")


def load_hf_gpt2(model: GPT, directory: str | Path) -> GPT:
    """Copy the checkpoint's weights into model (in place) and return it; lm_head follows the tied wte."""
    directory = Path(directory)
    check_config(model, json.loads((directory / "config.json").read_text(encoding="utf-8")))
    weights = load_file(directory / "model.safetensors")
    targets = model.state_dict()
    loaded = set()
    with torch.no_grad():
        for key, tensor in weights.items():
            name = key.removeprefix("transformer.")
            if name.endswith(IGNORED_SUFFIXES) or name == "lm_head.weight":
                continue  # lm_head is tied to wte, which is loaded under its own name
            name = f"transformer.{name}"
            if name not in targets:
                raise ValueError(f"The checkpoint has an unexpected tensor {key!r}: is it a GPT-2 checkpoint?")
            if name.endswith(CONV1D_WEIGHTS):
                tensor = tensor.t()
            if tensor.shape != targets[name].shape:
                expected = tuple(targets[name].shape)
                raise ValueError(f"{key!r} has shape {tuple(tensor.shape)}, the model expects {expected}.")
            targets[name].copy_(tensor)
            loaded.add(name)
    missing = set(targets) - loaded - {"lm_head.weight"}
    if missing:
        raise ValueError(f"The checkpoint lacks {sorted(missing)}: is it a complete GPT-2 checkpoint?")
    return model
