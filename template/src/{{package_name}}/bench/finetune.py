"""The `finetune` suite: LoRA against full fine-tuning of the same model on the same batches.

Both sides start from the same seeded Llama-shaped GPT and train on the same random-token batches
with AdamW (GPT.configure_optimizers: LoRA's optimizer holds the adapter only). Each run is its own
process (`python -m <package>.bench.finetune SIDE SETTINGS`), so that its memory is its own:
- memory: what training adds to the process, peak RSS minus the RSS before the model is built
  (weights, gradients, optimizer state, activations; the interpreter and libraries left out); on
  CUDA, torch's peak allocated bytes;
- tokens/s over the steps after the warm-up.
The sides alternate `--repeats` times; the least memory and the most tokens/s of each count.
Goals: LoRA/full memory <= 0.6, tokens/s >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import psutil
import torch

from ..models import GPT, GPTConfig
from ..training.finetune import add_adapter, trainable_params

# Fine-tuning's regime: weights, gradients and optimizer state, not activations, fill the memory (a 50 M
# model, 2 sequences a step); 1-2 s a step on one CPU thread.
SHAPE: dict[str, Any] = dict(n_layer=8, n_head=12, n_kv_head=4, n_embd=768, bias=False)
SHAPE |= dict(norm="rmsnorm", mlp="swiglu", position="rope")  # Llama's blocks
LORA = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["c_attn", "c_proj", "c_fc"]}
DEFAULTS = {"steps": 8, "batch_size": 2, "block_size": 128}


def bench_finetune(args: argparse.Namespace) -> dict:
    settings = {
        "steps": args.steps or DEFAULTS["steps"],
        "warmup": args.warmup,
        "batch_size": args.batch_size or DEFAULTS["batch_size"],
        "block_size": args.block_size or DEFAULTS["block_size"],
        "vocab_size": args.vocab_size,
        "threads": args.threads,
        "device": args.device,
    }
    runs: dict[str, list[dict]] = {"full": [], "lora": []}
    for _ in range(args.repeats):
        for side in runs:
            runs[side].append(run_side(side, settings))
    best = {
        side: {"memory": min(r["memory"] for r in results), "tokens_per_s": max(r["tokens_per_s"] for r in results)}
        for side, results in runs.items()
    }
    full, lora = best["full"], best["lora"]
    return {
        **settings,
        "repeats": args.repeats,
        "memory_measure": "torch peak allocated" if args.device == "cuda" else "peak RSS minus RSS before the model",
        "num_params": runs["full"][0]["num_params"],
        "lora_trainable_params": runs["lora"][0]["trainable_params"],
        "full_memory_mb": round(full["memory"] / 2**20, 1),
        "lora_memory_mb": round(lora["memory"] / 2**20, 1),
        "full_tokens_per_s": round(full["tokens_per_s"], 1),
        "lora_tokens_per_s": round(lora["tokens_per_s"], 1),
        "lora_full_memory_ratio": round(lora["memory"] / full["memory"], 3),
        "lora_full_tokens_per_s_ratio": round(lora["tokens_per_s"] / full["tokens_per_s"], 3),
    }


def run_side(side: str, settings: dict) -> dict:
    command = [sys.executable, "-m", __name__, side, json.dumps(settings)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {side} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(side: str, settings: dict) -> dict:
    """One side's run in this process: build, train `warmup + steps` steps, report memory and tokens/s."""
    torch.set_num_threads(settings["threads"])
    device = torch.device(settings["device"])
    import peft  # noqa: F401  (imported by both sides before measuring: libraries are not training memory)

    rss_before = psutil.Process().memory_info().rss
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=settings["vocab_size"], block_size=settings["block_size"], **SHAPE)
    model = GPT(config).to(device)
    if side == "lora":
        add_adapter(model, LORA)
    optimizer = model.configure_optimizers(
        weight_decay=0.0, learning_rate=1e-4, betas=(0.9, 0.95), device_type=device.type
    )
    generator = torch.Generator().manual_seed(1)
    shape = (settings["batch_size"], settings["block_size"] + 1)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    start = 0.0
    for step in range(settings["warmup"] + settings["steps"]):
        if step == settings["warmup"]:
            synchronize(device)
            start = time.perf_counter()
        tokens = torch.randint(0, settings["vocab_size"], shape, generator=generator).to(device)
        with autocast:
            loss = model(tokens[:, :-1], tokens[:, 1:].contiguous())[1]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        memory = torch.cuda.max_memory_allocated(device)
    else:  # ru_maxrss: KiB on Linux, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        memory = peak - rss_before
    return {
        "memory": memory,
        "tokens_per_s": settings["steps"] * shape[0] * settings["block_size"] / seconds,
        "num_params": sum(p.numel() for p in model.parameters()),
        "trainable_params": trainable_params(model),
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], json.loads(sys.argv[2]))))
