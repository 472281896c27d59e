"""The `train` suite: the training `python -m <package>.train experiment=smoke` runs, against a plain PyTorch loop.

The Lightning side is the train stage's own `train(cfg)` on the composed `experiment=smoke` config
(`model=small` for the small preset): validation, checkpoints, logger, progress and every callback,
as a user runs it. The plain loop trains the same model on the same windows with the same optimizer,
schedule and clipping, and validates on the same batches and saves a checkpoint at the same steps.
Then the real config minus one piece at a time says what each piece costs. MFU against a matmul peak.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader

from ..models import GPT, GPTConfig
from ..training.datamodule import FixedWindows, RandomWindows
from ..training.fit import model_config_for, plain, train
from ..training.schedule import warmup_cosine
from ..utils.paths import CONFIG_DIR, register_resolvers

# Timed steps and batch size of each model preset: a few minutes for the whole suite on one thread
# of a shared CPU; `--ablate tiny` adds 9 runs per round (about 9 minutes with 3 rounds).
# tiny runs experiment=smoke's own cadence (one validation of 10 batches
# and one checkpoint in 50 steps); shorter runs validate once, on proportionally fewer batches.
TRAIN_PRESETS = {"small": {"steps": 10, "batch_size": 8}, "tiny": {"steps": 50, "batch_size": 16}}
SEED = 1337
# What train builds, one piece at a time: the Hydra overrides that remove it.
WITHOUT = {
    "model_checkpoint": ["~callbacks.model_checkpoint", "++trainer.enable_checkpointing=false"],
    "logger": ["~logger", "~callbacks.lr_monitor"],  # LearningRateMonitor refuses to run without a logger
    "lr_monitor": ["~callbacks.lr_monitor"],
    "throughput": ["~callbacks.throughput"],
    "early_stopping": ["~callbacks.early_stopping"],
    "progress_bar": ["++trainer.enable_progress_bar=false"],
    "grad_norm": ["~callbacks.grad_norm"],
    "alerts": ["~callbacks.alerts"],
}
# Plus "validation": validating (and the checkpoint saved after it) only once the timed steps are over.
PIECES = ("validation", *WITHOUT)


def compose_train(overrides: list[str]) -> DictConfig:
    """The config `python -m <package>.train OVERRIDES` runs."""
    register_resolvers()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def matmul_peak_flops(n: int = 2048, tries: int = 10) -> float:
    """FLOP/s of the fastest of `tries` fp32 (n x n) @ (n x n) products on the CPU at the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up: allocation, thread pool
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


class StepClock(L.Callback):
    """perf_counter at the end of every training step, data loading included; `step_seconds` of the timed ones.

    On CUDA it synchronises only after the last warm-up step and the last step, so the GPU keeps running
    ahead of Python as in real training: there only the sum of the step times is exact.
    """

    def __init__(self, warmup: int, total: int, device: torch.device | str):
        self.warmup, self.total, self.device = warmup, total, torch.device(device)
        self.ends: list[float] = []

    def tick(self, step: int) -> None:
        if self.device.type == "cuda" and step in (self.warmup - 1, self.total - 1):
            torch.cuda.synchronize(self.device)
        self.ends.append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.tick(batch_idx)

    def step_seconds(self) -> list[float]:
        ends = self.ends[self.warmup - 1 :]
        return [end - start for start, end in zip(ends, ends[1:], strict=False)]


# The clock of each Lightning run, by run name: train() builds its callbacks from the config.
CLOCKS: dict[str, StepClock] = {}


def registered_clock(name: str, warmup: int, total: int, device: str) -> StepClock:
    """A StepClock for `callbacks.bench_clock`, kept in CLOCKS so that the bench reads it after the run."""
    CLOCKS[name] = StepClock(warmup, total, device)
    return CLOCKS[name]


def train_steps(run: dict, name: str, without: list[str]) -> list[float]:
    """Seconds of each timed step of the train stage's `train(cfg)` on the run's config minus `without`."""
    cfg = compose_train([*run["overrides"], f"paths.output_dir={run['work'] / 'runs' / name}", *without])
    clock = {"_target_": f"{__name__}.registered_clock", "name": name, "warmup": run["warmup"]}
    with open_dict(cfg):
        if cfg.get("callbacks") is None:
            cfg.callbacks = {}
        cfg.callbacks.bench_clock = {**clock, "total": run["total"], "device": run["device"].type}
    with contextlib.redirect_stdout(sys.stderr):  # the model summary: stdout is the results' JSON
        train(cfg)
    return CLOCKS.pop(name).step_seconds()


def plain_steps(run: dict, name: str) -> list[float]:
    """Seconds of each timed step of the same training in a plain PyTorch loop that validates and checkpoints."""
    device, optimizer_cfg = run["device"], run["optimizer"]
    torch.manual_seed(SEED)
    model = GPT(GPTConfig(**run["model"])).to(device)
    if run["compile"]:
        model.compile()
    model.train()
    optimizer = model.configure_optimizers(
        weight_decay=optimizer_cfg["weight_decay"],
        learning_rate=optimizer_cfg["lr"],
        betas=tuple(optimizer_cfg["betas"]),
        device_type=device.type,
    )
    scheduler = LambdaLR(optimizer, partial(warmup_cosine, **run["scheduler"]))
    autocast = partial(torch.autocast, device.type, dtype=torch.bfloat16) if run["bf16"] else contextlib.nullcontext
    checkpoint = run["work"] / "runs" / name / "last.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    clock = StepClock(run["warmup"], run["total"], device)
    for step, (x, y) in enumerate(window_loader(run, "train")):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast():
            loss = model(x, y)[1]  # as GPTLitModule.training_step: the logits are not kept alive
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run["gradient_clip_val"])
        optimizer.step()
        scheduler.step()
        clock.tick(step)
        if (step + 1) % run["val_every"] == 0:  # as Lightning: after the step's end, so in the next step's time
            model.eval()
            with torch.no_grad(), autocast():
                losses = [model(x.to(device), y.to(device))[1] for x, y in window_loader(run, "val")]
            float(torch.stack(losses).mean())
            model.train()
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step + 1}
            torch.save(state, checkpoint)
    return clock.step_seconds()


def window_loader(run: dict, split: str) -> Iterable:
    """The train stage's windows (PackedDataModule's datasets), loaded in the main process.

    train: the same seeded windows in the same order as the Lightning side; val: its first batches.
    """
    path, block_size, batch_size = run["data"] / f"{split}.bin", run["model"]["block_size"], run["batch_size"]
    if split == "train":
        dataset = RandomWindows(path, "uint16", block_size, SEED, num_samples=batch_size * run["total"])
    else:
        dataset = FixedWindows(path, "uint16", block_size)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=0, pin_memory=run["device"].type == "cuda")
    return loader if split == "train" else itertools.islice(loader, run["val_batches"])


def fastest(runs: list[list[float]], per_step: bool) -> float:
    """Seconds of the timed steps, as little disturbed by other load as the runs allow.

    On the CPU, where every step's time is exact, each step's fastest run counts; on CUDA the fastest run.
    """
    if per_step:
        return sum(min(times) for times in zip(*runs, strict=True))
    return min(sum(times) for times in runs)


@contextlib.contextmanager
def quiet_lightning():
    """No Trainer banners ("GPU available: ...") and no warnings about this deliberately lean setup."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(many workers|val_dataloader|logging interval).*")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def write_tokens(data: Path, vocab_size: int) -> None:
    """Random tokens as `prepare` lays them out (train/val/test.bin and meta.json), so train() reads them as it is."""
    data.mkdir(parents=True)
    rng, tokens = np.random.default_rng(SEED), {"train": 2_000_000, "val": 200_000, "test": 200_000}
    for split, count in tokens.items():
        rng.integers(0, vocab_size, count, dtype=np.uint16).tofile(data / f"{split}.bin")
    meta = {"dtype": "uint16", "vocab_size": vocab_size, "tokens": tokens}
    (data / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def bench_train(args: argparse.Namespace, work: Path) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda needs a CUDA GPU and none is visible: use --device cpu")
    torch.set_num_threads(args.threads)
    write_tokens(work / "data", args.vocab_size)
    results = {"device": device.type, "compile": args.compile, "threads": args.threads}
    results.update(repeats=args.repeats, warmup_steps=args.warmup, ablate=args.ablate)
    if device.type == "cuda":
        peak = args.peak_tflops * 1e12
        results["peak_tflops"] = args.peak_tflops
    else:
        peak = matmul_peak_flops()
        results["matmul_peak_gflops"] = round(peak / 1e9, 1)
    with quiet_lightning():
        for preset in args.presets:
            run = preset_run(preset, args, device, work)
            results[f"{preset}_precision"] = run["precision"]
            results.update(bench_preset(preset, run, args.repeats, preset in args.ablate, peak))
    return results


def preset_run(preset: str, args: argparse.Namespace, device: torch.device, work: Path) -> dict:
    """The config of one preset as `python -m <package>.train experiment=smoke model=<preset>` runs it, shortened."""
    steps = args.steps or TRAIN_PRESETS[preset]["steps"]
    batch_size = args.batch_size or TRAIN_PRESETS[preset]["batch_size"]
    total = args.warmup + steps
    overrides = [
        "experiment=smoke",
        f"model={preset}",
        f"trainer={'gpu' if device.type == 'cuda' else 'cpu'}",
        f"paths.processed_dir={work / 'data'}",
        f"trainer.max_steps={total}",
        f"datamodule.batch_size={batch_size}",
        f"compile={args.compile}",
        "test=false",
        *([f"model.block_size={args.block_size}"] if args.block_size else []),
    ]
    cfg = compose_train(overrides)
    # Validate at the config's cadence; a run shorter than its interval validates once, on proportionally fewer batches.
    val_every, val_batches = cfg.trainer.val_check_interval, cfg.trainer.limit_val_batches
    if steps < val_every:
        val_every, val_batches = steps, max(1, round(val_batches * steps / val_every))
    overrides += [f"trainer.val_check_interval={val_every}", f"trainer.limit_val_batches={val_batches}"]
    return {
        "overrides": overrides,
        "work": work,
        "data": work / "data",
        "model": model_config_for(cfg.model, args.vocab_size),
        "optimizer": plain(cfg.optimizer),
        "scheduler": {**plain(cfg.scheduler), "max_steps": total},
        "gradient_clip_val": cfg.trainer.gradient_clip_val,
        "precision": str(cfg.trainer.precision),
        "bf16": str(cfg.trainer.precision).startswith("bf16"),
        "batch_size": batch_size,
        "steps": steps,
        "warmup": args.warmup,
        "total": total,
        "val_every": val_every,
        "val_batches": val_batches,
        "device": device,
        "compile": args.compile,
    }


def bench_preset(preset: str, run: dict, repeats: int, ablate: bool, peak: float) -> dict:
    """Throughput and MFU of train and the plain loop, and each piece's cost; the keys start with the preset's name."""
    sides = ["train", "plain", *(f"without_{piece}" for piece in PIECES if ablate)]
    last_step = [f"trainer.val_check_interval={run['total']}"]  # validation only after the last timed step
    runs: dict[str, list[list[float]]] = {side: [] for side in sides}
    for repeat in range(repeats):  # interleaved rounds, alternating the order; every run does the same steps
        for side in sides[:: 1 if repeat % 2 == 0 else -1]:
            gc.collect()  # the last run's model and Trainer (reference cycles) are gone before this one starts
            name = f"{preset}-{side}-{repeat}"
            if side == "plain":
                runs[side].append(plain_steps(run, name))
            else:
                piece = side.removeprefix("without_")
                without = last_step if piece == "validation" else WITHOUT.get(piece, [])
                runs[side].append(train_steps(run, name, without))
    per_step = run["device"].type == "cpu"
    seconds = {side: fastest(times, per_step) for side, times in runs.items()}
    block_size, batch_size = run["model"]["block_size"], run["batch_size"]
    timed_tokens = run["steps"] * batch_size * block_size
    train_tps, plain_tps = timed_tokens / seconds["train"], timed_tokens / seconds["plain"]
    flops_per_token = GPT(GPTConfig(**run["model"])).flops_per_token()
    results = {
        f"{preset}_batch_size": batch_size,
        f"{preset}_block_size": block_size,
        f"{preset}_timed_steps": run["steps"],
        f"{preset}_val_every_n_steps": run["val_every"],
        f"{preset}_val_batches": run["val_batches"],
        f"{preset}_train_tokens_per_s": round(train_tps, 1),
        f"{preset}_plain_tokens_per_s": round(plain_tps, 1),
        f"{preset}_ratio": round(train_tps / plain_tps, 3),
        f"{preset}_train_overhead_ms_per_step": round((seconds["train"] - seconds["plain"]) / run["steps"] * 1000, 2),
        f"{preset}_mfu_train": round(train_tps * flops_per_token / peak, 4),
        f"{preset}_mfu_plain": round(plain_tps * flops_per_token / peak, 4),
    }
    for piece in PIECES if ablate else ():
        # tokens/s with the piece over tokens/s without it: 1.0 costs nothing, 0.95 costs 5%.
        results[f"{preset}_cost_{piece}"] = round(seconds[f"without_{piece}"] / seconds["train"], 3)
    return results
