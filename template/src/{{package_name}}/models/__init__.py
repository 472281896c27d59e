"""The GPT model: dense or mixture-of-experts, learned or rotary positions, GPT-2 weights on request."""

from .config import GPTConfig
from .gpt import GPT

__all__ = ["GPT", "GPTConfig"]
