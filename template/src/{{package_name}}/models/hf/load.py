"""Load a local Hugging Face checkpoint directory into the native model, one tensor at a time.

The model is built on the meta device and given uninitialised storage once; each checkpoint tensor
is then read (safetensors, shard by shard) and copied into its place in blocks of rows, each block
through its own safe_open: the pages an open file has served stay resident until it closes. Peak RSS
over the model's bytes, measured loading a 41M-parameter fp32 model from one file / four shards:
each shard held open 2.01 / 1.22; one opening per tensor 1.01 / 1.22 (the largest tensor came last,
on top of the whole model); blocks of at most BLOCK_ELEMENTS 1.01 / 1.11. A Qwen2-0.5B-shaped bf16
model (494M parameters) loads at 1.01 either way, into bf16 or fp32.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from ..config import GPTConfig
from ..gpt import GPT
from .families import HFCheckpointError, config_from_hf, family_of, mismatches
from .names import TensorName, hf_key, ignored, tensor_names

INDEX = "model.safetensors.index.json"
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|h)\.(\d+)\.")  # model.layers.3. (Llama family), transformer.h.3. (GPT-2)
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")  # safetensors' names of the dtypes weights come in
BLOCK_ELEMENTS = 4 * 2**20
# isfinite makes temporaries as large as its input: in pieces, peak RSS stays 1.14-1.17x (whole blocks: 1.45x).
FINITE_CHECK_ELEMENTS = 2**18  # 16 MB in fp32: the most of a checkpoint held in memory beside the model


def read_hf_config(directory: str | Path) -> dict[str, Any]:
    """config.json of a Hugging Face model directory, as a dict."""
    path = Path(directory).expanduser() / "config.json"
    if not path.is_file():
        raise HFCheckpointError(f"{path} does not exist: pass the directory of a Hugging Face model (save_pretrained).")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HFCheckpointError(f"{path} is not valid JSON ({err}): copy the model's config.json again.") from None
    if not isinstance(config, dict):
        raise HFCheckpointError(f"{path} holds no JSON object: copy the model's config.json again.")
    return config


def shard_files(directory: str | Path) -> list[Path]:
    """The safetensors files of a checkpoint: the shards its index lists, or the single model.safetensors.

    Index entries must be plain file names: a shard is never read from outside the directory.
    """
    directory = Path(directory).expanduser()
    if (directory / INDEX).is_file():
        names = sorted(set(index_weight_map(directory / INDEX).values()))
        shards = [directory / name for name in names]
        missing = [shard.name for shard in shards if not shard.is_file()]
        if missing:
            raise HFCheckpointError(
                f"{directory / INDEX} lists {', '.join(missing)}, not in {directory}: copy it there."
            )
        return shards
    if (directory / "model.safetensors").is_file():
        return [directory / "model.safetensors"]
    raise HFCheckpointError(
        f"{directory} has neither model.safetensors nor {INDEX}: save the model with safetensors "
        "(transformers' save_pretrained does by default)."
    )


def index_weight_map(path: Path) -> dict[str, str]:
    """The index's tensor -> shard file map, refusing anything but plain file names in the same directory."""
    fix = "copy the model's index file again"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise HFCheckpointError(f"{path} is not valid JSON ({err}): {fix}.") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise HFCheckpointError(f"{path} has no weight_map of tensor names to shard files: {fix}.")
    for shard in set(weight_map.values()):
        if PurePosixPath(shard).name != shard or shard in ("", ".", ".."):
            raise HFCheckpointError(f"{path} names the shard {shard!r}, which is not a file in its directory: {fix}.")
    return weight_map


def load_hf(directory: str | Path, dtype: torch.dtype = torch.float32, **overrides: Any) -> GPT:
    """A native model with the checkpoint's shape and weights (in dtype, on the CPU); overrides as config_from_hf."""
    config = config_from_hf(read_hf_config(directory), **overrides)
    check_fits(directory, config)
    with torch.device("meta"):
        model = GPT(config).to(dtype)
    return load_hf_weights(model.materialize("cpu"), directory)


def check_fits(directory: str | Path, config: GPTConfig) -> None:
    """Refuse, before any memory is allocated, sizes in config.json that the stored tensors do not have.

    Only the safetensors headers are read, and the model is built on the meta device: a config.json
    that claims 10**11 positions or a million layers stops here instead of in an allocation.
    """
    family = family_of(read_hf_config(directory))
    shapes: dict[str, tuple[tuple[int, ...], str]] = {}
    for shard in shard_files(directory):
        with opened(shard) as f:
            shapes |= {hf_key(family, key): (tuple(f.get_slice(key).get_shape()), shard.name) for key in f.keys()}  # noqa: SIM118
    layers = {int(match[1]) for key in shapes if (match := LAYER_INDEX.search(key))}
    if len(layers) != config.n_layer:
        raise HFCheckpointError(
            f"{directory}/config.json describes {config.n_layer} layers but its weights hold {len(layers)}: "
            "does config.json belong to these weights?"
        )
    with torch.device("meta"):
        targets = GPT(config).state_dict()
    for name in tensor_names(family, config):
        if name.hf in shapes:
            (shape, stored_in), expected = shapes[name.hf], tuple(region_of(targets[name.ours], name).shape)
            if shape != expected:
                raise HFCheckpointError(
                    f"{name.hf!r} in {stored_in} has shape {shape}, config.json implies {expected}: "
                    "does config.json belong to these weights?"
                )


def load_hf_weights(model: GPT, directory: str | Path) -> GPT:
    """Copy the checkpoint's weights into model (in place, cast to its dtype) and return it.

    The model must compute what the checkpoint's config describes (config_from_hf); any difference
    is refused, naming the fields.
    """
    hf_config = read_hf_config(directory)
    family = family_of(hf_config)
    different = mismatches(model.config, config_from_hf(hf_config))
    if different:
        raise HFCheckpointError(
            f"{directory} does not fit the model: {', '.join(different)}; build the model from the checkpoint's "
            "config.json (config_from_hf)."
        )
    names = {name.hf: name for name in tensor_names(family, model.config)}
    targets = model.state_dict()
    loaded: set[str] = set()
    loaded_from: dict[str, str] = {}
    tied_head: tuple[Path, str] | None = None
    with torch.no_grad():
        for shard in shard_files(directory):
            with opened(shard) as f:
                keys = list(f.keys())
            for key in keys:
                name = names.get(hf_key(family, key))
                if name is None:
                    if ignored(model.config, key):
                        tied_head = (shard, key) if key == "lm_head.weight" else tied_head
                        continue
                    raise HFCheckpointError(f"{shard} has an unexpected tensor {key!r}: is it a {family} model?")
                if name.hf in loaded_from:
                    raise HFCheckpointError(
                        f"{key!r} is in both {loaded_from[name.hf]} and {shard.name}: keep it where the index says."
                    )
                region = region_of(targets[name.ours], name)
                for start, block in read_rows(shard, key, tuple(region.shape)):
                    region[start : start + block.shape[0]].copy_(block)
                loaded.add(name.hf)
                loaded_from[name.hf] = shard.name
    if tied_head is not None:
        check_tied_head(model, *tied_head)
    missing = sorted(names.keys() - loaded)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise HFCheckpointError(f"{directory} lacks {shown}: is the checkpoint complete (all shards present)?")
    return model


def region_of(target: torch.Tensor, name: TensorName) -> torch.Tensor:
    """The part of our tensor that a checkpoint tensor fills, as a view in the checkpoint's layout."""
    if name.rows is not None:
        target = target[name.rows[0] : name.rows[1]]
    return target.t() if name.transpose else target


@contextmanager
def opened(shard: Path) -> Iterator[Any]:
    """safe_open, with a damaged file (an interrupted download, say) refused by name."""
    try:
        with safe_open(shard, framework="pt") as f:
            yield f
    except SafetensorError as err:
        raise HFCheckpointError(f"{shard} is not a complete safetensors file ({err}): download it again.") from None


def read_rows(shard: Path, key: str, expected: tuple[int, ...]) -> Iterator[tuple[int, torch.Tensor]]:
    """A checkpoint tensor in blocks of rows (first row, block), each read through its own safe_open."""
    with opened(shard) as f:
        tensor = f.get_slice(key)
        shape, dtype = tuple(tensor.get_shape()), tensor.get_dtype()
    if shape != expected:
        raise HFCheckpointError(
            f"{key!r} in {shard.name} has shape {shape}, the model expects {expected}: "
            "does config.json belong to these weights?"
        )
    if dtype not in FLOAT_DTYPES:
        raise HFCheckpointError(f"{key!r} in {shard.name} holds {dtype} values, not weights: is it a quantized model?")
    step = max(1, BLOCK_ELEMENTS // math.prod(shape[1:]))
    for start in range(0, shape[0], step):
        with opened(shard) as f:
            block = f.get_slice(key)[start : start + step]
        if not all(torch.isfinite(piece).all() for piece in block.reshape(-1).split(FINITE_CHECK_ELEMENTS)):
            raise HFCheckpointError(f"{key!r} in {shard.name} holds NaN or infinite values: download it again.")
        yield start, block


def check_tied_head(model: GPT, shard: Path, key: str) -> None:
    """A tied model ignores a stored lm_head.weight, so it must equal the embedding it is tied to."""
    (_, block), *rest = list(read_rows(shard, key, tuple(model.lm_head.weight.shape)))
    head = torch.cat([block, *(later for _, later in rest)])
    if not torch.equal(head.to(model.lm_head.weight.dtype), model.lm_head.weight):
        raise HFCheckpointError(
            f"config.json ties the embeddings but {shard.name} holds a different {key}: set tie_word_embeddings "
            "to false in config.json."
        )
