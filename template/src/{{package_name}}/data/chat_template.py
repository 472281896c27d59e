"""Render conversations with a model's chat template and find the assistant's text in the result.

A chat template is Jinja code from a file the user downloaded, so it runs in jinja2's
`ImmutableSandboxedEnvironment` with the settings and helpers `transformers` gives it
(`trim_blocks`, `lstrip_blocks`, loop controls, `raise_exception`, a `tojson` that does not
escape HTML, `strftime_now`): the same text as `apply_chat_template`.

Assistant spans come from rendering prefixes: the text an assistant message adds is the render
of the conversation up to and including it minus the render up to it with the generation prompt.
That works with every template that renders a prefix unchanged when more messages follow, with
no `{% generation %}` markers needed (those are accepted and ignored).
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import DataError

# The default for tokenizers without a template: ChatML, as Qwen2 and many others use it.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
DEFAULT_TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>")
DEFAULT_EOS_TOKEN = "<|im_end|>"
# Bounds on what a chat template (code from a downloaded file) may cost per render.
MAX_CHARS = 10_000_000
MAX_EXPONENT = 4096
RENDER_SECONDS = 10.0
MIN_JINJA = (3, 1, 6)  # older versions have known sandbox escapes (transformers refuses them too)

Span = tuple[int, int]


class GenerationTag(Extension):
    """Accept transformers' `{% generation %}...{% endgeneration %}` markers; render their body as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def _raise_exception(message: str):
    raise jinja2.TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` refused when their result would be huge ('a' * 10**9, 9 ** 10**7)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator: str, left, right):
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > MAX_CHARS
                ):
                    raise SecurityError(f"a chat template may not build sequences over {MAX_CHARS:,} items")
        if operator == "**" and isinstance(right, int) and right > MAX_EXPONENT:
            raise SecurityError(f"a chat template may not raise to powers over {MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Stop a render that runs longer than `seconds` (a template looping 10**10 times); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise TimeoutError(f"rendering took over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def at(where: str) -> str:
    return f"{where}: " if where else ""


class ChatTemplate:
    """A compiled chat template plus the special-token strings it may read (`bos_token`, `eos_token`, ...)."""

    def __init__(self, source: str, special_tokens: dict[str, str], origin: str):
        self.source, self.special_tokens, self.origin = source, special_tokens, origin
        if tuple(int(part) for part in re.findall(r"\d+", jinja2.__version__)[:3]) < MIN_JINJA:
            raise DataError(
                f"jinja2 {jinja2.__version__} is too old to run chat templates safely: pip install 'jinja2>=3.1.6'"
            )
        env = BoundedSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals.update(raise_exception=_raise_exception, strftime_now=lambda fmt: datetime.now().strftime(fmt))
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as err:
            raise DataError(
                f"the chat template from {origin} does not compile ({err.message}, template line {err.lineno}); "
                "fix it or set data.chat_template to a .jinja file"
            ) from err

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False, where: str = "") -> str:
        """The conversation as the template writes it; a DataError starting with `where` when it refuses it."""
        variables = dict(messages=messages, add_generation_prompt=add_generation_prompt, **self.special_tokens)
        try:
            with time_limit(RENDER_SECONDS):
                parts, size = [], 0
                for part in self._template.generate(**variables):
                    parts.append(part)
                    size += len(part)
                    if size > MAX_CHARS:
                        raise SecurityError(f"the rendered text is over {MAX_CHARS:,} characters")
                return "".join(parts)
        except Exception as err:  # raise_exception, a sandbox refusal or a bug in the template's own logic
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(
                f"{at(where)}the chat template from {self.origin} refused this conversation: {message}"
            ) from err

    def render_with_spans(self, messages: list[dict[str, str]], where: str = "") -> tuple[str, list[Span]]:
        """The rendered conversation and the character spans written for its assistant messages."""
        text = self.render(messages, where=where)
        spans = []
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self.render(messages[:index], add_generation_prompt=True, where=where)
            through = self.render(messages[: index + 1], where=where)
            if not (through.startswith(before) and text.startswith(through)):
                raise DataError(
                    f"{at(where)}the chat template from {self.origin} renders the first {index + 1} messages "
                    "differently when more follow, so the assistant's tokens cannot be located; use a template "
                    "that keeps earlier turns unchanged (data.chat_template=FILE.jinja)"
                )
            if len(through) > len(before):
                spans.append((len(before), len(through)))
        return text, spans
