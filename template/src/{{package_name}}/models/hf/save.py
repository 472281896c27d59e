"""Write the native model as a Hugging Face directory that transformers (and vLLM, TGI, llama.cpp) load as it is.

The layout is that of the family the model's config matches (GPT-2, Llama, Qwen2; Mistral on request).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..gpt import GPT
from .families import HFCheckpointError, family_for, hf_config
from .names import TensorName, tensor_names

INDEX = "model.safetensors.index.json"
# What AutoTokenizer.from_pretrained reads, whichever of them a tokenizer has.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
)


def save_hf(
    model: GPT,
    directory: str | Path,
    *,
    family: str | None = None,
    tokenizer_dir: str | Path | None = None,
    dtype: torch.dtype | None = None,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
    max_shard_bytes: int = 2 * 10**9,
) -> Path:
    """Write config.json, the weights (model.safetensors, or shards with their index) and the tokenizer files.

    family: None exports as the first family the config fits. dtype: the weights' (default: the model's).
    Token ids go into config.json and generation_config.json. Returns the directory.
    """
    config = model.config
    family = family_for(config, family)
    dtype = dtype or model.lm_head.weight.dtype
    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    given = {"bos_token_id": bos_token_id, "eos_token_id": eos_token_id}
    token_ids = {key: value for key, value in given.items() if value is not None}
    hf = hf_config(config, family, str(dtype).removeprefix("torch."), token_ids)
    (directory / "config.json").write_text(json.dumps(hf, indent=2) + "\n", encoding="utf-8")
    if token_ids:
        generation = json.dumps(token_ids, indent=2) + "\n"
        (directory / "generation_config.json").write_text(generation, encoding="utf-8")
    write_weights(model, tensor_names(family, config), directory, dtype, max_shard_bytes)
    if tokenizer_dir is not None:
        copy_tokenizer(Path(tokenizer_dir).expanduser(), directory)
    return directory


def write_weights(
    model: GPT, names: list[TensorName], directory: Path, dtype: torch.dtype, max_shard_bytes: int
) -> None:
    """The tensors under the family's names, one shard in memory at a time."""
    state = model.state_dict()
    item = torch.empty((), dtype=dtype).element_size()
    sizes = {name.hf: item * exported_numel(state, name) for name in names}
    shards: list[list[TensorName]] = [[]]
    size = 0
    for name in names:
        if shards[-1] and size + sizes[name.hf] > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += sizes[name.hf]
    count = len(shards)
    files = [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
    if count == 1:
        files = ["model.safetensors"]
    for stale in [*directory.glob("model-*-of-*.safetensors"), directory / "model.safetensors", directory / INDEX]:
        stale.unlink(missing_ok=True)  # the weights this export replaces
    for file, shard in zip(files, shards, strict=True):
        tensors = {name.hf: exported(state[name.ours], name, dtype) for name in shard}
        save_file(tensors, directory / file, metadata={"format": "pt"})
    if count > 1:
        weight_map = {name.hf: file for file, shard in zip(files, shards, strict=True) for name in shard}
        index = {"metadata": {"total_size": sum(sizes.values())}, "weight_map": weight_map}
        (directory / INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def exported(tensor: torch.Tensor, name: TensorName, dtype: torch.dtype) -> torch.Tensor:
    """A fresh contiguous copy in dtype: safetensors refuses tensors that share storage (the q/k/v blocks do)."""
    if name.rows is not None:
        tensor = tensor[name.rows[0] : name.rows[1]]
    if name.transpose:
        tensor = tensor.t()
    return tensor.to(dtype=dtype, memory_format=torch.contiguous_format, copy=True)


def exported_numel(state: dict[str, torch.Tensor], name: TensorName) -> int:
    tensor = state[name.ours]
    return tensor[name.rows[0] : name.rows[1]].numel() if name.rows else tensor.numel()


def copy_tokenizer(source: Path, directory: Path) -> None:
    """Copy the tokenizer files a directory holds (tokenizer.json, tokenizer_config.json, ...)."""
    found = [source / name for name in TOKENIZER_FILES if (source / name).is_file()]
    if not found:
        raise HFCheckpointError(
            f"{source} holds no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...): pass the directory "
            "of a Hugging Face tokenizer."
        )
    for path in found:
        shutil.copyfile(path, directory / path.name)
