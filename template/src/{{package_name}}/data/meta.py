"""meta.json of a prepared data set: what was made from what, with hashes of inputs, outputs and settings."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..utils.hashing import sha256_file, sha256_json
from .sources import Source

META_FORMAT_VERSION = 1
# Where files live and how many processes ran never change the result: left out of the settings.
UNHASHED_SETTINGS = ("source", "out_dir", "num_proc", "batch_size", "chat_template")


def build_meta(source: Source, input_hashes: dict, data: DictConfig, out_dir: Path, facts: dict) -> dict:
    """meta.json for the files in `out_dir`. Same inputs and settings give the same hashes."""
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    outputs = {name: sha256_file(out_dir / name) for name in files if name != "meta.json"}
    inputs = {"hub": source.hub_name, "hub_split": data.hub_split} if source.hub_name else {"files": input_hashes}
    settings = OmegaConf.to_container(data, resolve=True)
    assert isinstance(settings, dict), "a DictConfig converts to a dict"
    for key in UNHASHED_SETTINGS:
        settings.pop(key, None)
    settings["tokenizer"].pop("path", None)  # the tokenizer's own hash is in the outputs
    meta = {
        "format_version": META_FORMAT_VERSION,
        "source": source.name,
        **facts,
        "inputs": inputs,
        "outputs": outputs,
        "settings": settings,
    }
    meta["dataset_hash"] = sha256_json({key: meta[key] for key in ("inputs", "outputs", "settings")})
    return meta
