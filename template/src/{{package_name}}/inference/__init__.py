"""The one decoding loop: KV-cache slots per row, continuous batching, sampling and stop sequences."""

from .engine import Completion, Engine, Event, generate
from .sampling import SamplingParams, sample

__all__ = ["Completion", "Engine", "Event", "SamplingParams", "generate", "sample"]
