"""Byte-level BPE tokenizer (HF `tokenizers`): train on the training split, or load one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ..errors import DataError

EOT_TOKEN = "<|endoftext|>"
BYTE_ALPHABET_SIZE = 256


def train_tokenizer(
    batches: Iterator[list[str]], vocab_size: int, min_frequency: int, extra_special_tokens: tuple[str, ...] = ()
) -> Tokenizer:
    """Train a byte-level BPE with an end-of-text special token (and any extra ones); any text round-trips."""
    if vocab_size <= BYTE_ALPHABET_SIZE:
        raise DataError(
            f"data.tokenizer.vocab_size={vocab_size} is too small: a byte-level BPE needs more than "
            f"{BYTE_ALPHABET_SIZE} (the byte alphabet plus {EOT_TOKEN}); try 2048"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOT_TOKEN, *extra_special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(batches, trainer=trainer)
    return tokenizer


def load_tokenizer(path: str | Path, require_eot: bool = True) -> Tokenizer:
    """Load a `tokenizer.json`; packed pretraining data needs its end-of-text token (require_eot)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"data.tokenizer.path '{path}' does not exist: point it at a tokenizer.json "
            "or set data.tokenizer.path=null to train one"
        )
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception on malformed files
        raise DataError(f"{path} is not a valid tokenizer.json ({err}); use a file saved by HF tokenizers") from err
    if require_eot and tokenizer.token_to_id(EOT_TOKEN) is None:
        raise DataError(f"{path} has no '{EOT_TOKEN}' token: add it as a special token or train a new tokenizer")
    return tokenizer


def eot_id(tokenizer: Tokenizer) -> int:
    token_id = tokenizer.token_to_id(EOT_TOKEN)
    assert token_id is not None, f"{EOT_TOKEN} is a special token of every trained or loaded tokenizer"
    return token_id


def eos_id_of(tokenizer_path: Path, tokenizer: Tokenizer) -> int | None:
    """The end-of-sequence id: the eos_token of tokenizer_config.json beside the file (a model's own, or chat
    data's), else the end-of-text token, else None."""
    config_path = Path(tokenizer_path).with_name("tokenizer_config.json")
    if config_path.is_file():
        try:
            eos = json.loads(config_path.read_text(encoding="utf-8")).get("eos_token")
        except (ValueError, AttributeError) as err:
            raise DataError(f"{config_path} is not a JSON object ({err}): copy the model's file again") from err
        eos = eos.get("content") if isinstance(eos, dict) else eos
        if isinstance(eos, str) and tokenizer.token_to_id(eos) is not None:
            return tokenizer.token_to_id(eos)
    return tokenizer.token_to_id(EOT_TOKEN)
