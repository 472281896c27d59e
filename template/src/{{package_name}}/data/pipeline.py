"""The prepare stage: sources -> clean -> quality rules -> exact dedup -> near-dup -> split ->
tokenizer -> packed token files (sampled to the mixture's weights) -> meta.json and quality report.

Every step streams through HF `datasets` (Arrow files on disk), so memory does not grow with
the corpus. The document steps run in this process with `data.num_proc` workers, or on datatrove's
executors (`data.executor.kind=datatrove|slurm`) with the same result. All outputs are built in a
staging directory that replaces `data.out_dir` only when every step has succeeded.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow.compute as pc
from omegaconf import DictConfig, OmegaConf

from ..errors import DataError
from ..utils.atomic import atomic_directory
from ..utils.progress import progress_bar
from .chat_pipeline import prepare_chat_data
from .cleaning import describe_reasons
from .dedup import first_occurrences
from .distributed import executor_settings, run_document_steps
from .documents import judge, keys
from .meta import build_meta
from .mixture import MixtureSource, check_distinct, document_priority, mixture_sources, select_mixture
from .neardup import describe, near_dup_settings, near_duplicates
from .packing import choose_dtype, encode_batch, write_tokens
from .quality import QUALITY_RULES, quality_settings
from .report import collect_stats, write_report
from .sources import Source, hash_files, load_documents, resolve_source
from .splitting import SPLITS, check_fractions
from .tokenizer import eot_id, load_tokenizer, train_tokenizer

log = logging.getLogger(__name__)


def prepare_data(cfg: DictConfig) -> dict:
    """Run the whole data pipeline described by `cfg.data`; return the stage summary.

    Chat data (`data=chat`, whose config says `kind: chat`) goes through `chat_pipeline` instead.
    """
    if cfg.data.get("kind") == "chat":
        return prepare_chat_data(cfg)
    data = cfg.data
    check_settings(data)
    started = time.perf_counter()
    mixture = mixture_sources(data.source, plain(data.sources) if data.get("sources") is not None else None)
    sources = [resolve_source(entry.path, Path(cfg.paths.raw_dir)) for entry in mixture]
    check_distinct(mixture, [source.files for source in sources])  # review fix: one file read by two sources
    out_dir = Path(data.out_dir)
    datasets.disable_progress_bars()
    log.info("Preparing %s into %s", "; ".join(source.describe() for source in sources), out_dir)

    with progress_bar() as progress, atomic_directory(out_dir) as staging:
        cache_dir = staging / ".cache"
        step = progress.add_task("Hashing inputs", total=sum(len(source.files) for source in sources) or 1)
        input_hashes = [hash_files(source) if source.files else {} for source in sources]
        progress.update(step, completed=sum(len(source.files) for source in sources) or 1)

        step = progress.add_task("Cleaning and quality rules", total=None)
        cleaned, drops, per_source_input = clean_documents(sources, data, cache_dir)
        progress.update(step, total=sum(per_source_input), completed=sum(per_source_input))

        step = progress.add_task("Removing duplicates and near-duplicates", total=None)
        splits, counts, near_dup = dedup_split(cleaned, drops, data, cache_dir)
        progress.update(step, total=1, completed=1)

        step = progress.add_task("Training tokenizer", total=None)
        tokenizer = obtain_tokenizer(splits["train"], data)
        vocab_size = tokenizer.get_vocab_size()
        dtype = choose_dtype(vocab_size, data.dtype)
        tokenizer.save(str(staging / "tokenizer.json"))
        progress.update(step, total=1, completed=1)

        tokens, mixed, token_counts = {}, {}, {}
        for name in SPLITS:
            step = progress.add_task(f"Tokenizing {name}", total=None)
            encoded = tokenize_split(splits[name], tokenizer, data, dtype)
            encoded, splits[name], mixed[name] = mix_split(encoded, splits[name], mixture, data.split.seed)
            token_counts[name] = column(encoded, "num_tokens")
            progress.update(step, total=int(token_counts[name].sum()))
            tokens[name] = write_tokens(
                packed_batches(encoded, data.batch_size),
                staging / f"{name}.bin",
                dtype,
                on_batch=partial(progress.advance, step),
            )
        check_token_counts(tokens, data.block_size)

        step = progress.add_task("Collecting statistics", total=None)
        stats = collect_stats(
            datasets.concatenate_datasets([splits[name] for name in SPLITS]),
            (token_counts[name] for name in SPLITS),
            num_sources=len(sources),
            batch_size=data.batch_size,
        )
        progress.update(step, total=1, completed=1)

        shutil.rmtree(cache_dir, ignore_errors=True)
        facts = {
            "format": "packed",
            "dtype": dtype.name,
            "vocab_size": vocab_size,
            "eot_token_id": eot_id(tokenizer),
            "tokens": tokens,
            "documents": counts,
            "quality": drops["rules"],
            "near_dup": near_dup,
            "mixture": mixture_facts(mixture, per_source_input, mixed),
            "quality_report": stats,
        }
        meta = build_meta(sources, mixture, input_hashes, data, staging, facts)
        meta_json = json.dumps(meta, indent=2, sort_keys=True) + "\n"
        (staging / "meta.json").write_text(meta_json, encoding="utf-8")
        report = write_report(staging, json.loads(meta_json)) if data.report else []  # from meta.json alone

    seconds = time.perf_counter() - started
    total_tokens = sum(tokens.values())
    log.info("Wrote %s tokens (%s) in %.1f s to %s", f"{total_tokens:,}", tokens, seconds, out_dir)
    return {
        "train_tokens": tokens["train"],
        "val_tokens": tokens["val"],
        "test_tokens": tokens["test"],
        "vocab_size": vocab_size,
        "dtype": dtype.name,
        "out_dir": str(out_dir),
        "documents": counts,
        "dataset_hash": meta["dataset_hash"],
        "report": str(out_dir / report[0].relative_to(staging)) if report else None,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(total_tokens / seconds, 1),
    }


def check_settings(data: DictConfig) -> None:
    """Refuse settings that cannot work before reading any data."""
    check_fractions(data.split.val_fraction, data.split.test_fraction)
    if data.tokenizer.path is None:
        choose_dtype(data.tokenizer.vocab_size, data.dtype)
    if data.num_proc < 1 or data.batch_size < 1:
        raise DataError(f"data.num_proc={data.num_proc} and data.batch_size={data.batch_size} must be at least 1")
    if data.block_size < 1:
        raise DataError(f"data.block_size={data.block_size} must be a positive context length, e.g. 256")
    if data.sample_by not in ("line", "paragraph", "document"):
        raise DataError(f"data.sample_by={data.sample_by} is not supported: use line, paragraph or document")
    if not 0 <= data.cleaning.min_chars <= data.cleaning.max_chars:
        raise DataError(
            f"data.cleaning.min_chars={data.cleaning.min_chars} and max_chars={data.cleaning.max_chars} "
            "must satisfy 0 <= min_chars <= max_chars"
        )
    quality_settings(_quality_config(data))
    executor_settings(data.executor)
    near_dup_settings(plain(data.near_dup))


def _quality_config(data: DictConfig) -> dict:
    return plain(data.quality)


def plain(node: Any) -> Any:
    """A config node as plain Python containers (what the data modules take)."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def clean_batch(batch: dict[str, list], cleaning: dict, quality, split: dict) -> dict[str, list]:
    """`datasets.map` function: each document cleaned, with why it is dropped ("" when kept), hash and split.

    Dropped documents stay as empty rows (their reason counted later), so the counts need no second pass.
    """
    rows: dict[str, list] = {"text": [], "source": batch["source"], "drop": [], "content_hash": [], "split": []}
    for raw in batch["text"]:
        text, reason = judge(raw or "", cleaning, quality)
        digest, home = keys(text, split) if not reason else ("", "")
        rows["text"].append("" if reason else text)
        rows["drop"].append(reason)
        rows["content_hash"].append(digest)
        rows["split"].append(home)
    return rows


def clean_documents(sources: list[Source], data: DictConfig, cache_dir: Path) -> tuple[datasets.Dataset, dict, list]:
    """Load and clean every source; return the table, drop counts and the documents read per source."""
    if data.executor.kind != "local":
        return distributed_documents(sources, data)
    tables = []
    for index, source in enumerate(sources):
        raw = load_documents(source, data.text_field, data.sample_by, data.hub_split, cache_dir / str(index))
        tables.append(raw.add_column("source", np.full(len(raw), index, dtype=np.int32)))
    raw = datasets.concatenate_datasets(tables) if len(tables) > 1 else tables[0]
    per_source_input = [len(table) for table in tables]
    if len(raw) == 0:
        raise DataError(f"data.source '{data.source}' holds no documents: point it at text")
    with frozen_heap():
        cleaned = raw.map(
            clean_batch,
            fn_kwargs={
                "cleaning": OmegaConf.to_container(data.cleaning),
                "quality": quality_settings(_quality_config(data)),
                "split": OmegaConf.to_container(data.split),
            },
            batched=True,
            batch_size=data.batch_size,
            num_proc=_num_proc(data, len(raw)),
            remove_columns=raw.column_names,
            load_from_cache_file=False,
            desc="Cleaning",
        )
    reasons = pc.value_counts(cleaned.data.column("drop")).to_pylist()
    counts = {row["values"]: row["counts"] for row in reasons}
    return cleaned, drop_counts(counts, len(raw), data), per_source_input


def distributed_documents(sources: list[Source], data: DictConfig) -> tuple[datasets.Dataset, dict, list]:
    """`clean_documents` on datatrove's executors: the same kept rows in the same order, and the same counts."""
    tables, reasons, per_source_input = [], Counter[str](), []
    for index, source in enumerate(sources):
        table, counts = run_document_steps(source, data, source_index=index)
        tables.append(table)
        reasons.update(counts["dropped"])
        per_source_input.append(counts["input"])
    table = datasets.concatenate_datasets(tables) if len(tables) > 1 else tables[0]
    return table, drop_counts(dict(reasons), sum(per_source_input), data), per_source_input


def drop_counts(reasons: dict[str, int], num_input: int, data: DictConfig) -> dict:
    """Documents dropped by cleaning ("empty", "short", "long") and by each quality rule (None: rule off)."""
    reasons = {reason: count for reason, count in reasons.items() if reason and count}
    length = sum(reasons.get(key, 0) for key in ("empty", "short", "long"))
    active = quality_settings(_quality_config(data)).names
    return {
        "input": num_input,
        "reasons": reasons,
        "cleaned": num_input - length,
        "quality_kept": num_input - sum(reasons.values()),
        "rules": {rule: reasons.get(rule, 0) if rule in active else None for rule in QUALITY_RULES},
    }


def dedup_split(
    cleaned: datasets.Dataset, drops: dict, data: DictConfig, cache_dir: Path
) -> tuple[dict[str, datasets.Dataset], dict, dict]:
    """Drop exact duplicates, then near-duplicates, and assign splits; return splits, counts and near-dup facts."""
    if drops["quality_kept"] == 0:
        raise DataError(nothing_kept_message(drops, data))
    # Dropped rows have no hash: first_occurrences skips them.
    hashes = (h for batch in cleaned.select_columns(["content_hash"]).iter(10_000) for h in batch["content_hash"])
    unique = cleaned.select(first_occurrences(hashes))
    removed_by_split = dict.fromkeys(SPLITS, 0)
    near_dup = {"enabled": bool(data.near_dup.enabled), "removed": 0, "removed_by_split": removed_by_split}
    kept = unique
    if data.near_dup.enabled:
        near_dup.update(describe(near_dup_settings(plain(data.near_dup))))
        dropped = near_duplicates(unique, plain(data.near_dup), plain(data.executor), cache_dir / "near_dup")
        if len(dropped):
            removed_splits = Counter(unique.select(dropped)["split"])
            near_dup["removed"] = int(len(dropped))
            removed_by_split.update(removed_splits)
            mask = np.ones(len(unique), dtype=bool)
            mask[dropped] = False
            kept = unique.select(np.flatnonzero(mask))
    splits = {
        name: kept.filter(lambda col, name=name: [s == name for s in col], input_columns="split", batched=True)
        for name in SPLITS
    }
    counts = {key: drops[key] for key in ("input", "cleaned", "quality_kept")}
    counts.update({"unique": len(unique), "near_unique": len(kept)})
    counts.update({name: len(split) for name, split in splits.items()})
    log.info("Documents: %s", counts)
    for name, split in splits.items():
        if len(split) == 0:
            # review fix: say when near-dup removal, not the corpus size, left too few documents
            removed = near_dup["removed"]
            near = f" ({removed} near-copies removed; data.near_dup.threshold)" if removed else ""
            raise DataError(
                f"the {name} split is empty: {counts['near_unique']} unique documents{near} are too few for "
                f"val_fraction={data.split.val_fraction} and test_fraction={data.split.test_fraction}; "
                "add more text or raise the fractions"
            )
    return splits, counts, near_dup


def nothing_kept_message(drops: dict, data: DictConfig) -> str:
    """The error when no document survives cleaning: how many were read and why each was dropped."""
    reasons = describe_reasons(drops["reasons"], data.cleaning.min_chars, data.cleaning.max_chars)
    return (
        f"cleaning dropped every document of data.source '{data.source}' ({drops['input']} read with "
        f"data.sample_by={data.sample_by}): {reasons}; fix the text, choose another data.sample_by, "
        "change data.cleaning.min_chars/max_chars or the data.quality rules"
    )


def column(table: datasets.Dataset, name: str) -> np.ndarray:
    """One numeric column as a numpy array (through the table's indices mapping, if any)."""
    return np.asarray(table.with_format("numpy", columns=[name])[name])


def mix_split(
    encoded: datasets.Dataset, split: datasets.Dataset, mixture: list[MixtureSource], seed: int
) -> tuple[datasets.Dataset, datasets.Dataset, dict]:
    """Sample one split to the mixture's token shares; return the encoded and text tables kept, and per-source facts."""
    source_ids, num_tokens = column(encoded, "source"), column(encoded, "num_tokens")
    weights = [entry.weight for entry in mixture]
    available = np.bincount(source_ids, weights=num_tokens, minlength=len(mixture)).astype(np.int64)
    if len(mixture) > 1:
        hashes = (h for batch in split.select_columns(["content_hash"]).iter(10_000) for h in batch["content_hash"])
        rows, _ = select_mixture(source_ids, num_tokens, document_priority(hashes, seed), weights)
        encoded, split = encoded.select(rows), split.select(rows)
        source_ids, num_tokens = source_ids[rows], num_tokens[rows]
    kept = np.bincount(source_ids, weights=num_tokens, minlength=len(mixture)).astype(np.int64)
    documents = np.bincount(source_ids, minlength=len(mixture))
    facts = {"available_tokens": available.tolist(), "tokens": kept.tolist(), "documents": documents.tolist()}
    return encoded, split, facts


def mixture_facts(mixture: list[MixtureSource], per_source_input: list[int], mixed: dict[str, dict]) -> list[dict]:
    """meta.json's `mixture`: per source, its weight, documents read and kept, and token shares per split."""
    facts = []
    for index, entry in enumerate(mixture):
        facts.append(
            {
                "path": entry.path,
                "weight": entry.weight,
                "input_documents": per_source_input[index],
                "documents": {name: mixed[name]["documents"][index] for name in SPLITS},
                "available_tokens": {name: mixed[name]["available_tokens"][index] for name in SPLITS},
                "tokens": {name: mixed[name]["tokens"][index] for name in SPLITS},
                "token_share": {
                    name: round(mixed[name]["tokens"][index] / max(sum(mixed[name]["tokens"]), 1), 6) for name in SPLITS
                },
            }
        )
    return facts


def obtain_tokenizer(train: datasets.Dataset, data: DictConfig):
    """Load `data.tokenizer.path`, or train a BPE on the training split only."""
    if data.tokenizer.path:
        return load_tokenizer(data.tokenizer.path)
    texts = (batch["text"] for batch in train.select_columns(["text"]).iter(data.batch_size))
    return train_tokenizer(texts, data.tokenizer.vocab_size, data.tokenizer.min_frequency)


def tokenize_split(split: datasets.Dataset, tokenizer, data: DictConfig, dtype: np.dtype) -> datasets.Dataset:
    """Token ids per document (typed Arrow columns: no per-value type inference), with its `source` if any."""
    num_proc = _num_proc(data, len(split))
    if num_proc and num_proc > 1:
        # Each worker is one process; no extra tokenizer threads (and no fork warning).
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    features = {"ids": datasets.Sequence(datasets.Value(dtype.name)), "num_tokens": datasets.Value("int64")}
    if "source" in split.column_names:
        features["source"] = split.features["source"]
    with frozen_heap():
        return split.map(
            partial(encode_batch, tokenizer=tokenizer, eot_id=eot_id(tokenizer)),
            batched=True,
            batch_size=data.batch_size,
            num_proc=num_proc,
            remove_columns=[name for name in split.column_names if name != "source"],
            features=datasets.Features(features),
            load_from_cache_file=False,
            desc="Tokenizing",
        )


def packed_batches(encoded: datasets.Dataset, batch_size: int):
    """Flat numpy arrays of token ids, one per batch of documents, straight from Arrow."""
    for table in encoded.with_format("arrow").iter(batch_size):
        yield pc.list_flatten(table["ids"]).to_numpy()


def check_token_counts(tokens: dict[str, int], block_size: int) -> None:
    for name, count in tokens.items():
        if count <= block_size:
            raise DataError(
                f"the {name} split has {count} tokens, not more than data.block_size={block_size}: "
                "add more text, raise the split fractions or lower data.block_size"
            )


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep forked `num_proc` workers from copying this process's heap.

    A worker shares the parent's memory copy-on-write until it writes a page; each full garbage
    collection in the worker writes to every inherited object's header, so the longer it works
    the more of the parent's heap it copies (prepare's tokenize workers grew 34 MB each from a
    2.6 MB to a 21 MB corpus). `gc.freeze` moves the existing objects out of the collector's reach,
    CPython's documented remedy for fork; `unfreeze` gives them back afterwards.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _num_proc(data: DictConfig, num_rows: int) -> int | None:
    """`datasets` wants None for in-process work and at most one worker per row."""
    workers = min(data.num_proc, max(num_rows, 1))
    return workers if workers > 1 else None
