"""The `data` suite: the prepare stage against baselines run in this same script, on generated corpora.

- throughput: read the corpus and tokenize+pack it with the pipeline (datasets, `num_proc` workers)
  vs one process reading the same file with a per-document `encode` loop, and with one
  `tokenizer.encode_batch` call (the tokenizers library's own threads); reading is timed on every side;
- the cost of near-dup and quality rules: `prepare` with them / without them on the corpus x4;
- memory: the peak PSS of `prepare`'s process tree on the corpus x2 and x16, and its growth per corpus MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import datasets
import numpy as np
import psutil
from omegaconf import OmegaConf

from ..data.corpus import NUM_DOCUMENTS, corpus_text
from ..data.packing import write_tokens
from ..data.pipeline import packed_batches, tokenize_split
from ..data.sources import load_documents, resolve_source
from ..data.tokenizer import eot_id, train_tokenizer
from ..utils.paths import PACKAGE

GOALS = {"near_dup_quality_ratio": 1.5, "pss_anon_growth_per_corpus_mb": 1.0}  # upper bounds
WITHOUT_FILTERS = ("data.near_dup.enabled=false", "data.quality.enabled=false")
MB = 2**20


def bench_data(
    num_proc: int,
    scale: float,
    repeats: int,
    work: Path,
    ratio_scale: float = 4,
    memory_scales: tuple[float, float] = (2, 16),
) -> dict:
    """Every scale is a multiple of the built-in corpus (6000 documents)."""
    datasets.disable_progress_bars()
    results: dict = {"num_proc": num_proc, "repeats": repeats, "goals": GOALS}
    results.update(throughput(num_proc, scale, repeats, work / "throughput"))
    results.update(filter_cost(num_proc, ratio_scale, repeats, work / "ratio"))
    results.update(memory_growth(num_proc, memory_scales, work / "memory"))
    for key, goal in GOALS.items():
        if results.get(key) is not None:
            results[f"{key}_goal_met"] = results[key] <= goal
    return results


def write_corpus(scale: float, folder: Path, seed: int = 7) -> Path:
    path = folder / f"corpus_x{scale:g}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(corpus_text(num_documents=round(NUM_DOCUMENTS * scale), seed=seed), encoding="utf-8")
    return path


def read_documents(corpus: Path) -> list[str]:
    """The corpus file's documents as prepare's loader splits them (`data.sample_by=paragraph`)."""
    return [doc for doc in corpus.read_text(encoding="utf-8").split("\n\n") if doc]


def loop_tokenize(corpus: Path, tokenizer, path: Path) -> int:
    """The naive way: one process, one `encode` call per document, one array at the end."""
    eot, ids = eot_id(tokenizer), []
    for doc in read_documents(corpus):
        ids.extend(tokenizer.encode(doc).ids)
        ids.append(eot)
    np.array(ids, dtype=np.uint16).tofile(path)
    return len(ids)


def batch_tokenize(corpus: Path, tokenizer, path: Path) -> int:
    """The one-liner: one `encode_batch` call over every document (the library's threads on all cores)."""
    eot = eot_id(tokenizer)
    encodings = tokenizer.encode_batch(read_documents(corpus))
    ids = np.fromiter(chain.from_iterable([*encoding.ids, eot] for encoding in encodings), dtype=np.uint16)
    ids.tofile(path)
    return ids.size


def pipeline_tokenize(corpus: Path, tokenizer, path: Path, num_proc: int, cache_dir: Path) -> int:
    """prepare's own loading and tokenize-and-pack steps: the corpus into Arrow files on disk, then packed."""
    shutil.rmtree(cache_dir, ignore_errors=True)  # a fresh cache: the load is done, not reused
    table = load_documents(resolve_source(str(corpus), cache_dir), "text", "paragraph", "train", cache_dir)
    data = OmegaConf.create({"num_proc": num_proc, "batch_size": 1000})
    with parallelism_kept():
        encoded = tokenize_split(table, tokenizer, data, np.dtype(np.uint16))
    return write_tokens(packed_batches(encoded, 1000), path, np.dtype(np.uint16))


@contextmanager
def parallelism_kept() -> Iterator[None]:
    """tokenize_split turns the tokenizers library's threads off for its workers; the batch baseline needs them."""
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = before


def timed(fn: Callable[..., int], *args) -> tuple[int, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def throughput(num_proc: int, scale: float, repeats: int, work: Path) -> dict:
    corpus = write_corpus(scale, work, seed=99)
    tokenizer = train_tokenizer(iter([read_documents(corpus)[:NUM_DOCUMENTS]]), vocab_size=2048, min_frequency=2)
    sides: dict[str, Callable[[Path], int]] = {
        "loop": lambda out: loop_tokenize(corpus, tokenizer, out),
        "batch": lambda out: batch_tokenize(corpus, tokenizer, out),
        "pipeline": lambda out: pipeline_tokenize(corpus, tokenizer, out, num_proc, work / "cache"),
    }
    # Interleave the sides and keep each one's fastest run: the least disturbed by other load.
    best, tokens = dict.fromkeys(sides, float("inf")), {}
    for _ in range(repeats):
        for name, run in sides.items():
            tokens[name], seconds = timed(run, work / f"{name}.bin")
            best[name] = min(best[name], seconds)
    outputs = {(work / f"{name}.bin").read_bytes() for name in sides}
    assert len(outputs) == 1, "the pipeline and both baselines must write exactly the same tokens"
    count = tokens["pipeline"]
    return {
        "documents": len(read_documents(corpus)),
        "tokens": count,
        "baseline_tokens_per_s": round(count / best["loop"]),
        "batch_tokens_per_s": round(count / best["batch"]),
        "pipeline_tokens_per_s": round(count / best["pipeline"]),
        "throughput_ratio": round(best["loop"] / best["pipeline"], 2),
        "throughput_ratio_batch": round(best["batch"] / best["pipeline"], 2),
    }


def prepare_command(corpus: Path, num_proc: int, *overrides: str) -> list[str]:
    source, workers = f"data.source={corpus}", f"data.num_proc={num_proc}"
    return [sys.executable, "-m", f"{PACKAGE}.prepare", source, workers, *overrides]


def run_prepare(command: list[str], root: Path, on_start: Callable[[psutil.Popen], None] | None = None) -> dict:
    """Run `prepare` in a fresh project root; return its summary (its `seconds`: the stage's own time)."""
    shutil.rmtree(root, ignore_errors=True)
    env = {**os.environ, "PROJECT_ROOT": str(root)}
    process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if on_start:
        on_start(process)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return json.loads(Path(stdout.decode().strip().splitlines()[-1]).read_text(encoding="utf-8"))


def filter_cost(num_proc: int, scale: float, repeats: int, work: Path) -> dict:
    """`prepare` with near-dup and quality rules / without them, interleaved, the fastest of each counting.

    Both sides are the whole stage as users run it (loading and hashing the input included), timed by
    the stage itself, so interpreter start-up and imports, the same on both sides, do not dilute the ratio.
    """
    corpus = write_corpus(scale, work)
    best = {"with": float("inf"), "without": float("inf")}
    for _ in range(repeats):
        for name, overrides in (("with", ()), ("without", WITHOUT_FILTERS)):
            summary = run_prepare(prepare_command(corpus, num_proc, *overrides), work / f"root_{name}")
            best[name] = min(best[name], summary["seconds"])
    return {
        "ratio_scale": scale,
        "prepare_s_with_filters": round(best["with"], 2),
        "prepare_s_without_filters": round(best["without"], 2),
        "near_dup_quality_ratio": round(best["with"] / best["without"], 3),
    }


def memory_growth(num_proc: int, scales: tuple[float, float], work: Path) -> dict:
    """Peak PSS of `prepare`'s process tree (default settings) on two corpus sizes, and its growth per corpus MB.

    PSS shares each page among the processes mapping it, so the tree's sum counts every page once (summed
    RSS counts the memory-mapped Arrow files and the workers' copy-on-write pages once per process). The
    anonymous part is the memory the stage needs; the rest are clean pages of the Arrow files it has read,
    page cache that the kernel drops without I/O when memory is short. The goal is on the anonymous part.
    """
    if not Path("/proc/self/smaps_rollup").is_file():
        return {"memory": "not measured: needs Linux (/proc/<pid>/smaps_rollup)"}
    corpus_mb: list[float] = []
    pss: list[int] = []
    anon: list[int | None] = []
    for scale in scales:
        corpus = write_corpus(scale, work)
        peak = PeakPss()
        run_prepare(prepare_command(corpus, num_proc), work / f"root_x{scale:g}", on_start=peak.start)
        peak.stop()
        corpus_mb.append(corpus.stat().st_size / MB)
        pss.append(peak.pss)
        anon.append(peak.anon)

    def growth(values: list[int]) -> float:
        return round((values[1] - values[0]) / MB / (corpus_mb[1] - corpus_mb[0]), 3)

    results = {
        "memory_scales": list(scales),
        "corpus_mb": [round(value, 2) for value in corpus_mb],
        "peak_pss_mb": [round(value / MB, 1) for value in pss],
        "pss_growth_per_corpus_mb": growth(pss),
    }
    known = [value for value in anon if value is not None]
    if len(known) == len(anon):  # kernels before 5.5 have no Pss_Anon
        results["peak_pss_anon_mb"] = [round(value / MB, 1) for value in known]
        results["pss_anon_growth_per_corpus_mb"] = growth(known)
    return results


class PeakPss:
    """Samples a process and its children every 20 ms; keeps the peak of their summed PSS (bytes), and of its
    anonymous part, each summed over the processes alive at the same instant."""

    def __init__(self) -> None:
        self.pss = 0
        self.anon: int | None = 0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, process: psutil.Process) -> None:
        self._thread = threading.Thread(target=self._sample, args=(process,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread:
            self._thread.join()

    def _sample(self, process: psutil.Process) -> None:
        while not self._done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
            except psutil.Error:  # the stage has exited
                tree = []
            pss, anon = 0, 0
            for member in tree:
                rollup = smaps_rollup(member.pid)
                pss += rollup.get("Pss", 0)
                anon += rollup.get("Pss_Anon", 0)
                if rollup and "Pss_Anon" not in rollup:
                    self.anon = None
            self.pss = max(self.pss, pss)
            if self.anon is not None:
                self.anon = max(self.anon, anon)
            time.sleep(0.02)


def smaps_rollup(pid: int) -> dict[str, int]:
    """The memory totals of one process in bytes ({} once it has exited)."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    values[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return values
