"""Attention weights per layer and head, recomputed from each layer's query/key projection.

The model computes attention with a fused kernel that never materialises the weights, so a
forward hook captures the input of each layer's `c_attn` projection and the weights are rebuilt
here as softmax(QK^T / sqrt(d)) with the causal mask, after the model's own rotary embedding.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..models.gpt import GPT, apply_rotary
from .figures import panel_grid, save


@torch.no_grad()
def attention_maps(model: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """One (n_head, T, T) tensor of attention weights per layer for the single sequence idx (1, T)."""
    if idx.dim() != 2 or idx.size(0) != 1:
        raise ValueError(f"attention_maps takes one sequence of shape (1, T), not {tuple(idx.shape)}")
    qkv: list[torch.Tensor] = []
    hooks = [
        block.attn.c_attn.register_forward_hook(lambda _module, _inputs, output: qkv.append(output.detach()))
        for block in model.transformer.h
    ]
    try:
        model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return [weights_from_qkv(model, layer_qkv) for layer_qkv in qkv]


def weights_from_qkv(model: GPT, qkv: torch.Tensor) -> torch.Tensor:
    """Causal attention weights (n_head, T, T) from one layer's c_attn output (1, T, width).

    With grouped-query attention each key head serves n_head // n_kv_head consecutive query heads.
    """
    config, attn = model.config, model.transformer.h[0].attn
    _, T, _ = qkv.shape
    q, k, _ = attn.split_heads(qkv.float())
    k = k.repeat_interleave(attn.n_head // attn.n_kv_head, dim=1)
    head_size = attn.head_dim
    if config.position == "rope":
        rope = (model.rope_cos[:T].float(), model.rope_sin[:T].float())
        q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
    scores = q @ k.transpose(-2, -1) / math.sqrt(head_size)
    future = torch.ones(T, T, dtype=torch.bool, device=qkv.device).triu(diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)[0]


def plot_attention(weights: torch.Tensor, tokens: list[str], layer: int, path: Path) -> Path:
    """One PNG for a layer: a heatmap per head, queries down, keys across, labelled with the tokens."""
    n_head, T, _ = weights.shape
    figure, axes = panel_grid(n_head, f"Attention, layer {layer} (rows: query token, columns: key token)")
    labels = [token if len(token) <= 8 else token[:7] + "…" for token in tokens]
    for head, ax in enumerate(axes):
        image = ax.imshow(weights[head].cpu().numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"head {head}", fontsize=9)
        ticks = range(T) if T <= 32 else range(0, T, max(1, T // 16))
        ax.set_xticks(list(ticks), [labels[i] for i in ticks], rotation=90, fontsize=5)
        ax.set_yticks(list(ticks), [labels[i] for i in ticks], fontsize=5)
    figure.colorbar(image, ax=axes, shrink=0.6, label="weight")
    return save(figure, path)
