"""Where the served model comes from: a verified artifact of the registry (see export/artifact.py)."""

from __future__ import annotations

from pathlib import Path

from ..data.tokenizer import eos_id_of
from ..export.artifact import TOKENIZER, load_artifact
from .api import ServedModel
from .chat import ChatFormat


def load_served(artifact: str | Path | None, artifacts_dir: str | Path, precision: str) -> ServedModel:
    """The artifact (a version, a folder, or None for `current`) with its hashes checked, in eval mode."""
    loaded = load_artifact(artifact, artifacts_dir, precision)
    eos_id = eos_id_of(loaded.path / TOKENIZER, loaded.tokenizer)  # the tokenizer's own (chat data, a model's)
    chat = ChatFormat.of_artifact(loaded.path)
    return ServedModel(loaded.model.eval(), loaded.tokenizer, loaded.version, loaded.precision, eos_id, chat)
