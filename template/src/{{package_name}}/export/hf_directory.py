"""`export format=hf`: the model as a Hugging Face directory, `hf/` in the artifact folder.

`transformers`' AutoModelForCausalLM and AutoTokenizer load it as it is, and so do the engines and
converters that read that layout (vLLM, TGI, llama.cpp's convert_hf_to_gguf). The model exports as
the family its config matches (models.hf.family_for); the project's tokenizer goes with it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..data.tokenizer import EOT_TOKEN, eos_id_of, load_tokenizer
from ..models import GPT
from ..models.hf import save_hf

HF_FOLDER = "hf"
TOKENIZER_CONFIG = "tokenizer_config.json"


def write_hf_directory(folder: Path, model: GPT, tokenizer_path: Path) -> Path:
    """config.json, generation_config.json, the weights and the tokenizer files in `folder`.

    A tokenizer_config.json beside the tokenizer (a model's own, or chat data's with its chat template
    and eos token) goes with it; otherwise one for the project's own tokenizer is written.
    """
    eos = eos_id_of(tokenizer_path, load_tokenizer(tokenizer_path, require_eot=False))
    directory = save_hf(model, folder, eos_token_id=eos)
    shutil.copyfile(tokenizer_path, directory / "tokenizer.json")
    beside = tokenizer_path.with_name(TOKENIZER_CONFIG)
    if beside.is_file():
        shutil.copyfile(beside, directory / TOKENIZER_CONFIG)
    else:
        settings = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "eos_token": EOT_TOKEN,
            "model_max_length": model.config.block_size,
            "clean_up_tokenization_spaces": False,
        }
        (directory / TOKENIZER_CONFIG).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return directory
