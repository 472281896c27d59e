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
from ..inference import Engine, SamplingParams
from ..models import GPT
from ..utils.paths import PACKAGE


def val_meta(data_dir: Path) -> dict:
    """meta.json of the prepared data (read here rather than through the Lightning datamodule: export starts faster)."""
    meta_path = Path(data_dir) / "meta.json"
    if not meta_path.is_file():
        raise UserError(f"no prepared data in {data_dir}: run `python -m {PACKAGE}.prepare` or pass data_dir=...")
    return json.loads(meta_path.read_text(encoding="utf-8"))


def val_tokens(data_dir: Path) -> np.ndarray:
    """The val split's tokens: one stream for packed text, rows of row_tokens for chat data."""
    meta = val_meta(data_dir)
    tokens = np.memmap(Path(data_dir) / "val.bin", dtype=meta["dtype"], mode="r")
    return tokens.reshape(-1, meta["row_tokens"]) if meta.get("format") == "chat_padded" else tokens


@torch.no_grad()
def val_perplexity(model: GPT, data_dir: Path, max_batches: int | None, batch_size: int) -> float:
    """exp(mean loss) over consecutive context-length windows from the start of the val split.

    Chat data: over the assistant tokens of its rows (one conversation each), as training measures it.
    """
    if val_meta(data_dir).get("format") == "chat_padded":
        return chat_perplexity(model, data_dir, max_batches, batch_size)
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


def chat_perplexity(model: GPT, data_dir: Path, max_batches: int | None, batch_size: int) -> float:
    ids = val_tokens(data_dir)
    mask = np.memmap(Path(data_dir) / "val.mask.bin", dtype=np.uint8, mode="r").reshape(ids.shape)
    length = min(model.config.block_size, ids.shape[1] - 1) + 1
    count = len(ids) if max_batches is None else min(len(ids), max_batches * batch_size)
    total, targets = 0.0, 0
    for start in range(0, count, batch_size):
        chunk = torch.from_numpy(ids[start : min(start + batch_size, count), :length].astype(np.int64))
        keep = torch.from_numpy(mask[start : min(start + batch_size, count), 1:length] == 1)
        y = chunk[:, 1:].masked_fill(~keep, -1)
        if keep.any():
            total += model(chunk[:, :-1], y)[1].item() * int(keep.sum())
            targets += int(keep.sum())
    if targets == 0:
        raise UserError(f"the val split in {data_dir} has no assistant tokens within {length - 1} tokens: prepare more")
    return math.exp(total / targets)


def val_prompt(data_dir: Path, length: int) -> torch.Tensor:
    """The first `length` tokens of the val split, as a (1, length) batch: real text, the same for every model."""
    tokens = val_tokens(data_dir)
    first = tokens[0] if tokens.ndim == 2 else tokens  # chat data: the first conversation
    return torch.from_numpy(first[:length].astype(np.int64))[None]


def generate_latency(models: dict[str, GPT], prompt: torch.Tensor, new_tokens: int, repeats: int) -> dict[str, float]:
    """Seconds of greedy decoding per model through the Engine the server runs, interleaved, the fastest of `repeats`.

    Interleaving spreads other load on a shared machine over all models alike.
    """
    engines = {name: Engine(model, None, None, max_rows=1) for name, model in models.items()}
    request = [(prompt[0].tolist(), SamplingParams(new_tokens, temperature=0))]
    warm_up = [(prompt[0].tolist(), SamplingParams(min(new_tokens, 2), temperature=0))]
    for engine in engines.values():  # allocator, oneDNN kernels, the cache's slots
        engine.run(warm_up)
    best = dict.fromkeys(models, math.inf)
    for _ in range(repeats):
        for name, engine in engines.items():
            gc.collect()
            start = time.perf_counter()
            engine.run(request)
            best[name] = min(best[name], time.perf_counter() - start)
    return best
