"""Hugging Face checkpoints of the GPT-2, Llama, Mistral and Qwen2 families, in and out of the native model."""

from .families import ARCHITECTURES, HFCheckpointError, config_from_hf, family_for
from .load import check_fits, load_hf, load_hf_weights, read_hf_config
from .save import save_hf

__all__ = [
    "ARCHITECTURES",
    "HFCheckpointError",
    "check_fits",
    "config_from_hf",
    "family_for",
    "load_hf",
    "load_hf_weights",
    "read_hf_config",
    "save_hf",
]
