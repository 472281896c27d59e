"""Where each tensor of a Hugging Face checkpoint lives in the native model, per family.

One name map serves both directions: a Hugging Face tensor is all of one of our tensors, or a block
of its rows (q/k/v share our fused c_attn, gate/up our fused c_fc), or its transpose (GPT-2's Conv1D
stores weights as (in, out)).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import GPTConfig

# Tensors some checkpoints carry that the native model computes itself: GPT-2's causal-mask buffers, RoPE's.
IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")


@dataclass(frozen=True)
class TensorName:
    """Where one Hugging Face tensor lives in the native model."""

    hf: str
    ours: str
    rows: tuple[int, int] | None = None  # a block of rows of our tensor
    transpose: bool = False


def hf_key(family: str, key: str) -> str:
    """A checkpoint's tensor name in the layout of the name map (the Hub's GPT-2 omits `transformer.`)."""
    if family == "gpt2" and not key.startswith(("transformer.", "lm_head.")):
        return f"transformer.{key}"
    return key


def ignored(config: GPTConfig, key: str) -> bool:
    """Tensors a checkpoint may carry that the native model does not load (a tied head, mask buffers)."""
    return key.endswith(IGNORED_SUFFIXES) or (config.tie_embeddings and key == "lm_head.weight")


def tensor_names(family: str, config: GPTConfig) -> list[TensorName]:
    """Every tensor of the family's checkpoint for this config, and where it lives in the native model."""
    names = gpt2_names(config) if family == "gpt2" else llama_names(config)
    if not config.tie_embeddings:
        names.append(TensorName("lm_head.weight", "lm_head.weight"))
    return names


def gpt2_names(config: GPTConfig) -> list[TensorName]:
    """GPT-2's names are ours (nanoGPT kept them); its four Conv1D weights are transposed."""
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    plain = ["ln_1.weight", "ln_1.bias", "attn.c_attn.bias", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias"]
    plain += ["mlp.c_fc.bias", "mlp.c_proj.bias"]
    names = [TensorName(f"transformer.{n}", f"transformer.{n}") for n in ("wte.weight", "wpe.weight")]
    for i in range(config.n_layer):
        layer = f"transformer.h.{i}."
        names += [TensorName(layer + n, layer + n) for n in plain]
        names += [TensorName(layer + n, layer + n, transpose=True) for n in conv1d]
    names += [TensorName(f"transformer.ln_f.{n}", f"transformer.ln_f.{n}") for n in ("weight", "bias")]
    return names


def llama_names(config: GPTConfig) -> list[TensorName]:
    """Llama, Mistral and Qwen2: separate q/k/v and gate/up projections, fused in ours."""
    q, kv, width = config.n_head * config.head_dim, config.kv_heads * config.head_dim, config.mlp_width
    qkv_rows = {"q_proj": (0, q), "k_proj": (q, q + kv), "v_proj": (q + kv, q + 2 * kv)}
    fc_rows = {"gate_proj": (0, width), "up_proj": (width, 2 * width)}
    params = ("weight", "bias") if config.bias else ("weight",)
    qkv_params = ("weight", "bias") if config.attn_bias else ("weight",)
    names = [TensorName("model.embed_tokens.weight", "transformer.wte.weight")]
    for i in range(config.n_layer):
        hf, ours = f"model.layers.{i}.", f"transformer.h.{i}."
        names.append(TensorName(hf + "input_layernorm.weight", ours + "ln_1.weight"))
        for proj, rows in qkv_rows.items():
            names += [TensorName(f"{hf}self_attn.{proj}.{p}", f"{ours}attn.c_attn.{p}", rows) for p in qkv_params]
        names += [TensorName(f"{hf}self_attn.o_proj.{p}", f"{ours}attn.c_proj.{p}") for p in params]
        names.append(TensorName(hf + "post_attention_layernorm.weight", ours + "ln_2.weight"))
        for proj, rows in fc_rows.items():
            names += [TensorName(f"{hf}mlp.{proj}.{p}", f"{ours}mlp.c_fc.{p}", rows) for p in params]
        names += [TensorName(f"{hf}mlp.down_proj.{p}", f"{ours}mlp.c_proj.{p}") for p in params]
    names.append(TensorName("model.norm.weight", "transformer.ln_f.weight"))
    return names
