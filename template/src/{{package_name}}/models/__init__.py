"""The GPT model: dense or mixture-of-experts, learned or rotary positions, GPT-2 weights on request."""

from .gpt import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig"]
