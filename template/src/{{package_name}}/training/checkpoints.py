"""Reading our checkpoints safely (weights_only) and checking they fit the current config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError
from ..models import GPT, GPTConfig

# Fields that change the weights or what they compute (block_size: the data windows); dropout or compile may differ.
SHAPE_FIELDS = (
    *("vocab_size", "block_size", "n_layer", "n_head", "n_kv_head", "n_embd", "bias", "qkv_bias", "norm", "norm_eps"),
    *("mlp", "mlp_hidden", "position", "rope_theta", "rope_scaling", "tie_embeddings", "moe_experts", "moe_top_k"),
)


@dataclass(frozen=True)
class TrainedCheckpoint:
    """What evaluate, export and analyze need from a training checkpoint, read from the file once."""

    hyper_parameters: dict  # GPTLitModule's arguments: model, optimizer, scheduler, compile
    state_dict: dict[str, torch.Tensor]  # the GPT's weights, without the LightningModule's `model.` prefix
    global_step: int | None

    @property
    def model_config(self) -> dict:
        return self.hyper_parameters["model"]

    def gpt(self) -> GPT:
        """The trained GPT, in eval mode."""
        model = GPT(GPTConfig(**self.model_config))
        model.load_state_dict(self.state_dict)
        return model.eval()


def load_checkpoint(path: str | Path) -> TrainedCheckpoint:
    """A training checkpoint, refusing anything but plain data (torch's weights_only load)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist: pass ckpt_path=<run dir>/checkpoints/last.ckpt or best")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    weights = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    return TrainedCheckpoint(checkpoint["hyper_parameters"], weights, checkpoint.get("global_step"))


def check_model_matches(path: str | Path, model: dict) -> None:
    """Refuse to resume from a checkpoint trained with a different model shape."""
    trained, config = GPTConfig(**load_checkpoint(path).model_config), GPTConfig(**model)  # unset fields: defaults
    diffs = [
        f"{key}={getattr(trained, key)} (config: {getattr(config, key)})"
        for key in SHAPE_FIELDS
        if getattr(trained, key) != getattr(config, key)
    ]
    if diffs:
        raise UserError(
            f"checkpoint {path} was trained with a different model: {', '.join(diffs)}; "
            "choose the matching model=... / overrides or start without ckpt_path"
        )
