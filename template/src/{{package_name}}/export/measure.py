"""What an export costs and gains: val perplexity and CPU generate latency of the fp32 and INT8 models."""

from __future__ import annotations

import gc
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..models import GPT


def val_tokens(data_dir: Path) -> np.memmap:
    """The prepared val split (read here rather than through the Lightning datamodule: export starts faster)."""
    meta_path = Path(data_dir) / "meta.json"
    if not meta_path.is_file():
        package = __package__.split(".")[0]
        raise UserError(f"no prepared data in {data_dir}: run `python -m {package}.prepare` or pass data_dir=...")
    dtype = json.loads(meta_path.read_text(encoding="utf-8"))["dtype"]
    return np.memmap(Path(data_dir) / "val.bin", dtype=dtype, mode="r")


@torch.no_grad()
def val_perplexity(model: GPT, data_dir: Path, max_batches: int | None, batch_size: int) -> float:
    """exp(mean loss) over consecutive context-length windows from the start of the val split."""
    tokens, block = val_tokens(data_dir), model.config.block_size
    count = (len(tokens) - 1) // block
    if count == 0:
        raise UserError(f"the val split in {data_dir} is shorter than the model's context ({block} tokens)")
    if max_batches is not None:
        count = min(count, max_batches * batch_size)
    windows = torch.from_numpy(tokens[: count * block + 1].astype(np.int64))
    total = 0.0
    for start in range(0, count, batch_size):
        rows = range(start, min(start + batch_size, count))
        x = torch.stack([windows[i * block : (i + 1) * block] for i in rows])
        y = torch.stack([windows[i * block + 1 : (i + 1) * block + 1] for i in rows])
        total += model(x, y)[1].item() * len(rows)
    return math.exp(total / count)


def val_prompt(data_dir: Path, length: int) -> torch.Tensor:
    """The first `length` tokens of the val split, as a (1, length) batch: real text, the same for every model."""
    return torch.from_numpy(val_tokens(data_dir)[:length].astype(np.int64))[None]


@torch.no_grad()
def generate_latency(models: dict[str, GPT], prompt: torch.Tensor, new_tokens: int, repeats: int) -> dict[str, float]:
    """Seconds of greedy `generate` (KV cache) per model, runs interleaved, the fastest of `repeats` counting.

    Interleaving spreads other load on a shared machine over all models alike.
    """
    for model in models.values():  # warm-up: allocator, oneDNN kernels
        model.generate(prompt, min(new_tokens, 2), temperature=0)
    best = dict.fromkeys(models, math.inf)
    for _ in range(repeats):
        for name, model in models.items():
            gc.collect()
            start = time.perf_counter()
            model.generate(prompt, new_tokens, temperature=0)
            best[name] = min(best[name], time.perf_counter() - start)
    return best
