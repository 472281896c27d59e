"""Strategy factories for configs that need Python objects (classes) as arguments."""

from __future__ import annotations

from lightning.pytorch.strategies import FSDPStrategy

from ..models.gpt import Block


def fsdp_strategy(activation_checkpointing: bool = True, **kwargs) -> FSDPStrategy:
    """FSDP that shards per transformer `Block`, optionally recomputing each block's activations."""
    return FSDPStrategy(
        auto_wrap_policy={Block},
        activation_checkpointing_policy={Block} if activation_checkpointing else None,
        **kwargs,
    )
