"""The model's shape and options (the fields of configs/model/*.yaml), checked once when built.

A module of its own so that gpt.py and moe.py both import it and neither imports the other.
The defaults are GPT-2's blocks; Llama, Mistral and Qwen2 set norm="rmsnorm", mlp="swiglu",
position="rope", n_kv_head (grouped-query attention) and their own bias and tying choices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UserError

# The RoPE scaling variants the model computes, with the keys each needs (as in transformers' rope_scaling).
ROPE_SCALING_KEYS = {
    "linear": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}


class ModelConfigError(UserError, ValueError):
    """A model field with an impossible value; the stages print it as one line."""


@dataclass
class GPTConfig:
    vocab_size: int = 50304  # GPT-2's 50257 padded up to a multiple of 64 for speed
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    n_kv_head: int | None = None  # key/value heads; None = n_head, fewer = grouped-query attention
    dropout: float = 0.0
    bias: bool = True  # biases in every Linear and LayerNorm, as GPT-2; False is a little faster
    qkv_bias: bool | None = None  # the q/k/v projection's bias alone (Qwen2: True with bias=False); None = bias
    norm: str = "layernorm"  # "layernorm" (GPT-2) or "rmsnorm" (Llama, Mistral, Qwen2)
    norm_eps: float = 1e-5
    mlp: str = "gelu"  # "gelu" (GPT-2) or "swiglu" (Llama, Mistral, Qwen2)
    mlp_hidden: int | None = None  # None: 4 * n_embd for gelu, Llama's 8/3 * n_embd rounded up for swiglu
    position: str = "learned"  # "learned" (GPT-2's wpe table) or "rope" (rotary q/k)
    rope_theta: float = 10000.0
    rope_scaling: dict[str, Any] | None = None  # {"rope_type": "linear" | "llama3", ...}, as in transformers
    tie_embeddings: bool = True  # the output head shares the token embedding's weight
    moe_experts: int = 0  # 0 = a dense MLP in every block
    moe_top_k: int = 2
    moe_aux_weight: float = 0.01

    def __post_init__(self) -> None:
        self._check_types()
        if self.n_embd % self.n_head:
            raise ModelConfigError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: change either one.")
        if self.n_kv_head is not None and self.n_head % self.n_kv_head:
            raise ModelConfigError(
                f"n_kv_head={self.n_kv_head} must divide n_head={self.n_head}: "
                "use a divisor of n_head, or null for one key/value head per query head."
            )
        self._check_choice("norm", ("layernorm", "rmsnorm"))
        self._check_choice("mlp", ("gelu", "swiglu"))
        self._check_choice("position", ("learned", "rope"))
        if self.position == "rope" and (self.n_embd // self.n_head) % 2:
            head_size = self.n_embd // self.n_head
            raise ModelConfigError(f"position='rope' needs an even head size, not {head_size}: change n_head.")
        if self.rope_scaling is not None:
            self.rope_scaling = self._checked_rope_scaling(dict(self.rope_scaling))
        if self.moe_experts < 0:
            raise ModelConfigError(f"moe_experts={self.moe_experts} is negative: use 0 for a dense MLP.")
        if self.moe_experts > 0 and not 0 < self.moe_top_k <= self.moe_experts:
            raise ModelConfigError(
                f"moe_top_k={self.moe_top_k} must be between 1 and moe_experts={self.moe_experts}: change moe_top_k."
            )

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """n_kv_head, or n_head when unset (one key/value head per query head)."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def mlp_width(self) -> int:
        """The MLP's hidden size: mlp_hidden if set, else 4 * n_embd (GPT-2) or, for SwiGLU, Llama's rule.

        Llama's rule: 2/3 of 4 * n_embd rounded up to a multiple of 256, about the parameters of a GELU MLP.
        """
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        if self.mlp == "gelu":
            return 4 * self.n_embd
        return 256 * -(-(8 * self.n_embd // 3) // 256)

    @property
    def attn_bias(self) -> bool:
        """Whether the fused q/k/v projection has a bias."""
        return self.bias if self.qkv_bias is None else self.qkv_bias

    def _check_types(self) -> None:
        """Sizes are positive integers, switches booleans, rates numbers (a YAML or config.json typo stops here)."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "n_kv_head", "mlp_hidden"):
            value = getattr(self, name)
            optional = name in ("n_kv_head", "mlp_hidden")
            if (value is None and optional) or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                continue
            fix = "a positive integer, or null for the default" if optional else "a positive integer"
            raise ModelConfigError(f"{name}={value!r} is not a size: use {fix}.")
        for name in ("moe_experts", "moe_top_k"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ModelConfigError(f"{name}={getattr(self, name)!r} is not an integer: use one.")
        for name in ("bias", "tie_embeddings", "qkv_bias"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "qkv_bias" and value is None):
                raise ModelConfigError(f"{name}={value!r} is not true or false: use one of them.")
        for name in ("dropout", "norm_eps", "rope_theta", "moe_aux_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ModelConfigError(f"{name}={value!r} is not a number of 0 or more: use one.")
        if self.rope_scaling is not None and not isinstance(self.rope_scaling, Mapping):
            raise ModelConfigError(
                f"rope_scaling={self.rope_scaling!r} is not a mapping: give rope_type and its keys, or null."
            )

    def _check_choice(self, field: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, field)
        if value not in choices:
            raise ModelConfigError(f"{field}={value!r} is unknown: use {' or '.join(map(repr, choices))}.")

    def _checked_rope_scaling(self, scaling: dict[str, Any]) -> dict[str, Any] | None:
        kind = scaling.get("rope_type", scaling.get("type", "default"))
        if kind == "default":
            return None
        if kind not in ROPE_SCALING_KEYS:
            raise ModelConfigError(
                f"rope_scaling type {kind!r} is not supported: use {' or '.join(map(repr, ROPE_SCALING_KEYS))}, "
                "or null for plain RoPE."
            )
        if self.position != "rope":
            raise ModelConfigError("rope_scaling needs position='rope': set position=rope or rope_scaling=null.")
        missing = [key for key in ROPE_SCALING_KEYS[kind] if key not in scaling]
        if missing:
            raise ModelConfigError(f"rope_scaling of type {kind!r} lacks {', '.join(missing)}: add them.")
        for key in ROPE_SCALING_KEYS[kind]:
            value = scaling[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ModelConfigError(f"rope_scaling.{key}={value!r} is not a positive number: use one.")
        return {"rope_type": kind, **{key: scaling[key] for key in ROPE_SCALING_KEYS[kind]}}
