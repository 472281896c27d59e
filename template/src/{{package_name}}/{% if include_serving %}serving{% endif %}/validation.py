"""Check a /v1/completions or /v1/chat/completions body before it is queued: a bad request never reaches a batch.

The body is read by the standard library's json, then checked by the pydantic model CompletionBody. pydantic's
own JSON parser (model_validate_json) would save about 2 us of the 19 us a request takes here, tokenizer
included, but it refuses an escaped lone surrogate ("\\ud800") as invalid JSON: its error could not name the
field that holds one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError
from tokenizers import Tokenizer

MAX_STOP_SEQUENCES = 4
MAX_MESSAGES = 256


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
    """A checked request as the inference workers get it: token ids, sampling settings, and how to answer."""

    prompt_ids: tuple[int, ...]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    model: str | None = None
    variant: str = ""  # the served variant that answers (see variants.py)
    request_id: str = ""  # the answer's id: how the gate names the request when its client goes away
    chat: bool = False  # from /v1/chat/completions: answered as a chat completion
    stream: bool = False  # answered as server-sent events
    include_usage: bool = False  # stream_options.include_usage: a last chunk with the usage

    def cache_key(self) -> tuple | None:
        """What fully determines a greedy answer; None when sampling makes it vary (or it streams)."""
        if self.temperature > 0 or self.stream:
            return None
        return self.variant, self.chat, self.prompt_ids, self.max_tokens, self.stop

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CompletionRequest:
        return cls(**{**data, "prompt_ids": tuple(data["prompt_ids"]), "stop": tuple(data["stop"])})


def whole_characters(text: str) -> str:
    """text, unless it holds half of a UTF-16 surrogate pair: JSON can escape one (\\ud800), Unicode has none.

    pydantic itself checks only the strings a constraint makes it convert (and the names of fields).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("string_unicode", "Input should be a valid string") from None
    return text


def one_or_list(value: object) -> object:
    """OpenAI's `stop` is one string or a list of them: one becomes a list of one."""
    if isinstance(value, str):
        return [value]
    if value is None or isinstance(value, list):
        return value
    message = "Input should be a string or a list of at most {most} strings"
    raise PydanticCustomError("stop_type", message, {"most": MAX_STOP_SEQUENCES})


Text = Annotated[str, AfterValidator(whole_characters)]
StopSequence = Annotated[str, Field(min_length=1), AfterValidator(whole_characters)]
StopSequences = Annotated[list[StopSequence], Field(max_length=MAX_STOP_SEQUENCES)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    include_usage: bool = False


class SamplingFields(BaseModel):
    """The fields both endpoints share; null means the default."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float | None = Field(None, gt=0.0, le=1.0, allow_inf_nan=False)
    stop: Annotated[StopSequences | None, BeforeValidator(one_or_list)] = None
    seed: int | None = None
    model: Text | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    user: Text | None = None  # OpenAI's end-user id: accepted; serve.sticky_header does the routing
    # OpenAI fields accepted at the values that change nothing, as clients (LangChain, say) send them by default.
    n: Literal[1] | None = None
    best_of: Literal[1] | None = None
    presence_penalty: float | None = Field(None, ge=0, le=0, allow_inf_nan=False)
    frequency_penalty: float | None = Field(None, ge=0, le=0, allow_inf_nan=False)
    logit_bias: dict[str, float] | None = Field(None, max_length=0)
    logprobs: Literal[False] | None = None
    top_logprobs: Literal[0] | None = None
    echo: Literal[False] | None = None
    suffix: None = None


class CompletionBody(SamplingFields):
    """The fields of OpenAI's completion request that this server implements.

    The checks that need the model (the cap on max_tokens, the prompt's length in tokens) follow in to_request.
    """

    prompt: Text


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    role: Literal["system", "user", "assistant"]
    content: Text


class ChatBody(SamplingFields):
    """The fields of OpenAI's chat completion request that this server implements (text content only)."""

    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_completion_tokens: int | None = Field(None, ge=1)  # OpenAI's newer name for max_tokens


def parse_body(body: bytes, chat: bool) -> CompletionBody | ChatBody:
    """The body checked field by field, before anything needs the model."""
    kind: type[CompletionBody | ChatBody] = ChatBody if chat else CompletionBody
    try:
        return kind.model_validate(parse_json(body))
    except ValidationError as error:
        raise request_error(error, kind) from None


def to_request(
    fields: CompletionBody | ChatBody,
    prompt: str,
    tokenizer: Tokenizer,
    limits: Limits,
    variant: str = "",
    request_id: str = "",
) -> CompletionRequest:
    """The request for `variant`'s workers: `prompt` (the chat template's text for a chat) in token ids, checked."""
    if fields.stream_options is not None and not fields.stream:
        raise RequestError(
            400, "'stream_options' is only for streamed requests: add \"stream\": true.", "stream_options"
        )
    param = "messages" if isinstance(fields, ChatBody) else "prompt"
    prompt_ids = tuple(tokenizer.encode(prompt).ids)
    if not prompt_ids:
        raise RequestError(400, f"'{param}' is empty: send some text to continue.", param)
    if len(prompt_ids) >= limits.block_size:
        raise RequestError(
            400,
            f"'{param}' is {len(prompt_ids)} tokens, but the model's context is {limits.block_size} tokens "
            "and must leave room for the completion: shorten it.",
            param,
        )
    asked = fields.max_completion_tokens if isinstance(fields, ChatBody) else None
    asked = fields.max_tokens if asked is None else asked
    max_tokens = limits.default_max_tokens if asked is None else asked
    if max_tokens > limits.max_tokens_cap:
        name = (
            "max_completion_tokens" if isinstance(fields, ChatBody) and fields.max_completion_tokens else "max_tokens"
        )
        message = f"'{name}' is {max_tokens}: use 1 to {limits.max_tokens_cap} (the server's cap)."
        raise RequestError(400, message, name)
    return CompletionRequest(
        prompt_ids=prompt_ids,
        max_tokens=max_tokens,
        temperature=1.0 if fields.temperature is None else fields.temperature,
        top_p=1.0 if fields.top_p is None else fields.top_p,
        stop=tuple(fields.stop or ()),
        seed=fields.seed,
        model=fields.model,
        variant=variant,
        request_id=request_id,
        chat=isinstance(fields, ChatBody),
        stream=bool(fields.stream),
        include_usage=bool(fields.stream and fields.stream_options and fields.stream_options.include_usage),
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


def request_error(error: ValidationError, body: type[BaseModel]) -> RequestError:
    """pydantic's first error in our words, naming the field at fault."""
    details = error.errors(include_url=False)[0]
    kind, place, value = details["type"], details["loc"], details["input"]
    if kind == "model_type":
        example = '{"messages": [{"role": "user", "content": "Hello"}]}' if body is ChatBody else '{"prompt": "Hello"}'
        return RequestError(400, f"The body must be a JSON object such as {example}.")
    if kind == "extra_forbidden" or not place:  # a name pydantic cannot read (a lone surrogate) has no place
        name = str(place[-1] if place else value)
        fields = ", ".join(fields_of(body, place))
        return RequestError(400, f"Unknown field '{name}': the fields are {fields}.", name)
    name = str(place[0])
    field = name + "".join(f"[{index}]" for index in place[1:])
    if kind == "missing":
        return RequestError(400, f"'{field}' is missing: every request needs it.", name)
    if kind == "string_unicode":
        half = next((f" ({printable(char)})" for char in str(value) if "\ud800" <= char <= "\udfff"), "")
        message = f"'{field}' holds a lone UTF-16 surrogate{half}, which is not a character: send whole pairs."
        return RequestError(400, message, name)
    reason = details["msg"][0].lower() + details["msg"][1:]
    return RequestError(400, f"'{field}' is {shown(value)}: {reason}.", name)


def shown(value: object) -> str:
    """A short rendering of a rejected value for an error message; containers only by kind (they may be huge)."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "an array"
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def fields_of(kind: type[BaseModel], place: tuple) -> list[str]:
    """The fields allowed where an unknown one was found: the body's, or those of a message or stream_options."""
    parent = place[0] if len(place) > 1 else None
    if parent == "messages":
        return list(Message.model_fields)
    if parent == "stream_options":
        return list(StreamOptions.model_fields)
    return list(kind.model_fields)
