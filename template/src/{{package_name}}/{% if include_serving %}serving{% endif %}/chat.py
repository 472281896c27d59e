"""Chat prompts: a conversation rendered with the served model's chat template, ready to tokenize.

The template is the artifact's (its tokenizer_config.json or chat_template.jinja, as fine-tuning on chat data or a
pretrained model left them); a model trained from scratch on plain text has none and gets the documented default,
ChatML (data/chat_template.py). It runs in the sandbox data/chat_template.py sets up, bounded in size and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.chat_template import DEFAULT_CHAT_TEMPLATE, ChatTemplate
from ..data.chat_tokenizer import template_of
from ..errors import DataError
from .validation import ChatBody, RequestError


@dataclass(frozen=True)
class ChatFormat:
    """A chat template's source and the special tokens it may read: plain data, so it pickles to the HTTP process."""

    source: str = DEFAULT_CHAT_TEMPLATE
    special_tokens: dict[str, str] = field(default_factory=dict)
    origin: str = "the default (ChatML)"

    @classmethod
    def of_artifact(cls, folder: Path) -> ChatFormat:
        """The template an artifact folder carries, or the default."""
        source, special, origin = template_of(folder)
        return cls(source, special, origin) if source is not None else cls(special_tokens=special)

    def compile(self) -> ChatTemplate:
        return ChatTemplate(self.source, self.special_tokens, self.origin)


def chat_prompt(template: ChatTemplate, body: ChatBody) -> str:
    """The conversation as the template writes it, ending with the assistant's turn opened."""
    messages = [message.model_dump() for message in body.messages]
    try:
        return template.render(messages, add_generation_prompt=True)
    except DataError as error:  # the template's raise_exception: a role order it does not accept, say
        raise RequestError(400, f"{error}: change the messages.", "messages") from None
