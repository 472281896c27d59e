"""A GPT decoder in the style of nanoGPT, with the blocks of the open model families chosen by config.

GPT-2: LayerNorm, GELU MLP, learned positions, biases, tied embeddings. Llama, Mistral and Qwen2:
RMSNorm, SwiGLU MLP, rotary positions, grouped-query attention, tied or untied embeddings.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from .config import GPTConfig
from .kv_cache import Cache, uncached_layout
from .moe import MoE
from .rope import apply_rotary, rope_tables

__all__ = ["GPT", "GPTConfig", "apply_rotary", "rope_tables"]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention over earlier positions only; optionally reads and extends a KV cache.

    With n_kv_head < n_head (grouped-query attention) each key/value head serves n_head // n_kv_head
    consecutive query heads; c_attn produces the n_head queries, then the n_kv_head keys and values.
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.kv_heads, config.head_dim
        self.dropout = config.dropout
        self.layer_idx = layer_idx  # this layer's index in a KV cache
        qkv_width = (config.n_head + 2 * config.kv_heads) * config.head_dim
        self.c_attn = nn.Linear(config.n_embd, qkv_width, bias=config.attn_bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """c_attn's output (B, T, width) as queries (B, n_head, T, D), keys and values (B, n_kv_head, T, D)."""
        B, T, _ = qkv.shape
        q_width, kv_width = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        q, k, v = qkv.split([q_width, kv_width, kv_width], dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k, v = (t.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2) for t in (k, v))
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        kv_cache: Cache | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """attn_mask (keys or queries x keys, broadcast), True where a query may attend; None: causal."""
        B, T, C = x.shape
        q, k, v = self.split_heads(self.c_attn(x))
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        if kv_cache is not None:  # the cache holds the n_kv_head heads: GQA's memory saving
            k, v = kv_cache.append(self.layer_idx, k, v)
        if self.n_kv_head != self.n_head:
            k, v = (t.repeat_interleave(self.n_head // self.n_kv_head, dim=1) for t in (k, v))
        dropout = self.dropout if self.training else 0.0
        if attn_mask is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network: GPT-2's tanh-approximated GELU, or SwiGLU (silu(gate) * up).

    For SwiGLU, c_fc computes the gate and the up projection together (its rows: gate, then up).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.swiglu = config.mlp == "swiglu"
        width = config.mlp_width
        self.c_fc = nn.Linear(config.n_embd, 2 * width if self.swiglu else width, bias=config.bias)
        self.act = nn.SiLU() if self.swiglu else nn.GELU(approximate="tanh")  # a module: analyze hooks it
        self.c_proj = nn.Linear(width, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.swiglu:
            gate, up = self.c_fc(x).chunk(2, dim=-1)
            return self.dropout(self.c_proj(self.act(gate) * up))
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


def norm(config: GPTConfig) -> nn.Module:
    """The normalisation layer the config names: LayerNorm (GPT-2) or RMSNorm (Llama and its relatives)."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.n_embd, eps=config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.ln_1 = norm(config)
        self.attn = CausalSelfAttention(config, layer_idx)
        self.ln_2 = norm(config)
        self.mlp = MoE(config, MLP) if config.moe_experts > 0 else MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        kv_cache: Cache | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), rope, kv_cache, attn_mask)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """The language model: token (and position) embeddings, a stack of blocks, and a tied or untied output head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList(Block(config, i) for i in range(config.n_layer)),
                ln_f=norm(config),
            )
        )
        if config.position == "learned":
            self.transformer.wpe = nn.Embedding(config.block_size, config.n_embd)
        else:  # rotary tables are a pure function of the config, so they stay out of checkpoints
            cos, sin = self._rope_tables()
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.transformer.wte.weight = self.lm_head.weight  # weight tying, as GPT-2
        self.aux_loss = torch.zeros(())  # summed MoE load-balancing loss of the last forward
        # Recompute each block's activations in the backward pass instead of keeping them: less memory, more compute.
        self.gradient_checkpointing = False

        self.apply(self._init_weights)
        for name, param in self.named_parameters():  # residual projections: GPT-2's scaled init
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _rope_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        return rope_tables(cfg.head_dim, cfg.block_size, cfg.rope_theta, cfg.rope_scaling)

    def materialize(self, device: torch.device | str = "cpu") -> GPT:
        """Give a model built on the meta device real, uninitialised storage; the caller then fills every weight.

        Building on meta and filling in place keeps loading pretrained weights at one copy of the model.
        """
        self.to_empty(device=device)
        if self.config.tie_embeddings:  # to_empty replaces each parameter: tie the new ones again
            self.transformer.wte.weight = self.lm_head.weight
        if self.config.position == "rope":
            cos, sin = self._rope_tables()
            self.rope_cos, self.rope_sin = cos.to(device), sin.to(device)
        self.aux_loss = torch.zeros((), device=device)
        return self

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, vocab) for every position of idx (B, T), and the loss when targets are given.

        With a kv_cache (models/kv_cache.py), idx continues the cached tokens: the cache says at which positions.
        attention_mask (B, T), 1 for tokens and 0 for left padding, serves batches of prompts of different
        lengths: each row counts its own positions and no token attends to padding. A KVCache that has seen a
        mask keeps applying it; later inputs without a mask are all real tokens.
        """
        layout = uncached_layout(idx, attention_mask) if kv_cache is None else kv_cache.layout(idx, attention_mask)
        self._check_length(layout.length)
        positions = layout.positions
        x = self.transformer.wte(idx)
        rope = None
        if self.config.position == "learned":
            x = x + self.transformer.wpe(positions)
        else:  # (T, D) tables, or (B, 1, T, D) for per-row positions, broadcast over the heads
            rope = (self.rope_cos[positions], self.rope_sin[positions])
            if positions.dim() == 2:
                rope = (rope[0].unsqueeze(1), rope[1].unsqueeze(1))
        x = self.transformer.drop(x)
        recompute = self.gradient_checkpointing and self.training and torch.is_grad_enabled() and kv_cache is None
        for block in self.transformer.h:
            if recompute:
                x = checkpoint(block, x, rope, None, layout.mask, use_reentrant=False)
            else:
                x = block(x, rope, kv_cache, layout.mask)
        if kv_cache is not None:
            kv_cache.advance(idx.size(1))
        logits = self.lm_head(self.transformer.ln_f(x))

        aux = [block.mlp.aux_loss for block in self.transformer.h if isinstance(block.mlp, MoE)]
        self.aux_loss = torch.stack(aux).sum() if aux else logits.new_zeros(())
        loss = None
        if targets is not None:
            # Mean over the targets that count (-1: no loss, e.g. chat prompts); none at all gives 0, not NaN.
            losses = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1, reduction="sum"
            )
            loss = losses / (targets != -1).sum().clamp(min=1)
            if aux:
                loss = loss + self.config.moe_aux_weight * self.aux_loss
        return logits, loss

    def _check_length(self, length: int) -> None:
        if length > self.config.block_size:
            raise ValueError(
                f"Sequence of {length} tokens exceeds block_size={self.config.block_size}: "
                "feed shorter inputs or build the model with a larger block_size."
            )

    def configure_optimizers(
        self, weight_decay: float, learning_rate: float, betas: tuple[float, float], device_type: str
    ) -> torch.optim.AdamW:
        """AdamW that decays the matrices (Linear and Embedding weights) but not biases or norms.

        Parameters are told apart by role rather than by p.dim(), which FSDP's flattened shards hide.
        """
        norm_layers = (nn.LayerNorm, nn.RMSNorm)
        norms = {id(p) for m in self.modules() if isinstance(m, norm_layers) for p in m.parameters()}
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for name, param in self.named_parameters():  # a tied weight is listed once
            if param.requires_grad:
                (no_decay if name.endswith("bias") or id(param) in norms else decay).append(param)
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        fused = device_type == "cuda" and "fused" in inspect.signature(torch.optim.AdamW).parameters
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **({"fused": True} if fused else {}))

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; non_embedding leaves out the lookup tables: the position table and an untied wte.

        A tied wte stays in: it is also the output head's matrix, which costs FLOPs.
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.config.position == "learned":
            n -= self.transformer.wpe.weight.numel()
        if non_embedding and not self.config.tie_embeddings:
            n -= self.transformer.wte.weight.numel()
        return n

    def flops_per_token(self) -> int:
        """Training FLOPs per token (forward and backward), as nanoGPT's estimate; only active experts count."""
        cfg = self.config
        n = self.num_params()
        if cfg.moe_experts > 0:
            expert = sum(p.numel() for p in self.transformer.h[0].mlp.experts[0].parameters())
            n -= cfg.n_layer * (cfg.moe_experts - cfg.moe_top_k) * expert
        L, H, Q, T = cfg.n_layer, cfg.n_head, cfg.head_dim, cfg.block_size  # scores: every query head
        return 6 * n + 12 * L * H * Q * T

    def estimate_mfu(self, tokens_per_s: float, peak_flops: float) -> float:
        """Model FLOPs utilisation: achieved training FLOP/s as a fraction of peak_flops (e.g. 989e12 for H100)."""
        return self.flops_per_token() * tokens_per_s / peak_flops
