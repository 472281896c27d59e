"""Reading our checkpoints safely (weights_only) and checking they fit the current config."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError

# Fields that change the shape of the weights; dropout or compile may differ on resume.
SHAPE_FIELDS = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "bias", "position", "moe_experts")


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint's contents, refusing anything but plain data (torch's weights_only load)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist: pass ckpt_path=<run dir>/checkpoints/last.ckpt or best")
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def check_model_matches(path: str | Path, model: dict) -> None:
    """Refuse to resume from a checkpoint trained with a different model shape."""
    trained = load_checkpoint(path)["hyper_parameters"]["model"]
    diffs = [
        f"{key}={trained.get(key)} (config: {model.get(key)})"
        for key in SHAPE_FIELDS
        if trained.get(key) != model.get(key)
    ]
    if diffs:
        raise UserError(
            f"checkpoint {path} was trained with a different model: {', '.join(diffs)}; "
            "choose the matching model=... / overrides or start without ckpt_path"
        )
