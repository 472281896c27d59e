"""An artifact folder: write its model files, and load one back after verifying every file's sha256.

Layout of `artifacts/<version>/`: model.safetensors (fp32), model-int8.safetensors, config.json
(GPTConfig), tokenizer.json (and its tokenizer_config.json, if it has one), export_config.yaml (the
resolved export config) and manifest.json.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from safetensors.torch import load_model, save_model
from tokenizers import Tokenizer

from ..errors import ArtifactError
from ..models import GPT, GPTConfig
from .manifest import read_manifest, verify_files
from .quantize import int8_gpt
from .registry import Registry

CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
WEIGHTS = {"fp32": "model.safetensors", "int8": "model-int8.safetensors"}


@dataclass
class LoadedArtifact:
    model: GPT  # eval mode; for int8 the same GPT with Int8Linear layers and the tied int8 embedding
    tokenizer: Tokenizer
    config: GPTConfig
    manifest: dict
    path: Path  # the artifact folder
    version: str
    precision: str  # "fp32" | "int8"


def write_model_files(folder: Path, model: GPT, int8_model: GPT, tokenizer_path: Path) -> None:
    """config.json, both weight files and the tokenizer; tied weights are stored once."""
    folder = Path(folder)
    config = json.dumps(asdict(model.config), indent=2, sort_keys=True)
    (folder / CONFIG).write_text(config + "\n", encoding="utf-8")
    save_model(model, str(folder / WEIGHTS["fp32"]), metadata={"precision": "fp32"})
    metadata = {"precision": "int8", "quantization": "symmetric int8 weights, one fp32 scale per output row"}
    save_model(int8_model, str(folder / WEIGHTS["int8"]), metadata=metadata)
    shutil.copyfile(tokenizer_path, folder / TOKENIZER)
    beside = tokenizer_path.with_name(TOKENIZER_CONFIG)  # its eos token and chat template, when it has them
    if beside.is_file():
        shutil.copyfile(beside, folder / TOKENIZER_CONFIG)


def load_artifact(artifact: str | Path | None, artifacts_dir: str | Path, precision: str = "int8") -> LoadedArtifact:
    """Load a version name in artifacts_dir, a folder path, or (None) the registry's current version.

    Every file listed in manifest.json is checked (size and sha256) first; an ArtifactError names
    a missing, truncated or modified file and the fix.
    """
    if precision not in WEIGHTS:
        raise ArtifactError(f"precision={precision!r} is unknown: use one of {', '.join(WEIGHTS)}")
    path, version = Registry(artifacts_dir).resolve(artifact)
    manifest = read_manifest(path)
    unlisted = [name for name in (CONFIG, WEIGHTS[precision], TOKENIZER) if name not in manifest["files"]]
    if unlisted:
        raise ArtifactError(f"{path}/manifest.json does not list {', '.join(unlisted)}: re-export this version")
    verify_files(path, manifest)
    try:
        config = GPTConfig(**json.loads((path / CONFIG).read_text(encoding="utf-8")))
        model = GPT(config)
        if precision == "int8":
            int8_gpt(model, quantize=False)
        load_model(model, str(path / WEIGHTS[precision]))
    except (ValueError, TypeError, RuntimeError) as err:  # files verified: the code no longer fits them
        raise ArtifactError(f"artifact {path} does not load ({err}): re-export it with this code") from err
    tokenizer = Tokenizer.from_file(str(path / TOKENIZER))
    return LoadedArtifact(model.eval(), tokenizer, config, manifest, path, version, precision)
