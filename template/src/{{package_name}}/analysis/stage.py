"""The analyze stage: attention maps, activation histograms and training curves of a checkpoint, and a report."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from ..data.tokenizer import load_tokenizer
from ..errors import UserError
from ..training.checkpoints import load_checkpoint
from ..training.datamodule import FixedWindows, read_meta
from ..utils.logging import get_logger
from .activations import layer_health, mlp_activations, plot_activations
from .attention import attention_maps, plot_attention
from .curves import plot_curves, read_metrics
from .report import write_report

log = get_logger(__name__)


def analyze(cfg: DictConfig) -> dict:
    if not cfg.ckpt_path:
        raise UserError("analyze needs a checkpoint: pass ckpt_path=<train run dir>/checkpoints/<file>.ckpt")
    checkpoint = load_checkpoint(cfg.ckpt_path)
    model = checkpoint.gpt()
    out_dir = Path(cfg.paths.output_dir)
    figures_dir = out_dir / "figures"

    tokenizer = load_tokenizer(cfg.tokenizer_path)
    ids = tokenizer.encode(cfg.prompt).ids[: min(cfg.max_tokens, model.config.block_size)]
    if not ids:
        raise UserError("the prompt has no tokens: pass prompt='Some text'")
    if max(ids) >= model.config.vocab_size:
        raise UserError(
            f"tokenizer {cfg.tokenizer_path} has ids beyond the model's vocabulary ({model.config.vocab_size}): "
            "pass tokenizer_path=<the tokenizer.json of the data the checkpoint was trained on>"
        )
    tokens = [tokenizer.decode([i]).replace(" ", "_").replace("\n", "\\n") for i in ids]
    log.info("Attention maps of %d layers for %d prompt tokens", model.config.n_layer, len(ids))
    maps = attention_maps(model, torch.tensor([ids]))
    attention = [
        plot_attention(weights, tokens, layer, figures_dir / f"attention_layer{layer}.png")
        for layer, weights in enumerate(maps)
    ]

    sample = activation_sample(cfg, model.config.block_size, torch.tensor([ids]))
    layers = mlp_activations(model, sample)
    health = [layer_health(i, parts, **cfg.health) for i, parts in enumerate(layers)]
    activations = plot_activations(layers, health, figures_dir / "activations.png")

    run_dir = Path(cfg.train_run_dir) if cfg.train_run_dir else Path(cfg.ckpt_path).resolve().parent.parent
    metrics = run_dir / "csv" / "metrics.csv"
    curves, curves_note = None, f"No CSV log at {metrics}: train with logger=csv (the default) to get curves."
    if metrics.is_file():
        curves = plot_curves(read_metrics(metrics), figures_dir / "curves.png")
    else:
        log.warning(curves_note)

    facts = {
        "checkpoint": str(cfg.ckpt_path),
        "global_step": checkpoint.global_step,
        "model": {k: getattr(model.config, k) for k in ("n_layer", "n_head", "n_embd", "position")},
        "prompt": tokenizer.decode(ids),
        "activation tokens": sample.numel(),
    }
    report = write_report(out_dir / "report.md", facts, attention, activations, health, curves, curves_note)
    figures = [str(p) for p in (curves, *attention, activations) if p is not None]
    log.info("Report %s with %d figures", report, len(figures))
    return {
        "report": str(report),
        "figures": figures,
        "checkpoint": str(cfg.ckpt_path),
        "prompt_tokens": len(ids),
        "dead_units": sum(h.dead for h in health),
        "saturated_units": sum(h.saturated for h in health),
        "layers": [h.as_dict() for h in health],
    }


def activation_sample(cfg: DictConfig, block_size: int, prompt: torch.Tensor) -> torch.Tensor:
    """Windows of the validation split (more tokens than a prompt judge units better), else the prompt."""
    data_dir = Path(cfg.paths.processed_dir)
    if cfg.activation_windows <= 0 or not (data_dir / "val.bin").is_file():
        return prompt
    windows = FixedWindows(data_dir / "val.bin", read_meta(data_dir)["dtype"], block_size)
    count = min(cfg.activation_windows, len(windows))
    return torch.stack([windows[i][0] for i in range(count)]) if count else prompt
