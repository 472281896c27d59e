"""Check a /v1/completions body before it is queued, so that a bad request never reaches a batch."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import TypeGuard

from tokenizers import Tokenizer

FIELDS = ("model", "prompt", "max_tokens", "temperature", "top_p", "stop", "seed")
MAX_STOP_SEQUENCES = 4


class RequestError(Exception):
    """A client error: its HTTP status, the field at fault (None for the body as a whole) and the fix."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def payload(self) -> dict:
        """The error in OpenAI's format, which the openai client turns into its typed exceptions."""
        kind = "authentication_error" if self.status == 401 else "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": None}}


@dataclass(frozen=True)
class Limits:
    block_size: int  # the model's context: prompt tokens must leave room for one new token
    max_tokens_cap: int
    default_max_tokens: int


@dataclass(frozen=True)
class CompletionRequest:
    prompt_ids: tuple[int, ...]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    model: str | None = None

    def cache_key(self) -> tuple | None:
        """What fully determines a greedy completion; None when sampling makes the answer vary."""
        if self.temperature > 0:
            return None
        return self.prompt_ids, self.max_tokens, self.stop

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CompletionRequest:
        return cls(**{**data, "prompt_ids": tuple(data["prompt_ids"]), "stop": tuple(data["stop"])})


def parse_completion(body: bytes, tokenizer: Tokenizer, limits: Limits) -> CompletionRequest:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RequestError(400, f"The body is not valid JSON ({err}): send a JSON object.") from None
    if not isinstance(data, dict):
        raise RequestError(400, 'The body must be a JSON object such as {"prompt": "Hello"}.')
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise RequestError(400, f"Unknown field '{unknown[0]}': the fields are {', '.join(FIELDS)}.", unknown[0])

    prompt = data.get("prompt")
    if not isinstance(prompt, str):
        raise RequestError(400, "'prompt' must be a string (one prompt per request).", "prompt")
    if not prompt:
        raise RequestError(400, "'prompt' is empty: send some text to continue.", "prompt")
    prompt_ids = tuple(tokenizer.encode(prompt).ids)
    if len(prompt_ids) >= limits.block_size:
        raise RequestError(
            400,
            f"'prompt' is {len(prompt_ids)} tokens, but the model's context is {limits.block_size} tokens "
            "and must leave room for the completion: shorten the prompt.",
            "prompt",
        )
    return CompletionRequest(
        prompt_ids=prompt_ids,
        max_tokens=max_tokens(data.get("max_tokens", limits.default_max_tokens), limits.max_tokens_cap),
        temperature=number(data, "temperature", 1.0, low=0.0, high=2.0),
        top_p=number(data, "top_p", 1.0, low=0.0, high=1.0, low_open=True),
        stop=stop_sequences(data.get("stop")),
        seed=optional_int(data, "seed"),
        model=optional_str(data, "model"),
    )


def max_tokens(value: object, cap: int) -> int:
    if not is_int(value):
        raise RequestError(400, f"'max_tokens' must be an integer, not {json.dumps(value)}.", "max_tokens")
    if not 1 <= value <= cap:
        raise RequestError(400, f"'max_tokens' is {value}: use 1 to {cap} (the server's cap).", "max_tokens")
    return value


def number(data: dict, name: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise RequestError(400, f"'{name}' must be a number, not {json.dumps(value)}.", name)
    if value < low or value > high or (low_open and value == low):
        bounds = f"{'above' if low_open else 'from'} {low:g} {'up ' if low_open else ''}to {high:g}"
        raise RequestError(400, f"'{name}' is {value}: use a value {bounds}.", name)
    return float(value)


def stop_sequences(value: object) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else value
    if stops is None:
        return ()
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOP_SEQUENCES
        or not all(isinstance(stop, str) and stop for stop in stops)
    ):
        message = f"'stop' must be a non-empty string or a list of at most {MAX_STOP_SEQUENCES} of them."
        raise RequestError(400, message, "stop")
    return tuple(stops)


def optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value is not None and not is_int(value):
        raise RequestError(400, f"'{name}' must be an integer or null, not {json.dumps(value)}.", name)
    return value


def optional_str(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise RequestError(400, f"'{name}' must be a string, not {json.dumps(value)}.", name)
    return value


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
