"""Fine-tune an open model on CPU, as `make demo-finetune` runs it: python -m <package>.finetune_demo.

A tiny random Llama-family model, written as a Hugging Face directory with a ChatML chat template,
stands in for a downloaded one (models/standin-llama). Then, each stage as its own process as a user
runs it: prepare the built-in chat set with that model's tokenizer (data=chat), LoRA fine-tuning
(experiment=sft), evaluate (loss on assistant tokens), export (INT8 and format=hf), and, where the
project serves, one completion of a chat-formatted prompt. The last line printed is the exported
Hugging Face directory.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from .demo_steps import DemoError, serve_one_completion, stage
from .utils.paths import project_root

STANDIN = "standin-llama"
VOCAB_SIZE = 1024
PROMPT = "<|im_start|>user\nWhat is 2 plus 3?<|im_end|>\n<|im_start|>assistant\n"


def write_standin_model(directory: Path) -> Path:
    """A random llama_tiny-shaped model with its tokenizer and chat template, in the Hugging Face layout."""
    import torch

    from .data.chat_corpus import conversations
    from .data.chat_template import DEFAULT_CHAT_TEMPLATE, DEFAULT_EOS_TOKEN, DEFAULT_TEMPLATE_TOKENS
    from .data.tokenizer import train_tokenizer
    from .models import GPT, GPTConfig
    from .models.hf import save_hf

    texts = ([message["content"] for message in chat] for chat in conversations(600, seed=5))
    tokenizer = train_tokenizer(texts, vocab_size=VOCAB_SIZE, min_frequency=2)
    tokenizer.add_special_tokens(list(DEFAULT_TEMPLATE_TOKENS))
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=64 * -(-tokenizer.get_vocab_size() // 64),
        block_size=512,
        n_layer=2,
        n_head=4,
        n_kv_head=2,
        n_embd=128,
        mlp_hidden=384,
        bias=False,
        norm="rmsnorm",
        mlp="swiglu",
        position="rope",
        tie_embeddings=True,
    )  # llama_tiny's shape
    model = GPT(config)
    save_hf(model, directory, eos_token_id=tokenizer.token_to_id(DEFAULT_EOS_TOKEN))
    tokenizer.save(str(directory / "tokenizer.json"))
    settings = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": DEFAULT_EOS_TOKEN,
        "chat_template": DEFAULT_CHAT_TEMPLATE,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return directory


def serves() -> bool:
    """Whether this project was generated with the serving package."""
    return importlib.util.find_spec(f"{__package__}.serving") is not None


def main() -> int:
    root = Path(project_root())
    model_dir = root / "models" / STANDIN
    chat_dir = root / "data" / "chat"
    try:
        print(f"== stand-in model: a random Llama-family model in {model_dir}", flush=True)
        write_standin_model(model_dir)
        stage("prepare", "data=chat", f"data.tokenizer.path={model_dir}")
        trained = stage("train", "experiment=sft", f"pretrained={model_dir}", f"datamodule.data_dir={chat_dir}")
        checkpoint = f"ckpt_path={trained['checkpoint']}"
        stage("evaluate", checkpoint, f"datamodule.data_dir={chat_dir}")
        data = [f"data_dir={chat_dir}", f"tokenizer_path={chat_dir / 'tokenizer.json'}"]
        exported = stage("export", checkpoint, "format=hf", *data)
        if serves():
            serve_one_completion(exported["version"], PROMPT)
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"\nFine-tune demo done. Artifact {exported['artifact_dir']}; Hugging Face directory:")
    print(exported["hf_dir"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
