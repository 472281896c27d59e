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
        self.status, self.message, self.param = status, printable(message), param and printable(param)

    def payload(self) -> dict:
        """The error in OpenAI's format, which the openai client turns into its typed exceptions."""
        kind = {401: "authentication_error"}.get(self.status, "server_error" if self.status >= 500 else None)
        error = {"message": self.message, "type": kind or "invalid_request_error", "param": self.param, "code": None}
        return {"error": error}


def printable(text: str) -> str:
    """text with any lone surrogate written as its escape (\\ud800), so that an error never echoes invalid Unicode."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
    data = parse_json(body)
    if not isinstance(data, dict):
        raise RequestError(400, 'The body must be a JSON object such as {"prompt": "Hello"}.')
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise RequestError(400, f"Unknown field '{unknown[0]}': the fields are {', '.join(FIELDS)}.", unknown[0])

    prompt = data.get("prompt")
    if not isinstance(prompt, str):
        raise RequestError(400, "'prompt' must be a string (one prompt per request).", "prompt")
    prompt_ids = tuple(tokenizer.encode(unicode_text(prompt, "prompt")).ids)
    if not prompt_ids:
        raise RequestError(400, "'prompt' is empty: send some text to continue.", "prompt")
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


def parse_json(body: bytes) -> object:
    """The body as JSON; any JSON the server cannot hold in memory as Python objects is a client error too."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RequestError(400, f"The body is not valid JSON ({err}): send a JSON object.") from None
    except RecursionError:
        raise RequestError(400, "The body is nested too deeply: send a flat JSON object.") from None
    except ValueError:  # an integer literal longer than Python converts (4300 digits by default)
        raise RequestError(400, "The body holds an integer with too many digits: send a smaller one.") from None


def unicode_text(value: str, name: str) -> str:
    """value, unless it holds half of a UTF-16 surrogate pair: JSON can escape one (\\ud800), Unicode has none."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        half = f"\\u{ord(value[err.start]):04x}"
        message = f"'{name}' holds a lone UTF-16 surrogate ({half}), which is not a character: send whole pairs."
        raise RequestError(400, message, name) from None
    return value


def shown(value: object) -> str:
    """A short rendering of a rejected value for an error message; containers only by kind (they may be huge)."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "an array"
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def max_tokens(value: object, cap: int) -> int:
    if not is_int(value):
        raise RequestError(400, f"'max_tokens' must be an integer, not {shown(value)}.", "max_tokens")
    if not 1 <= value <= cap:
        raise RequestError(400, f"'max_tokens' is {shown(value)}: use 1 to {cap} (the server's cap).", "max_tokens")
    return value


def number(data: dict, name: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = data.get(name, default)
    if value is None:
        return default
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or isinstance(value, float) and not math.isfinite(value):
        raise RequestError(400, f"'{name}' must be a number, not {shown(value)}.", name)
    if value < low or value > high or (low_open and value == low):  # exact for integers of any size
        bounds = f"{'above' if low_open else 'from'} {low:g} {'up ' if low_open else ''}to {high:g}"
        raise RequestError(400, f"'{name}' is {shown(value)}: use a value {bounds}.", name)
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
    return tuple(unicode_text(stop, "stop") for stop in stops)


def optional_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value is not None and not is_int(value):
        raise RequestError(400, f"'{name}' must be an integer or null, not {shown(value)}.", name)
    return value


def optional_str(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise RequestError(400, f"'{name}' must be a string, not {shown(value)}.", name)
    return value if value is None else unicode_text(value, name)


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
