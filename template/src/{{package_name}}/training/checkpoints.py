"""Reading our checkpoints safely (weights_only), checking they fit the current config, and rebuilding their GPT.

A LoRA checkpoint holds an adapter and names its base (training.finetune): its GPT is the base's
weights with the adapter merged in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError
from ..models import GPT, GPTConfig
from ..models.hf import load_hf_weights
from .finetune import add_adapter, uses_adapter, weights_sha256

# Fields that change the weights or what they compute (block_size: the data windows); dropout or compile may differ.
SHAPE_FIELDS = (
    *("vocab_size", "block_size", "n_layer", "n_head", "n_kv_head", "n_embd", "bias", "qkv_bias", "norm", "norm_eps"),
    *("mlp", "mlp_hidden", "position", "rope_theta", "rope_scaling", "tie_embeddings", "moe_experts", "moe_top_k"),
)


@dataclass(frozen=True)
class TrainedCheckpoint:
    """What evaluate, export and analyze need from a training checkpoint, read from the file once."""

    hyper_parameters: dict  # GPTLitModule's arguments: model, optimizer, scheduler, compile, finetune, base
    state_dict: dict[str, torch.Tensor]  # the GPT's weights (a LoRA run's: the adapter's), without `model.`
    global_step: int | None

    @property
    def model_config(self) -> dict:
        return self.hyper_parameters["model"]

    @property
    def finetune_method(self) -> str:
        return (self.hyper_parameters.get("finetune") or {}).get("method", "none")

    def gpt(self) -> GPT:
        """The trained GPT, in eval mode; a LoRA checkpoint's adapter merged into its base."""
        hp = self.hyper_parameters
        if uses_adapter(hp.get("finetune")):
            return merged_gpt(self.model_config, hp["finetune"], hp["base"], self.state_dict).eval()
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


def check_model_matches(path: str | Path, model: dict, finetune_method: str = "none", base: dict | None = None) -> None:
    """Refuse to resume from a checkpoint of another model shape, with(out) an adapter, or on another base."""
    checkpoint = load_checkpoint(path)
    if uses_adapter({"method": checkpoint.finetune_method}) != uses_adapter({"method": finetune_method}):
        raise UserError(
            f"checkpoint {path} was trained with finetune={checkpoint.finetune_method}, the config says "
            f"finetune={finetune_method}: resume with finetune={checkpoint.finetune_method}"
        )
    trained_base = checkpoint.hyper_parameters.get("base")
    if base and trained_base and base["sha256"] != trained_base["sha256"]:
        raise UserError(
            f"checkpoint {path} trained an adapter on {trained_base['pretrained']}, whose weights differ from "
            f"pretrained={base['pretrained']}: resume with pretrained={trained_base['pretrained']}"
        )
    trained, config = GPTConfig(**checkpoint.model_config), GPTConfig(**model)  # unset fields: defaults
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


def load_base(model: GPT, pretrained: str | Path) -> GPT:
    """Copy a base model's weights into `model` (in place): a Hugging Face directory or one of our checkpoints."""
    path = Path(pretrained).expanduser()
    if path.is_file():
        model.load_state_dict(load_checkpoint(path).gpt().state_dict())
        return model
    return load_hf_weights(model, path)


def merged_gpt(model_config: dict, finetune: dict, base: dict, adapter: dict[str, torch.Tensor]) -> GPT:
    """The plain GPT of a LoRA checkpoint: its base's weights with the adapter merged in (fp32, on the CPU).

    A QLoRA adapter merges into the unquantized base, as peft does: the export is a full-precision model.
    """
    path = Path(base["pretrained"])
    if not path.exists() or weights_sha256(path) != base["sha256"]:
        raise UserError(
            f"the base model of this LoRA checkpoint, {path}, is missing or its weights changed "
            f"(sha256 {base['sha256'][:12]}...): put the original base back at that path"
        )
    with torch.device("meta"):  # no random init: every weight comes from the base
        model = GPT(GPTConfig(**model_config))
    load_base(model.materialize("cpu"), path)
    tuner = add_adapter(model, {**finetune, "method": "lora"})
    missing, unexpected = model.load_state_dict(adapter, strict=False)
    adapter_keys = {name for name, param in model.named_parameters() if param.requires_grad}
    if unexpected or adapter_keys & set(missing):
        raise UserError(
            f"the adapter does not fit its base: unexpected {sorted(unexpected)[:3]}, missing "
            f"{sorted(adapter_keys & set(missing))[:3]}: was the checkpoint written by another version?"
        )
    tuner.merge_and_unload()  # in place: the adapted layers become plain Linear layers of `model` again
    return model.requires_grad_(True)
