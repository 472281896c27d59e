"""The `export` suite: the INT8 model against fp32 on freshly trained models: bytes, perplexity, latency."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from ..data.corpus import corpus_text
from ..data.pipeline import prepare_data
from ..export.exporter import export_checkpoint
from ..training.fit import train
from ..utils.paths import CONFIG_DIR
from .train import quiet_lightning

# Training steps and batch size per model preset: the loss has clearly fallen, in about a minute
# (tiny, the smoke experiment) or three (small) on one thread of a shared CPU.
EXPORT_PRESETS = {"tiny": {"steps": 300, "batch_size": 16}, "small": {"steps": 150, "batch_size": 8}}
GOALS = {"int8_size_ratio": 0.30, "perplexity_change": 0.01, "int8_latency_ratio": 0.6}  # upper bounds


def config(name: str, *overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def bench_export(args: argparse.Namespace, work: Path) -> dict:
    torch.set_num_threads(args.threads)
    corpus = work / "corpus.txt"
    corpus.write_text(corpus_text(num_documents=args.documents, seed=7), encoding="utf-8")
    paths = [f"paths.root_dir={work}", f"paths.artifacts_dir={work / 'artifacts'}"]
    with contextlib.redirect_stdout(sys.stderr):  # progress bars; stdout is for the results
        prepare_data(config("prepare", *paths, f"data.source={corpus}", "data.num_proc=1", "data.block_size=128"))
    results: dict = {"threads": args.threads, "documents": args.documents, "goals": GOALS}
    with quiet_lightning():
        for preset in args.export_presets:
            steps = args.export_steps or EXPORT_PRESETS[preset]["steps"]
            checkpoint = train_preset(preset, steps, paths, work / f"train-{preset}")
            summary = export_checkpoint(
                config(
                    "export",
                    *paths,
                    f"paths.output_dir={work / f'export-{preset}'}",
                    f"ckpt_path={checkpoint}",
                    f"eval.batches={args.eval_batches}",
                    f"latency.repeats={args.repeats}",
                    f"latency.new_tokens={args.latency_tokens}",
                    "promote=false",
                )
            )
            results.update(preset_results(preset, steps, summary))
    return results


def train_preset(preset: str, steps: int, paths: list[str], out: Path) -> str:
    """The best checkpoint of a short real `train` run of a model preset on the prepared corpus."""
    batch_size = EXPORT_PRESETS.get(preset, EXPORT_PRESETS["tiny"])["batch_size"]
    cfg = config(
        "train",
        *paths,
        f"paths.output_dir={out}",
        "experiment=smoke",
        f"model={preset}",
        "model.block_size=128",
        f"datamodule.batch_size={batch_size}",
        f"trainer.max_steps={steps}",
        f"trainer.val_check_interval={steps}",
        "+trainer.enable_progress_bar=false",
        "+trainer.enable_model_summary=false",
        "test=false",
    )
    return train(cfg)["checkpoint"]


def preset_results(preset: str, steps: int, summary: dict) -> dict:
    """The ratios the goals are about, and the numbers behind them; keys start with the preset's name."""
    ratios = {
        "int8_size_ratio": summary["int8_bytes"] / summary["fp32_bytes"],
        "perplexity_change": summary["int8_perplexity"] / summary["fp32_perplexity"] - 1,
        "int8_latency_ratio": 1 / summary["int8_speedup"],
    }
    results = {f"{preset}_train_steps": steps}
    for key in ("fp32_bytes", "int8_bytes", "fp32_perplexity", "int8_perplexity"):
        results[f"{preset}_{key}"] = round(summary[key], 4)
    for key, value in ratios.items():
        results[f"{preset}_{key}"] = round(value, 5)
        results[f"{preset}_{key}_goal_met"] = value <= GOALS[key]
    return results
