"""The GPT model: GPT-2 or Llama-family blocks, dense or mixture-of-experts; Hugging Face weights in and out (hf)."""

from .config import GPTConfig
from .gpt import GPT

__all__ = ["GPT", "GPTConfig"]
