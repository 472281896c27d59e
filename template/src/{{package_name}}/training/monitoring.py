"""Gradient norms, in total and per layer group, measured before clipping and logged every N steps."""

from __future__ import annotations

import re
from collections import defaultdict

import lightning as L
import torch
from lightning.pytorch.strategies import FSDPStrategy

BLOCK = re.compile(r"^h\.(\d+)\.")


def layer_group(name: str) -> str:
    """`model.transformer.h.3.attn.c_attn.weight` -> `block3`; `model.transformer.wte.weight` -> `wte`."""
    name = name.removeprefix("model.").removeprefix("_orig_mod.").removeprefix("transformer.")
    match = BLOCK.match(name)
    return f"block{match.group(1)}" if match else name.split(".")[0]


def grad_norms(module: torch.nn.Module, sharded: bool = False) -> dict[str, torch.Tensor]:
    """L2 norms of the current gradients per layer group, plus `total`, as 0-d float32 tensors.

    With sharded gradients (FSDP) each rank holds a different part of each group, so only the
    total is given: its squares are summed over all ranks.
    """
    squares: dict[str, list[torch.Tensor]] = defaultdict(list)
    for name, param in module.named_parameters():
        if param.grad is not None:
            squares[layer_group(name)].append(param.grad.detach().float().pow(2).sum())
    per_group = {name: torch.stack(values).sum() for name, values in squares.items()}
    if sharded and torch.distributed.is_initialized():
        total = sum(per_group.values(), torch.zeros((), device=next(module.parameters()).device))
        torch.distributed.all_reduce(total)
        return {"total": total.sqrt()}
    if not per_group:
        return {}
    norms = {name: value.sqrt() for name, value in per_group.items()}
    norms["total"] = torch.stack(list(per_group.values())).sum().sqrt()
    return norms


def total_grad_norm(trainer: L.Trainer, module: torch.nn.Module) -> float | None:
    norms = grad_norms(module, sharded=isinstance(trainer.strategy, FSDPStrategy))
    return float(norms["total"]) if norms else None


class GradNormMonitor(L.Callback):
    """Logs `grad_norm/total` and `grad_norm/<group>` (wte, block0, block1, ..., ln_f) every N steps.

    Norms are taken in `on_before_optimizer_step`, i.e. after gradient accumulation and before
    clipping, so a spike shows at its true size.
    """

    def __init__(self, every_n_steps: int = 10, per_group: bool = True):
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps={every_n_steps} must be at least 1")
        self.every_n_steps, self.per_group = every_n_steps, per_group

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        norms = grad_norms(pl_module, sharded=isinstance(trainer.strategy, FSDPStrategy))
        if not self.per_group:
            norms = {"total": norms["total"]} if norms else {}
        for group, norm in norms.items():
            # Already global (identical on every rank under DDP, all-reduced under FSDP).
            pl_module.log(f"grad_norm/{group}", norm, on_step=True, on_epoch=False, rank_zero_only=True)
