"""GPT-2's shape, and loading a local Hugging Face GPT-2 checkpoint (the general loader is models.hf)."""

from __future__ import annotations

from pathlib import Path

from .gpt import GPT, GPTConfig
from .hf import load_hf_weights


def gpt2_config(**overrides) -> GPTConfig:
    """The GPT-2 small (124M) shape; overrides change single fields, e.g. for a tiny test model."""
    shape = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=True, position="learned")
    return GPTConfig(**{**shape, **overrides})


def load_hf_gpt2(model: GPT, directory: str | Path) -> GPT:
    """Copy a GPT-2 checkpoint's weights into model (in place) and return it; any family loads the same way."""
    return load_hf_weights(model, directory)
