"""The prepare stage for chat data (`data=chat`): records -> dedup -> split -> template -> padded rows.

Same guarantees as for pretraining text: input files hashed (and checked for UTF-8) before any
work, exact duplicates dropped, the split decided by a hash of the normalised conversation (so
copies never cross splits), and every output built in a staging directory that replaces
`data.out_dir` only when all of it succeeded. A bad record stops the run with a DataError naming
its file and line. Chat sets are small next to pretraining corpora: the validated conversations
are held in memory (about twice their JSON size) and written row by row.

Output (`meta.json` "format": "chat_padded"): per split `<split>.bin`, `rows × row_tokens` token
ids (dtype `meta["dtype"]`), and `<split>.mask.bin`, the same shape in uint8, 1 on assistant
tokens; `row_tokens = block_size + 1`, so a row gives inputs `ids[:-1]` and targets `ids[1:]`
where `mask[1:] == 1`. Plus `tokenizer.json` and the `chat_template.jinja` used.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tokenizers import Tokenizer

from ..errors import DataError
from ..utils.atomic import atomic_directory
from .chat_corpus import ensure_default_chat
from .chat_records import FORMATS, Conversation, read_conversations
from .chat_rows import RowStats, RowWriter, encode_rendered
from .chat_template import ChatTemplate
from .chat_tokenizer import obtain_chat_tokenizer
from .dedup import content_hash
from .meta import build_meta
from .packing import choose_dtype
from .sources import Source, hash_files, resolve_source
from .splitting import SPLITS, assign_split, check_fractions

log = logging.getLogger(__name__)

CHAT_SUFFIXES = (".jsonl", ".json")


def prepare_chat_data(cfg: DictConfig) -> dict:
    """Prepare `data.source` as chat rows with assistant-token masks; return the stage summary."""
    data = cfg.data
    check_chat_settings(data)
    started = time.perf_counter()
    source = chat_source(data.source, Path(cfg.paths.raw_dir))
    out_dir = Path(data.out_dir)
    log.info("Preparing chat data from %s into %s", source.describe(), out_dir)
    with atomic_directory(out_dir) as staging:
        input_hashes = hash_files(source)
        splits, counts = read_dedup_split(source, data)
        tokenizer, template = obtain_chat_tokenizer(splits["train"], data)
        vocab_size = tokenizer.get_vocab_size()
        dtype = choose_dtype(vocab_size, data.dtype)
        tokenizer.save(str(staging / "tokenizer.json"))
        (staging / "chat_template.jinja").write_text(template.source, encoding="utf-8")
        write_tokenizer_config(staging, template)
        eos_id, pad_id = special_ids(tokenizer, template)
        stats = {
            name: write_split(splits[name], tokenizer, template, staging, name, dtype, pad_id, data) for name in SPLITS
        }
        counted = ("rows", "tokens", "target_tokens", "truncated")
        facts = {
            "format": "chat_padded",
            "dtype": dtype.name,
            "mask_dtype": "uint8",
            "row_tokens": data.block_size + 1,
            "vocab_size": vocab_size,
            "eos_token_id": eos_id,
            "pad_token_id": pad_id,
            "chat_template": "chat_template.jinja",
            "conversations": counts,
            **{key: {name: getattr(s, key) for name, s in stats.items()} for key in counted},
            "dropped": {name: len(s.dropped) for name, s in stats.items()},
        }
        meta = build_meta([source], [], [input_hashes], data, staging, facts)
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    log.info("Wrote %s rows (%s truncated) in %.1f s to %s", meta["rows"], meta["truncated"], seconds, out_dir)
    return {
        **{f"{name}_tokens": stats[name].tokens for name in SPLITS},
        **{f"{name}_target_tokens": stats[name].target_tokens for name in SPLITS},
        **{f"{name}_rows": stats[name].rows for name in SPLITS},
        "vocab_size": vocab_size,
        "dtype": dtype.name,
        "format": "chat_padded",
        "out_dir": str(out_dir),
        "conversations": counts,
        "truncated": meta["truncated"],
        "dropped": meta["dropped"],
        "dataset_hash": meta["dataset_hash"],
        "seconds": round(seconds, 3),
    }


def check_chat_settings(data: DictConfig) -> None:
    """Refuse settings that cannot work before reading any data."""
    check_fractions(data.split.val_fraction, data.split.test_fraction)
    if data.format not in FORMATS:
        raise DataError(f"data.format={data.format} is not supported: use {', '.join(FORMATS)}")
    if data.tokenizer.path is None:
        choose_dtype(data.tokenizer.vocab_size, data.dtype)
    if data.block_size < 1 or data.batch_size < 1:
        raise DataError(f"data.block_size={data.block_size} and data.batch_size={data.batch_size} must be positive")


def chat_source(setting: str | None, raw_dir: Path) -> Source:
    """`default` (the built-in chat set) or local JSON Lines files."""
    if setting is not None and str(setting).strip() == "default":
        path = ensure_default_chat(raw_dir)
        return Source(name="default", root=path.parent, files=[path])
    source = resolve_source(setting, raw_dir)
    if source.hub_name:
        raise DataError(
            f"data.source '{setting}' does not exist: data=chat reads local .jsonl files "
            "(export a hub dataset with `Dataset.to_json(path)` first)"
        )
    for path in source.files:
        if path.suffix.lower() not in CHAT_SUFFIXES:
            raise DataError(
                f"{path} is not JSON Lines: data=chat reads .jsonl files, one chat or Alpaca record per line; "
                "move it out of data.source or convert it"
            )
    return source


def read_dedup_split(source: Source, data: DictConfig) -> tuple[dict[str, list[Conversation]], dict[str, int]]:
    """Validated conversations without exact duplicates, assigned to splits by a hash of their text."""
    seen: set[str] = set()
    splits: dict[str, list[Conversation]] = {name: [] for name in SPLITS}
    read = 0
    for path in source.files:
        for conversation in read_conversations(path, data.format):
            read += 1
            text = conversation.text()
            digest = content_hash(text)
            if digest not in seen:
                seen.add(digest)
                split = data.split
                splits[assign_split(text, split.val_fraction, split.test_fraction, split.seed)].append(conversation)
    counts = {"input": read, "unique": len(seen), **{name: len(split) for name, split in splits.items()}}
    log.info("Conversations: %s", counts)
    if read == 0:
        raise DataError(f"data.source '{data.source}' holds no records: add chat or Alpaca records, one per line")
    for name, split in splits.items():
        if not split:
            raise DataError(
                f"the {name} split is empty: {len(seen)} unique conversations are too few for "
                f"val_fraction={data.split.val_fraction} and test_fraction={data.split.test_fraction}; "
                "add more conversations or raise the fractions"
            )
    return splits, counts


def write_split(
    conversations: list[Conversation],
    tokenizer: Tokenizer,
    template: ChatTemplate,
    out_dir: Path,
    split: str,
    dtype: np.dtype,
    pad_id: int,
    data: DictConfig,
) -> RowStats:
    """Render, tokenize and write one split's rows and masks, `data.batch_size` conversations at a time."""
    writer = RowWriter(out_dir, split, data.block_size + 1, dtype, pad_id)
    try:
        for first in range(0, len(conversations), data.batch_size):
            chunk = conversations[first : first + data.batch_size]
            rendered = [template.render_with_spans(c.as_dicts(), c.where) for c in chunk]
            encoded = encode_rendered(tokenizer, [text for text, _ in rendered], [spans for _, spans in rendered])
            for conversation, (ids, mask) in zip(chunk, encoded, strict=True):
                writer.add(ids, mask, conversation.where)
    finally:
        writer.close()
    return checked(writer.stats, split, data.block_size)


def checked(stats: RowStats, split: str, block_size: int) -> RowStats:
    """Refuse a split left without rows; report conversations cut or dropped by the row length."""
    if stats.dropped:
        log.warning(
            "%d %s conversation(s) have no assistant token within data.block_size=%d and were dropped (first: %s)",
            len(stats.dropped),
            split,
            block_size,
            stats.dropped[0],
        )
    if stats.truncated:
        log.warning("%d %s conversation(s) were cut at data.block_size=%d", stats.truncated, split, block_size)
    if stats.rows == 0:
        raise DataError(
            f"no {split} conversation has an assistant token within data.block_size={block_size}: "
            "raise data.block_size or shorten the prompts"
        )
    return stats


def special_ids(tokenizer: Tokenizer, template: ChatTemplate) -> tuple[int | None, int]:
    """The end-of-sequence id (None when the tokenizer names none) and the id that pads rows."""
    ids = {key: tokenizer.token_to_id(token) for key, token in template.special_tokens.items()}
    eos_id = ids.get("eos_token")
    pad_id = ids.get("pad_token")
    return eos_id, pad_id if pad_id is not None else eos_id if eos_id is not None else 0


def write_tokenizer_config(folder: Path, template: ChatTemplate) -> None:
    """tokenizer_config.json beside tokenizer.json: the chat template and special tokens go with the tokenizer
    (export format=hf copies it, so AutoTokenizer's apply_chat_template works on the exported model)."""
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **template.special_tokens, "chat_template": template.source}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
