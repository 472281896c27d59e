"""MLP activations per layer: their distribution, and units that are dead or saturated.

Over the analysed tokens, a unit is *dead* when its activation (GELU, or SwiGLU's SiLU gate) never rises above
`dead_threshold` (it never fires, so it passes no gradient worth having), and *saturated* when
its pre-activation is beyond +-`saturation` on at least `saturated_fraction` of the tokens
(GELU is flat or linear there: the unit adds no non-linearity).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..models.gpt import GPT, Block
from .figures import panel_grid, save

Part = tuple[torch.Tensor, torch.Tensor]


@dataclass
class LayerHealth:
    layer: int
    units: int
    dead: int
    saturated: int

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def mlp_activations(model: GPT, idx: torch.Tensor) -> list[list[Part]]:
    """Per layer, one (pre, post) pair of (tokens, units) activation inputs and outputs per MLP (one per expert)."""
    blocks = [module for module in model.modules() if isinstance(module, Block)]
    captured: dict[int, list[Part]] = {i: [] for i in range(len(blocks))}
    hooks = []
    for layer, block in enumerate(blocks):
        for module in block.mlp.modules():
            if isinstance(module, nn.GELU | nn.SiLU):
                hooks.append(module.register_forward_hook(_recorder(captured[layer])))
    try:
        model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return [captured[layer] for layer in sorted(captured)]


def _recorder(store: list):
    def record(_module, inputs, output) -> None:
        pre, post = inputs[0].detach().float(), output.detach().float()
        store.append((pre.reshape(-1, pre.size(-1)), post.reshape(-1, post.size(-1))))

    return record


def layer_health(
    layer: int,
    parts: list[Part],
    dead_threshold: float = 0.0,
    saturation: float = 3.0,
    saturated_fraction: float = 0.99,
) -> LayerHealth:
    """Dead and saturated units of one layer; each expert's units are judged on the tokens routed to it."""
    health = LayerHealth(layer=layer, units=0, dead=0, saturated=0)
    for pre, post in parts:
        if pre.size(0) == 0:  # an expert that received no token says nothing about its units
            continue
        health.units += pre.size(-1)
        health.dead += int((post.amax(dim=0) <= dead_threshold).sum())
        health.saturated += int(((pre.abs() >= saturation).float().mean(dim=0) >= saturated_fraction).sum())
    return health


def plot_activations(layers: list[list[Part]], health: list[LayerHealth], path: Path) -> Path:
    """One panel per layer: histograms of pre-activations and GELU outputs; flagged layers in red."""
    figure, axes = panel_grid(len(layers), "MLP activations per layer (log counts)")
    for ax, parts, stats in zip(axes, layers, health, strict=True):
        pre, post = (torch.cat([part[i].flatten() for part in parts]).cpu().numpy() for i in (0, 1))
        ax.hist(pre, bins=80, alpha=0.6, label="pre (GELU input)", log=True)
        ax.hist(post, bins=80, alpha=0.6, label="post (GELU output)", log=True)
        flagged = stats.dead or stats.saturated
        ax.set_title(
            f"layer {stats.layer}: {stats.dead} dead, {stats.saturated} saturated / {stats.units}",
            fontsize=9,
            color="red" if flagged else "black",
        )
        ax.set_xlabel("activation", fontsize=8)
        ax.legend(fontsize=6)
    return save(figure, path)
