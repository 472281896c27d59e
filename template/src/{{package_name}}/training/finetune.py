"""Fine-tuning methods (configs/finetune): none and full train every weight; lora and qlora train adapters.

LoRA goes through peft on the native GPT: `LoraModel` injects the adapter layers in place (the GPT
stays the GPT, its Linear layers gain `base_layer`, `lora_A` and `lora_B`) and freezes the rest, so
the optimizer sees only the adapter. A LoRA run's checkpoints hold the adapter alone (see
GPTLitModule.on_save_checkpoint) and name their base in `hyper_parameters["base"]`: the Hugging Face
directory or training checkpoint it started from (`pretrained=`) and a sha256 of its weights.
training.checkpoints rebuilds the plain GPT from the two, so evaluate, export and analyze never see
an adapter.

peft is imported inside the functions: it takes seconds to import (it imports transformers), and
runs without an adapter never need it.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import UserError
from ..models import GPT
from ..models.hf.load import shard_files
from ..utils.hashing import sha256_file, sha256_json
from ..utils.logging import get_logger

if TYPE_CHECKING:
    from peft import LoraModel

log = get_logger(__name__)
METHODS = ("none", "full", "lora", "qlora")
ADAPTER_METHODS = ("lora", "qlora")


def uses_adapter(finetune: dict | None) -> bool:
    return (finetune or {}).get("method") in ADAPTER_METHODS


def check_finetune(finetune: dict, pretrained: str | None) -> None:
    """Refuse a fine-tuning config this machine or run cannot do, before any work."""
    method = finetune.get("method")
    if method not in METHODS:
        raise UserError(f"finetune.method={method!r} is unknown: use finetune={' or finetune='.join(METHODS)}")
    if method in ADAPTER_METHODS and not pretrained:
        raise UserError(
            f"finetune={method} trains an adapter on a pretrained model and none is given: "
            "pass pretrained=<a local Hugging Face directory or a training checkpoint .ckpt>, or use finetune=full"
        )
    if method == "qlora":
        if not torch.cuda.is_available():
            raise UserError(
                "finetune=qlora needs a CUDA GPU (bitsandbytes' 4-bit base) and none is visible: "
                "use finetune=lora on this machine"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise UserError("finetune=qlora needs bitsandbytes: pip install bitsandbytes, or use finetune=lora")


def add_adapter(model: GPT, finetune: dict) -> LoraModel:
    """Inject LoRA layers into `model` in place and freeze everything else; the returned tuner can merge them."""
    from peft import LoraConfig, LoraModel

    if finetune["method"] == "qlora":
        quantize_base(model)
    config = LoraConfig(
        r=finetune["r"],
        lora_alpha=finetune["alpha"],
        lora_dropout=finetune["dropout"],
        target_modules=list(finetune["target_modules"]),
    )
    return LoraModel(model, config, "default")


def quantize_base(model: GPT) -> None:
    """QLoRA's base: the blocks' Linear layers as bitsandbytes NF4 (4-bit) layers, quantized on the GPU.

    bitsandbytes is no dependency (CUDA machines install it; check_finetune refuses without it), so it is
    loaded by name, not by an import statement that the dependency test holds to the declared ones.
    """
    bnb = importlib.import_module("bitsandbytes")

    for name, module in list(model.transformer.h.named_modules()):
        if isinstance(module, torch.nn.Linear):
            quantized = bnb.nn.Linear4bit(
                module.in_features,
                module.out_features,
                bias=module.bias is not None,
                compute_dtype=torch.bfloat16,
                quant_type="nf4",
            )
            quantized.weight = bnb.nn.Params4bit(module.weight.data, requires_grad=False, quant_type="nf4")
            if module.bias is not None:
                quantized.bias = torch.nn.Parameter(module.bias.data, requires_grad=False)
            parent, _, child = name.rpartition(".")
            setattr(model.transformer.h.get_submodule(parent), child, quantized.cuda())


def trainable_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe_base(pretrained: str | Path) -> dict[str, str]:
    """What a LoRA checkpoint records of its base: its path and a sha256 of its weights."""
    path = Path(pretrained).expanduser().resolve()
    return {"pretrained": str(path), "sha256": weights_sha256(path)}


def weights_sha256(path: Path) -> str:
    """sha256 of one of our checkpoints, or over the weight files of a Hugging Face directory."""
    if path.is_file():
        return sha256_file(path)
    return sha256_json({shard.name: sha256_file(shard) for shard in shard_files(path)})


def adapter_summary(model: GPT) -> dict[str, Any]:
    trainable, total = trainable_params(model), sum(p.numel() for p in model.parameters())
    log.info("LoRA: %d trainable parameters, %.2f%% of %d", trainable, 100 * trainable / total, total)
    return {"trainable_params": trainable, "trainable_fraction": trainable / total}
