"""The tokenizer and chat template for chat data: a model's own, or a BPE trained with the default template.

`data.tokenizer.path` names a Hugging Face model directory (or its `tokenizer.json`). Its chat
template is `chat_template.jinja` when present (newer `transformers` save it there), else the
`chat_template` of `tokenizer_config.json` (a string, or a list of named templates: the one
named `default`). `data.chat_template` (a .jinja file) overrides both; without any, the
default ChatML template applies. Without a path, a byte-level BPE is trained on the training
split rendered with the default template, its markers as special tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig
from tokenizers import Tokenizer

from ..errors import DataError
from .chat_records import Conversation
from .chat_template import DEFAULT_CHAT_TEMPLATE, DEFAULT_EOS_TOKEN, DEFAULT_TEMPLATE_TOKENS, ChatTemplate
from .tokenizer import load_tokenizer, train_tokenizer

log = logging.getLogger(__name__)

SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def obtain_chat_tokenizer(train: Iterable[Conversation], data: DictConfig) -> tuple[Tokenizer, ChatTemplate]:
    """The model's tokenizer and template, or a tokenizer trained on the split as the template renders it."""
    tokenizer: Tokenizer | None = None
    if data.tokenizer.path:
        tokenizer, template = load_model_tokenizer(Path(data.tokenizer.path).expanduser())
    else:
        template = ChatTemplate(DEFAULT_CHAT_TEMPLATE, {"eos_token": DEFAULT_EOS_TOKEN}, "the default (ChatML)")
    if data.chat_template:
        source = read_template_file(Path(data.chat_template))
        template = ChatTemplate(source, template.special_tokens, str(data.chat_template))
    if tokenizer is None:
        texts = ([template.render(c.as_dicts(), where=c.where)] for c in train)
        vocab, min_frequency = data.tokenizer.vocab_size, data.tokenizer.min_frequency
        tokenizer = train_tokenizer(texts, vocab, min_frequency, DEFAULT_TEMPLATE_TOKENS)
    return tokenizer, template


def load_model_tokenizer(path: Path) -> tuple[Tokenizer, ChatTemplate]:
    directory, file = (path, path / "tokenizer.json") if path.is_dir() else (path.parent, path)
    if not file.is_file():
        raise DataError(
            f"data.tokenizer.path '{path}' holds no tokenizer.json: point it at a Hugging Face model directory "
            "or its tokenizer.json, or set data.tokenizer.path=null to train one"
        )
    tokenizer = load_tokenizer(file, require_eot=False)  # a model's own vocabulary need not have <|endoftext|>
    source, special_tokens, origin = template_of(directory)
    if source is None:
        log.warning("%s has no chat template: using the default (ChatML)", directory)
        source, origin = DEFAULT_CHAT_TEMPLATE, "the default (ChatML)"
    return tokenizer, ChatTemplate(source, special_tokens, origin)


def template_of(directory: Path) -> tuple[str | None, dict[str, str], str]:
    """A model directory's chat template (None without one), the special tokens it may read, and where it is from."""
    config = read_tokenizer_config(directory / "tokenizer_config.json")
    texts = {key: token_text(config.get(key)) for key in SPECIAL_TOKEN_KEYS}
    source, origin = find_template(directory, config)
    return source, {key: text for key, text in texts.items() if text is not None}, origin


def read_tokenizer_config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not valid JSON ({err}); restore it from the model's files") from err
    if not isinstance(config, dict):
        raise DataError(f"{path} must hold a JSON object; restore it from the model's files")
    return config


def find_template(directory: Path, config: dict) -> tuple[str | None, str]:
    if (directory / "chat_template.jinja").is_file():
        return read_template_file(directory / "chat_template.jinja"), str(directory / "chat_template.jinja")
    template = config.get("chat_template")
    origin = str(directory / "tokenizer_config.json")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": "..."}, ...]
        named = {entry.get("name"): entry.get("template") for entry in template if isinstance(entry, dict)}
        template = named.get("default")
    if template is not None and not isinstance(template, str):
        raise DataError(f"{origin}: 'chat_template' must be a string or a list of named templates")
    return template, origin


def read_template_file(path: Path) -> str:
    try:
        return path.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read the chat template {path} ({err}); give a readable UTF-8 .jinja file") from err


def token_text(value: object) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or an AddedToken object."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None
