"""A mixture-of-experts MLP: each token goes to its top-k experts, with a Switch-style balancing loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from torch.nn import functional as F

from .config import GPTConfig


class MoE(nn.Module):
    """Drop-in replacement for the dense MLP; the experts are MLPs and a linear router picks top_k of them.

    expert builds one expert from the config (gpt.MLP); it is passed in so that imports point one way:
    gpt.py imports this module, and both import config.py.
    """

    def __init__(self, config: GPTConfig, expert: Callable[[GPTConfig], nn.Module]) -> None:
        super().__init__()
        self.num_experts, self.top_k = config.moe_experts, config.moe_top_k
        self.router = nn.Linear(config.n_embd, config.moe_experts, bias=False)
        self.experts = nn.ModuleList(expert(config) for _ in range(config.moe_experts))
        self.aux_loss = torch.zeros(())  # load-balancing loss of the last forward

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For tokens x (N, C): router probabilities (N, E), chosen experts (N, k), their weights (N, k).

        The weights are the chosen probabilities renormalised to sum to 1 over the k experts.
        """
        probs = F.softmax(self.router(x).float(), dim=-1)
        weights, chosen = probs.topk(self.top_k, dim=-1)
        return probs, chosen, weights / weights.sum(dim=-1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        x = x.reshape(B * T, C)
        probs, chosen, weights = self.route(x)
        out = torch.zeros_like(x)
        for i, expert in enumerate(self.experts):
            # Every expert runs, even on zero tokens, so that each parameter gets a gradient (DDP/FSDP need it).
            token, slot = torch.where(chosen == i)
            y = expert(x.index_select(0, token)) * weights[token, slot, None]
            out.index_add_(0, token, y.to(out.dtype))
        # f_i: fraction of the N * k token-slots sent to expert i; P_i: mean router probability of expert i.
        fraction = F.one_hot(chosen, self.num_experts).sum(dim=(0, 1)).float() / chosen.numel()
        self.aux_loss = self.num_experts * (fraction * probs.mean(dim=0)).sum()
        return out.view(B, T, C)
