"""INT8 weights with one fp32 scale per output channel, for every Linear and the token embedding.

A weight row w becomes q = round(w / s) in int8 with s = max|w| / 127. The tied token embedding
and lm_head share ONE int8 matrix (one scale per vocabulary row), so the INT8 file holds it once,
as the fp32 file does; quantizing the two separately would store the largest matrix twice.

On the CPU a matmul runs as int8 x int8 -> int32 (`torch._int_mm`, oneDNN) with every input row
quantized on the fly (one scale per token, so a row's result never depends on the other rows of a
batch). Measured on a shared 2-core x86 CPU, one thread, greedy generate of 32 tokens after a
32-token prompt, against fp32: 0.8-1.1x the time for the `small` preset, 0.8x for GPT-2 124M;
torchao's int8 weight-only config took 1.5-4.6x, `torch._weight_int8pack_mm` 2.7-7.7x,
dequantizing per call 1.8-12x. The `tiny` preset runs 1.5x slower in INT8: at n_embd 128 the
per-call cost of quantizing the input outweighs the smaller matmul.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn import functional as F

from ..models import GPT

INT8_MAX = 127.0
EPS = 1e-12  # the scale of an all-zero row: it quantizes to zeros instead of dividing by zero


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric int8: (q int8, scale fp32) with weight ~= q * scale[:, None]."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1).clamp_min(EPS) / INT8_MAX
    q = torch.round(weight / scale[:, None]).clamp_(-INT8_MAX, INT8_MAX).to(torch.int8)
    return q, scale


class Int8Linear(nn.Module):
    """A Linear whose weight (out, in) is int8 with one scale per output channel."""

    weight: torch.Tensor  # buffers, registered in __init__
    scale: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, in_features: int, out_features: int, bias: bool) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_float(cls, linear: nn.Linear) -> Int8Linear:
        module = cls(linear.in_features, linear.out_features, linear.bias is not None)
        module.weight, module.scale = quantize_rows(linear.weight)
        if linear.bias is not None:
            module.bias = linear.bias.detach().float().clone()
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":  # torch._int_mm on CUDA has shape limits; dequantize there instead
            return F.linear(x, self.weight.to(x.dtype) * self.scale.to(x.dtype)[:, None], self.bias)
        rows = x.reshape(-1, self.in_features)
        row_scale = rows.abs().amax(dim=1, keepdim=True).clamp_min_(EPS).div_(INT8_MAX)
        rows_q = rows.div(row_scale).round_().to(torch.int8)
        y = torch._int_mm(rows_q, self.weight.t()) * (row_scale * self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Int8Embedding(nn.Module):
    """Token lookup in an int8 table with one scale per row: the tied lm_head's tensors, or the embedding's own."""

    weight: torch.Tensor  # buffers, registered in __init__
    scale: torch.Tensor

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("scale", scale)

    @classmethod
    def from_float(cls, embedding: nn.Embedding) -> Int8Embedding:
        return cls(*quantize_rows(embedding.weight))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight).float() * self.scale[idx].unsqueeze(-1)


def int8_gpt(model: GPT, quantize: bool = True) -> GPT:
    """Replace, in place, every Linear by an Int8Linear and the embedding by an int8 lookup.

    A tied embedding looks up lm_head's int8 matrix (stored once); an untied one gets its own.
    quantize=False builds the same structure with zero weights, to load an INT8 state dict into.
    """
    tied = model.transformer.wte.weight is model.lm_head.weight
    embedding = model.transformer.wte
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                if quantize:
                    replacement = Int8Linear.from_float(child)
                else:
                    replacement = Int8Linear(child.in_features, child.out_features, child.bias is not None)
                setattr(parent, name, replacement)
    head = model.lm_head
    assert isinstance(head, Int8Linear), "the loop above replaced every Linear, lm_head included"
    if tied:
        model.transformer.wte = Int8Embedding(head.weight, head.scale)
    elif quantize:
        model.transformer.wte = Int8Embedding.from_float(embedding)
    else:
        rows, width = embedding.weight.shape
        model.transformer.wte = Int8Embedding(torch.zeros(rows, width, dtype=torch.int8), torch.zeros(rows))
    return model.eval()
