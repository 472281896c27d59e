"""The `data` suite: tokenize-and-pack throughput against a per-document loop, and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import datasets
import numpy as np
import psutil
from omegaconf import OmegaConf

from ..data.corpus import corpus_text, documents
from ..data.packing import write_tokens
from ..data.pipeline import packed_batches, tokenize_split
from ..data.tokenizer import eot_id, train_tokenizer
from ..utils.paths import PACKAGE


def baseline_tokenize(docs: list[str], tokenizer, path: Path) -> int:
    """The naive way: one process, one `encode` call per document, one array at the end."""
    eot, ids = eot_id(tokenizer), []
    for doc in docs:
        ids.extend(tokenizer.encode(doc).ids)
        ids.append(eot)
    np.array(ids, dtype=np.uint16).tofile(path)
    return len(ids)


def pipeline_tokenize(table: datasets.Dataset, tokenizer, path: Path, num_proc: int) -> int:
    """The prepare stage's own tokenize-and-pack step, on an Arrow table on disk as in prepare."""
    data = OmegaConf.create({"num_proc": num_proc, "batch_size": 1000})
    encoded = tokenize_split(table, tokenizer, data, np.dtype(np.uint16))
    return write_tokens(packed_batches(encoded, 1000), path, np.dtype(np.uint16))


def on_disk(docs: list[str], folder: Path) -> datasets.Dataset:
    datasets.Dataset.from_dict({"text": docs}).save_to_disk(str(folder))
    return datasets.load_from_disk(str(folder))


def timed(fn, *args) -> tuple[int, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def peak_rss_of(command: list[str], env: dict) -> tuple[int, float]:
    """Run `command`; return its peak RSS summed over the process tree (bytes) and seconds."""
    start = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return peak, time.perf_counter() - start


def bench_data(num_proc: int, scale: int, repeats: int, work: Path) -> dict:
    datasets.disable_progress_bars()
    docs = documents(num_documents=6000 * scale, seed=99)
    tokenizer = train_tokenizer(iter([docs[:6000]]), vocab_size=2048, min_frequency=2)
    table = on_disk(docs, work / "docs")
    # Interleave the two sides and keep each one's fastest run: the least disturbed by other load.
    base_s = pipe_s = float("inf")
    for _ in range(repeats):
        base_tokens, seconds = timed(baseline_tokenize, docs, tokenizer, work / "baseline.bin")
        base_s = min(base_s, seconds)
        pipe_tokens, seconds = timed(pipeline_tokenize, table, tokenizer, work / "pipeline.bin", num_proc)
        pipe_s = min(pipe_s, seconds)
    assert base_tokens == pipe_tokens, "the pipeline must produce exactly the baseline's tokens"
    assert (work / "baseline.bin").read_bytes() == (work / "pipeline.bin").read_bytes()

    rss = {}
    for factor in (1, 4):
        corpus = work / f"corpus_x{factor}" / "corpus.txt"
        corpus.parent.mkdir()
        corpus.write_text(corpus_text(num_documents=6000 * factor, seed=7), encoding="utf-8")
        command = [sys.executable, "-m", f"{PACKAGE}.prepare", f"data.source={corpus}", f"data.num_proc={num_proc}"]
        env = {**os.environ, "PROJECT_ROOT": str(work / f"root_x{factor}")}
        rss[factor], _ = peak_rss_of(command, env)
    return {
        "documents": len(docs),
        "tokens": base_tokens,
        "num_proc": num_proc,
        "repeats": repeats,
        "baseline_tokens_per_s": round(base_tokens / base_s),
        "pipeline_tokens_per_s": round(pipe_tokens / pipe_s),
        "throughput_ratio": round(base_s / pipe_s, 2),
        "peak_rss_mb_x1": round(rss[1] / 2**20, 1),
        "peak_rss_mb_x4": round(rss[4] / 2**20, 1),
        "peak_rss_ratio_x4": round(rss[4] / rss[1], 3),
    }
