"""The model's shape and options (the fields of configs/model/*.yaml), checked once when built.

A module of its own so that gpt.py and moe.py both import it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GPTConfig:
    vocab_size: int = 50304  # GPT-2's 50257 padded up to a multiple of 64 for speed
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm, as GPT-2; False is a little faster
    position: str = "learned"  # "learned" (GPT-2's wpe table) or "rope" (rotary q/k)
    rope_theta: float = 10000.0
    moe_experts: int = 0  # 0 = a dense MLP in every block
    moe_top_k: int = 2
    moe_aux_weight: float = 0.01

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: change either one.")
        if self.position not in ("learned", "rope"):
            raise ValueError(f"position={self.position!r} is unknown: use 'learned' or 'rope'.")
        if self.position == "rope" and (self.n_embd // self.n_head) % 2:
            head_size = self.n_embd // self.n_head
            raise ValueError(f"position='rope' needs an even head size, not {head_size}: change n_head.")
        if self.moe_experts < 0:
            raise ValueError(f"moe_experts={self.moe_experts} is negative: use 0 for a dense MLP.")
        if self.moe_experts > 0 and not 0 < self.moe_top_k <= self.moe_experts:
            raise ValueError(
                f"moe_top_k={self.moe_top_k} must be between 1 and moe_experts={self.moe_experts}: change moe_top_k."
            )
