"""The export stage: a training checkpoint becomes a verified, versioned artifact and its .tar.gz."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..data.tokenizer import load_tokenizer
from ..errors import UserError
from ..models import GPT
from ..models.hf import family_for
from ..training.checkpoints import TrainedCheckpoint, load_checkpoint
from ..utils.hashing import sha256_file
from ..utils.logging import get_logger
from .artifact import WEIGHTS, write_model_files
from .hf_directory import HF_FOLDER, write_hf_directory
from .manifest import PACKAGE, provenance, write_manifest
from .measure import generate_latency, val_perplexity, val_prompt
from .package import write_package
from .quantize import int8_gpt
from .registry import Registry

log = get_logger(__name__)
FORMATS = ("artifact", "hf")  # hf: also a Hugging Face directory, hf/ in the artifact


def export_checkpoint(cfg: DictConfig) -> dict:
    if not cfg.ckpt_path:
        raise UserError("export needs a checkpoint: pass ckpt_path=<train run dir>/checkpoints/<file>.ckpt")
    checkpoint = load_checkpoint(cfg.ckpt_path)
    model = checkpoint.gpt()
    tokenizer_path = Path(cfg.tokenizer_path).expanduser()
    vocab = load_tokenizer(tokenizer_path, require_eot=False).get_vocab_size()
    if vocab > model.config.vocab_size:
        raise UserError(
            f"{tokenizer_path} has {vocab} tokens, more than the model's {model.config.vocab_size}: "
            "pass the tokenizer the checkpoint was trained with (tokenizer_path=...)"
        )
    if not 0 < cfg.latency.prompt_tokens < model.config.block_size:
        raise UserError(
            f"latency.prompt_tokens={cfg.latency.prompt_tokens} must be between 1 and the model's "
            f"context length {model.config.block_size} (exclusive): lower it"
        )
    if cfg.format not in FORMATS:
        raise UserError(f"format={cfg.format!r} is unknown: use {' or '.join(FORMATS)}")
    if cfg.format == "hf":
        log.info("format=hf: the model exports as %s", family_for(model.config))  # refused now, not after measuring
    registry = Registry(cfg.paths.artifacts_dir)
    requested = None if cfg.version is None else str(cfg.version)
    with registry.publishing(requested) as (version, staging):  # claimed (or refused) before minutes of measuring
        log.info("Exporting %s: int8 for %d Linear weights and the embedding", version, count_linear(model))
        int8_model = int8_gpt(copy.deepcopy(model))
        metrics = measure(cfg, model, int8_model)
        write_artifact(staging, version, cfg, checkpoint, (model, int8_model), metrics)
    folder = registry.root / version
    package = write_package(folder, version, registry.root / f"{version}.tar.gz")
    if cfg.promote:
        registry.promote(version)
    ppl = (metrics["fp32_perplexity"], metrics["int8_perplexity"])
    log.info("Exported %s: int8/fp32 bytes %.3f, perplexity %.4f -> %.4f", folder, metrics["int8_size_ratio"], *ppl)
    return {
        "artifact_dir": str(folder),
        "version": version,
        "current": registry.current(),
        "package": str(package),
        "package_sha256": sha256_file(package),
        **{key: metrics[key] for key in ("fp32_bytes", "int8_bytes", "fp32_perplexity", "int8_perplexity")},
        **{key: metrics[key] for key in ("int8_speedup", "int8_size_ratio", "perplexity_change")},
        **({"hf_dir": str(folder / HF_FOLDER)} if cfg.format == "hf" else {}),
    }


def write_artifact(
    staging: Path, version: str, cfg: DictConfig, checkpoint: TrainedCheckpoint, models: tuple[GPT, GPT], metrics: dict
) -> None:
    """The model files, the resolved config and the manifest of `version`; adds the file sizes to `metrics`."""
    write_model_files(staging, *models, Path(cfg.tokenizer_path).expanduser())
    if cfg.format == "hf":
        write_hf_directory(staging / HF_FOLDER, models[0], Path(cfg.tokenizer_path).expanduser())
    (staging / "export_config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    fp32_bytes, int8_bytes = ((staging / WEIGHTS[p]).stat().st_size for p in ("fp32", "int8"))
    metrics.update(fp32_bytes=fp32_bytes, int8_bytes=int8_bytes, int8_size_ratio=int8_bytes / fp32_bytes)
    source = {
        "checkpoint": str(Path(cfg.ckpt_path).resolve()),
        "sha256": sha256_file(Path(cfg.ckpt_path)),
        "global_step": checkpoint.global_step,
    }
    write_manifest(
        staging,
        {"version": version, "package": PACKAGE, "source": source, "model": checkpoint.model_config}
        | provenance(Path(cfg.paths.root_dir))
        | {"metrics": metrics},
    )


def count_linear(model: GPT) -> int:
    return sum(isinstance(module, torch.nn.Linear) for module in model.modules())


def measure(cfg: DictConfig, model: GPT, int8_model: GPT) -> dict:
    """Val perplexity of both models and their generate latency, measured in this process."""
    data_dir, evaluation, latency = Path(cfg.data_dir), cfg.eval, cfg.latency
    log.info("Measuring val perplexity (%s batches of %d)", evaluation.batches or "all", evaluation.batch_size)
    fp32_ppl = val_perplexity(model, data_dir, evaluation.batches, evaluation.batch_size)
    int8_ppl = val_perplexity(int8_model, data_dir, evaluation.batches, evaluation.batch_size)
    prompt = val_prompt(data_dir, latency.prompt_tokens)
    seconds = generate_latency({"fp32": model, "int8": int8_model}, prompt, latency.new_tokens, latency.repeats)
    latency_settings = OmegaConf.to_container(latency)
    assert isinstance(latency_settings, dict), "a DictConfig converts to a dict"
    return {
        "fp32_perplexity": fp32_ppl,
        "int8_perplexity": int8_ppl,
        "perplexity_change": int8_ppl / fp32_ppl - 1,
        "fp32_generate_s": seconds["fp32"],
        "int8_generate_s": seconds["int8"],
        "int8_speedup": seconds["fp32"] / seconds["int8"],
        "latency_settings": {**latency_settings, "torch_threads": torch.get_num_threads()},
    }
