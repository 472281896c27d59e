"""The prepare stage: source -> clean -> dedup -> split -> tokenizer -> packed token files.

Every step streams through HF `datasets` (Arrow files on disk), so memory does not grow with
the corpus. All outputs are built in a staging directory that replaces `data.out_dir` only
when every step has succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from functools import partial
from pathlib import Path

import datasets
import numpy as np
import pyarrow.compute as pc
from omegaconf import DictConfig, OmegaConf

from ..errors import DataError
from ..utils.atomic import atomic_directory
from ..utils.progress import progress_bar
from .chat_pipeline import prepare_chat_data
from .cleaning import clean_text, describe_drops, keep_document
from .dedup import content_hash, first_occurrences
from .meta import build_meta
from .packing import choose_dtype, encode_batch, write_tokens
from .sources import hash_files, load_documents, resolve_source
from .splitting import SPLITS, assign_split, check_fractions
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
    source = resolve_source(data.source, Path(cfg.paths.raw_dir))
    out_dir = Path(data.out_dir)
    datasets.disable_progress_bars()
    log.info("Preparing %s into %s", source.describe(), out_dir)

    with progress_bar() as progress, atomic_directory(out_dir) as staging:
        step = progress.add_task("Hashing inputs", total=len(source.files) or 1)
        input_hashes = hash_files(source) if source.files else {}
        progress.update(step, completed=len(source.files) or 1)

        step = progress.add_task("Loading documents", total=None)
        cache_dir = staging / ".cache"
        raw = load_documents(source, data.text_field, data.sample_by, data.hub_split, cache_dir)
        progress.update(step, total=len(raw), completed=len(raw))

        step = progress.add_task("Cleaning and deduplicating", total=None)
        splits, counts = clean_dedup_split(raw, data)
        progress.update(step, total=len(raw), completed=len(raw))

        step = progress.add_task("Training tokenizer", total=None)
        tokenizer = obtain_tokenizer(splits["train"], data)
        vocab_size = tokenizer.get_vocab_size()
        dtype = choose_dtype(vocab_size, data.dtype)
        tokenizer.save(str(staging / "tokenizer.json"))
        progress.update(step, total=1, completed=1)

        tokens = {}
        for name in SPLITS:
            step = progress.add_task(f"Tokenizing {name}", total=None)
            encoded = tokenize_split(splits[name], tokenizer, data, dtype)
            progress.update(step, total=pc.sum(encoded.data.column("num_tokens")).as_py() or 0)
            tokens[name] = write_tokens(
                packed_batches(encoded, data.batch_size),
                staging / f"{name}.bin",
                dtype,
                on_batch=partial(progress.advance, step),
            )
        check_token_counts(tokens, data.block_size)

        shutil.rmtree(cache_dir, ignore_errors=True)
        facts = {
            "format": "packed",
            "dtype": dtype.name,
            "vocab_size": vocab_size,
            "eot_token_id": eot_id(tokenizer),
            "tokens": tokens,
            "documents": counts,
        }
        meta = build_meta(source, input_hashes, data, staging, facts)
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

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


def clean_batch(batch: dict[str, list[str]], cleaning: dict, split: dict) -> dict[str, list[str]]:
    """`datasets.map` function: cleaned, length-filtered documents with hash and split."""
    texts = [clean_text(text or "") for text in batch["text"]]
    kept = [text for text in texts if keep_document(text, cleaning["min_chars"], cleaning["max_chars"])]
    return {
        "text": kept,
        "content_hash": [content_hash(text) for text in kept],
        "split": [assign_split(text, split["val_fraction"], split["test_fraction"], split["seed"]) for text in kept],
    }


def clean_dedup_split(raw: datasets.Dataset, data: DictConfig) -> tuple[dict[str, datasets.Dataset], dict]:
    """Clean, drop exact duplicates and assign splits; return the splits and document counts."""
    cleaned = raw.map(
        clean_batch,
        fn_kwargs={
            "cleaning": OmegaConf.to_container(data.cleaning),
            "split": OmegaConf.to_container(data.split),
        },
        batched=True,
        batch_size=data.batch_size,
        num_proc=_num_proc(data, len(raw)),
        remove_columns=raw.column_names,
        load_from_cache_file=False,
        desc="Cleaning",
    )
    if len(cleaned) == 0:
        raise DataError(nothing_kept_message(raw, data))
    hashes = (h for batch in cleaned.select_columns(["content_hash"]).iter(10_000) for h in batch["content_hash"])
    unique = cleaned.select(first_occurrences(hashes))
    splits = {
        name: unique.filter(lambda col, name=name: [s == name for s in col], input_columns="split", batched=True)
        for name in SPLITS
    }
    counts = {"input": len(raw), "cleaned": len(cleaned), "unique": len(unique)}
    counts.update({name: len(split) for name, split in splits.items()})
    log.info("Documents: %s", counts)
    for name, split in splits.items():
        if len(split) == 0:
            raise DataError(
                f"the {name} split is empty: {counts['unique']} unique documents are too few for "
                f"val_fraction={data.split.val_fraction} and test_fraction={data.split.test_fraction}; "
                "add more text or raise the fractions"
            )
    return splits, counts


def nothing_kept_message(raw: datasets.Dataset, data: DictConfig) -> str:
    """The error when no document survives cleaning: how many were read and why each was dropped."""
    if len(raw) == 0:
        return f"data.source '{data.source}' holds no documents: point it at text"
    texts = (text for batch in raw.iter(data.batch_size) for text in batch["text"])
    reasons = describe_drops(texts, data.cleaning.min_chars, data.cleaning.max_chars)
    return (
        f"cleaning dropped every document of data.source '{data.source}' ({len(raw)} read with "
        f"data.sample_by={data.sample_by}): {reasons}; fix the text, choose another data.sample_by "
        "or change data.cleaning.min_chars/max_chars"
    )


def obtain_tokenizer(train: datasets.Dataset, data: DictConfig):
    """Load `data.tokenizer.path`, or train a BPE on the training split only."""
    if data.tokenizer.path:
        return load_tokenizer(data.tokenizer.path)
    texts = (batch["text"] for batch in train.select_columns(["text"]).iter(data.batch_size))
    return train_tokenizer(texts, data.tokenizer.vocab_size, data.tokenizer.min_frequency)


def tokenize_split(split: datasets.Dataset, tokenizer, data: DictConfig, dtype: np.dtype) -> datasets.Dataset:
    """Token ids per document (typed Arrow columns: no per-value type inference)."""
    num_proc = _num_proc(data, len(split))
    if num_proc and num_proc > 1:
        # Each worker is one process; no extra tokenizer threads (and no fork warning).
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    return split.map(
        partial(encode_batch, tokenizer=tokenizer, eot_id=eot_id(tokenizer)),
        batched=True,
        batch_size=data.batch_size,
        num_proc=num_proc,
        remove_columns=split.column_names,
        features=datasets.Features(
            {"ids": datasets.Sequence(datasets.Value(dtype.name)), "num_tokens": datasets.Value("int64")}
        ),
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


def _num_proc(data: DictConfig, num_rows: int) -> int | None:
    """`datasets` wants None for in-process work and at most one worker per row."""
    workers = min(data.num_proc, max(num_rows, 1))
    return workers if workers > 1 else None
