"""meta.json of a prepared data set: what was made from what, with hashes of inputs, outputs and settings."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..utils.hashing import sha256_file, sha256_json
from .sources import Source

META_FORMAT_VERSION = 2
# Where files live, how many processes ran and whether a report is drawn never change the result:
# left out of the settings. A mixture's weights are recorded with its inputs.
UNHASHED_SETTINGS = ("source", "sources", "out_dir", "num_proc", "batch_size", "chat_template", "executor", "report")


def source_inputs(source: Source, input_hashes: dict, hub_split: str | None) -> dict:
    """What one source read: a hub dataset's name and split, or each local file's sha256."""
    return {"hub": source.hub_name, "hub_split": hub_split} if source.hub_name else {"files": input_hashes}


def build_meta(
    sources: list[Source], mixture: list, input_hashes: list[dict], data: DictConfig, out_dir: Path, facts: dict
) -> dict:
    """meta.json for the files in `out_dir`. Same inputs and settings give the same hashes.

    One source records its inputs as before (`files` or `hub`); a mixture records a list of them, each
    with its weight.
    """
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    outputs = {name: sha256_file(out_dir / name) for name in files if name != "meta.json"}
    per_source = [
        source_inputs(s, hashes, data.get("hub_split")) for s, hashes in zip(sources, input_hashes, strict=True)
    ]
    if len(sources) == 1:
        inputs = per_source[0]
    else:
        inputs = {
            "sources": [{**entry, "weight": part.weight} for entry, part in zip(per_source, mixture, strict=True)]
        }
    settings = OmegaConf.to_container(data, resolve=True)
    assert isinstance(settings, dict), "a DictConfig converts to a dict"
    for key in UNHASHED_SETTINGS:
        settings.pop(key, None)
    settings["tokenizer"].pop("path", None)  # the tokenizer's own hash is in the outputs
    meta = {
        "format_version": META_FORMAT_VERSION,
        "source": sources[0].name if len(sources) == 1 else "mixture",
        **facts,
        "inputs": inputs,
        "outputs": outputs,
        "settings": settings,
    }
    meta["dataset_hash"] = sha256_json({key: meta[key] for key in ("inputs", "outputs", "settings")})
    return meta
