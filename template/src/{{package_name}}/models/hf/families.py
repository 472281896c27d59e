"""The Hugging Face families the native model converts from and to: config.json in both directions.

A family's config.json becomes our GPTConfig (refusing what the native blocks cannot compute), and a
GPTConfig becomes the config.json of the first family whose blocks it matches.
"""

from __future__ import annotations

from typing import Any

from ...errors import UserError
from ..config import GPTConfig, ModelConfigError

ARCHITECTURES = {
    "gpt2": "GPT2LMHeadModel",
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
}
MAX_ROPE_POSITIONS = 2**22  # the longest published contexts (about 10**6) fit; a typo of 10**12 does not
SUPPORTED = ", ".join(f"{family} ({architecture})" for family, architecture in ARCHITECTURES.items())
# Fields that decide what a model computes: a checkpoint loads only into a model that agrees on all of them.
# (label, how to read it); n_kv_head, mlp_hidden and qkv_bias are compared as they resolve.
FUNCTION_FIELDS = (
    ("vocab_size", lambda c: c.vocab_size),
    ("n_layer", lambda c: c.n_layer),
    ("n_head", lambda c: c.n_head),
    ("n_kv_head", lambda c: c.kv_heads),
    ("n_embd", lambda c: c.n_embd),
    ("mlp", lambda c: c.mlp),
    ("mlp_hidden", lambda c: c.mlp_width),
    ("norm", lambda c: c.norm),
    ("norm_eps", lambda c: c.norm_eps),
    ("position", lambda c: c.position),
    ("rope_theta", lambda c: c.rope_theta if c.position == "rope" else None),
    ("rope_scaling", lambda c: c.rope_scaling),
    ("bias", lambda c: c.bias),
    ("qkv_bias", lambda c: c.attn_bias),
    ("tie_embeddings", lambda c: c.tie_embeddings),
    ("moe_experts", lambda c: c.moe_experts),
)


class HFCheckpointError(UserError, ValueError):
    """A Hugging Face directory or model that the conversion cannot handle; the message names the fix."""


def family_of(hf_config: dict[str, Any]) -> str:
    """The family named by config.json's model_type, refusing the ones the native model cannot run."""
    family = hf_config.get("model_type")
    if not isinstance(family, str) or family not in ARCHITECTURES:
        raise HFCheckpointError(
            f"model_type={family!r} (architectures {hf_config.get('architectures')}) is not supported: "
            f"the native model loads {SUPPORTED}."
        )
    assert isinstance(family, str)  # a key of ARCHITECTURES
    return family


def config_from_hf(hf_config: dict[str, Any], **overrides: Any) -> GPTConfig:
    """Our GPTConfig for a Hugging Face config.json (as a dict); overrides set other fields, e.g. dropout.

    A shorter block_size is allowed for rotary models (positions are computed); GPT-2's learned
    position table fixes it.
    """
    family = family_of(hf_config)
    try:
        fields = gpt2_fields(hf_config) if family == "gpt2" else llama_fields(hf_config, family)
        block_size = overrides.get("block_size", fields["block_size"])
        if fields["position"] == "rope" and block_size > MAX_ROPE_POSITIONS:
            raise HFCheckpointError(
                f"{block_size} positions is more than the rotary tables are built for ({MAX_ROPE_POSITIONS}): "
                "pass block_size=<the context you need> (model.block_size when training)."
            )
        if fields["position"] == "learned" and block_size != fields["block_size"]:
            raise HFCheckpointError(
                f"block_size={block_size} differs from the checkpoint's n_positions={fields['block_size']}, "
                f"the size of its learned position table: use block_size={fields['block_size']}."
            )
        return GPTConfig(**{**fields, **overrides})
    except KeyError as err:
        raise HFCheckpointError(f"config.json lacks {err.args[0]!r}: is it a complete {family} config?") from None
    except ModelConfigError as err:
        raise HFCheckpointError(f"config.json describes a model the native blocks cannot build: {err}") from None
    except (TypeError, ValueError, AttributeError) as err:
        if isinstance(err, HFCheckpointError):
            raise
        raise HFCheckpointError(
            f"config.json has a value of the wrong type ({err}): check it against the family's."
        ) from None


def gpt2_fields(hf: dict[str, Any]) -> dict[str, Any]:
    activation = hf.get("activation_function", "gelu_new")
    if activation not in ("gelu_new", "gelu_pytorch_tanh"):
        raise HFCheckpointError(
            f"activation_function={activation!r} is not supported: the native GPT-2 block uses the tanh-approximated "
            "GELU ('gelu_new')."
        )
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        raise HFCheckpointError("this GPT-2 scales attention differently (scale_attn_*): not supported.")
    return dict(
        vocab_size=hf["vocab_size"],
        block_size=hf["n_positions"],
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        mlp_hidden=hf.get("n_inner"),
        norm_eps=hf.get("layer_norm_epsilon", 1e-5),
        bias=True,
        position="learned",
        tie_embeddings=hf.get("tie_word_embeddings", True),
    )


def llama_fields(hf: dict[str, Any], family: str) -> dict[str, Any]:
    """The fields of the Llama-like families (Llama, Mistral, Qwen2): one block, different biases."""
    activation = hf.get("hidden_act", "silu")
    if activation != "silu":
        raise HFCheckpointError(f"hidden_act={activation!r} is not supported: the native SwiGLU MLP uses 'silu'.")
    n_head, n_embd = hf["num_attention_heads"], hf["hidden_size"]
    head_dim = hf.get("head_dim") or n_embd // n_head
    if head_dim * n_head != n_embd:
        raise HFCheckpointError(
            f"head_dim={head_dim} times num_attention_heads={n_head} is not hidden_size={n_embd}: "
            "the native model needs head_dim = hidden_size / num_attention_heads."
        )
    if hf.get("partial_rotary_factor", 1.0) != 1.0:
        raise HFCheckpointError("partial_rotary_factor is not supported: the native model rotates whole heads.")
    bias, qkv_bias = llama_biases(hf) if family == "llama" else (False, family == "qwen2")
    block_size = hf["max_position_embeddings"]
    window = sliding_window(hf, family)
    if window is not None and window < block_size:  # attention never reaches past the window: equal within it
        block_size = window
    theta, scaling = rope(hf)
    return dict(
        vocab_size=hf["vocab_size"],
        block_size=block_size,
        n_layer=hf["num_hidden_layers"],
        n_head=n_head,
        n_kv_head=hf.get("num_key_value_heads") or n_head,
        n_embd=n_embd,
        mlp="swiglu",
        mlp_hidden=hf["intermediate_size"],
        norm="rmsnorm",
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        position="rope",
        rope_theta=theta,
        rope_scaling=scaling,
        bias=bias,
        qkv_bias=qkv_bias,
        tie_embeddings=hf.get("tie_word_embeddings", False),
    )


def llama_biases(hf: dict[str, Any]) -> tuple[bool, bool | None]:
    """(bias, qkv_bias) for Llama's attention_bias (q/k/v/o) and mlp_bias switches."""
    attention, mlp = hf.get("attention_bias", False), hf.get("mlp_bias", False)
    if attention != mlp:
        raise HFCheckpointError(
            f"attention_bias={attention} with mlp_bias={mlp} is not supported: the native model biases "
            "all projections or none (besides Qwen2's q/k/v)."
        )
    return attention, None


def sliding_window(hf: dict[str, Any], family: str) -> int | None:
    """The attention window of any layer, or None when every layer attends to the whole context."""
    if family == "mistral":
        return hf.get("sliding_window")
    if family == "qwen2" and hf.get("use_sliding_window"):
        layer_types = hf.get("layer_types") or []
        if "sliding_attention" in layer_types or hf.get("max_window_layers", 0) < hf["num_hidden_layers"]:
            return hf.get("sliding_window")
    return None


def rope(hf: dict[str, Any]) -> tuple[float, dict[str, Any] | None]:
    """RoPE's base and scaling from either config.json layout: rope_theta + rope_scaling, or rope_parameters."""
    params = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    theta = float(params.get("rope_theta", hf.get("rope_theta", 10000.0)))
    kind = params.get("rope_type", params.get("type", "default"))
    if kind == "default":
        return theta, None
    scaling = {key: value for key, value in params.items() if key not in ("rope_theta", "type")}
    scaling["rope_type"] = kind
    if kind == "llama3":
        scaling.setdefault("original_max_position_embeddings", hf["max_position_embeddings"])
    return theta, scaling  # GPTConfig refuses the types it cannot compute, naming the ones it can


def mismatches(config: GPTConfig, other: GPTConfig) -> list[str]:
    """`field=ours (checkpoint: theirs)` for every field on which the two models compute differently."""
    fields = list(FUNCTION_FIELDS)
    if config.position == "learned":
        fields.append(("block_size", lambda c: c.block_size))
    return [
        f"{label}={get(config)!r} (checkpoint: {get(other)!r})" for label, get in fields if get(config) != get(other)
    ]


def family_needs(config: GPTConfig, family: str) -> dict[str, Any]:
    """The field values a family's Hugging Face class computes with (for export)."""
    llama_like = {"position": "rope", "norm": "rmsnorm", "mlp": "swiglu", "moe_experts": 0}
    return {
        "gpt2": {
            "position": "learned",
            "norm": "layernorm",
            "mlp": "gelu",
            "bias": True,
            "qkv_bias": True,
            "n_kv_head": config.n_head,
            "tie_embeddings": True,
            "moe_experts": 0,
        },
        "qwen2": {**llama_like, "bias": False, "qkv_bias": True},
        "llama": {**llama_like, "qkv_bias": config.bias},
        "mistral": {**llama_like, "bias": False, "qkv_bias": False},
    }[family]


def family_for(config: GPTConfig, family: str | None = None) -> str:
    """The family a model exports as: the given one if the model fits it, else the first that fits."""
    if family is not None and family not in ARCHITECTURES:
        raise HFCheckpointError(f"family={family!r} is unknown: use one of {SUPPORTED}.")
    values = {label: get(config) for label, get in FUNCTION_FIELDS}
    problems = {}
    for candidate in [family] if family else ["gpt2", "qwen2", "llama"]:
        needs = family_needs(config, candidate)
        wrong = [f"{key}={value!r} (model: {values[key]!r})" for key, value in needs.items() if values[key] != value]
        if not wrong:
            return candidate
        problems[candidate] = wrong
    detail = "; ".join(f"{name} needs {', '.join(wrong)}" for name, wrong in problems.items())
    raise HFCheckpointError(f"the model matches no Hugging Face family: {detail}.")


def hf_config(config: GPTConfig, family: str, dtype: str, token_ids: dict[str, int]) -> dict[str, Any]:
    """config.json for a model of the family, in the layout transformers 4.x and 5.x both read."""
    common = {"architectures": [ARCHITECTURES[family]], "model_type": family, "vocab_size": config.vocab_size}
    common |= {"tie_word_embeddings": config.tie_embeddings, "torch_dtype": dtype, **token_ids}
    if family == "gpt2":
        return common | {
            "n_positions": config.block_size,
            "n_embd": config.n_embd,
            "n_layer": config.n_layer,
            "n_head": config.n_head,
            "n_inner": config.mlp_width,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": config.norm_eps,
            **dict.fromkeys(("resid_pdrop", "embd_pdrop", "attn_pdrop"), config.dropout),
        }
    llama = common | {
        "hidden_size": config.n_embd,
        "intermediate_size": config.mlp_width,
        "num_hidden_layers": config.n_layer,
        "num_attention_heads": config.n_head,
        "num_key_value_heads": config.kv_heads,
        "head_dim": config.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": config.block_size,
        "rms_norm_eps": config.norm_eps,
        "rope_theta": config.rope_theta,
        "rope_scaling": config.rope_scaling,
        "attention_dropout": config.dropout,
    }
    if family == "llama":
        return llama | {"attention_bias": config.bias, "mlp_bias": config.bias}
    if family == "mistral":
        return llama | {"sliding_window": None}
    return llama | {"use_sliding_window": False, "sliding_window": None, "max_window_layers": config.n_layer}
