"""Read chat and instruction records from JSON Lines and validate each one.

Two record formats, one per line:
- OpenAI chat: `{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}`
- Alpaca: `{"instruction": "...", "input": "..." (optional, may be empty), "output": "..."}`,
  which becomes a user message (instruction, then the input after a blank line) and an assistant one.
A record that is neither, or is malformed, stops `prepare` with a DataError naming the file and
line and what to fix; blank lines are skipped. Other keys of a record or message are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError

ROLES = ("system", "user", "assistant")
FORMATS = ("auto", "chat", "alpaca")


@dataclass(frozen=True)
class Conversation:
    """Validated messages of one record and where the record came from (`path:line`)."""

    messages: tuple[tuple[str, str], ...]
    where: str

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def text(self) -> str:
        """One string per conversation: what deduplication and the split hash read."""
        return "\n".join(f"{role}: {content}" for role, content in self.messages)


def read_conversations(path: Path, record_format: str) -> Iterator[Conversation]:
    """Every record of a .jsonl file, validated, in order."""
    with path.open(encoding="utf-8-sig") as handle:  # a byte-order mark some editors write is not a record
        for number, line in enumerate(handle, start=1):
            if number == 1 and line.lstrip().startswith("["):
                raise DataError(
                    f"{path}:1: a JSON array, not JSON Lines; write one record per line, "
                    f"e.g. `jq -c '.[]' {path.name} > {path.stem}.jsonl`"
                )
            if line.strip():
                yield parse_record(line, record_format, f"{path}:{number}")


def parse_record(line: str, record_format: str, where: str) -> Conversation:
    """One JSON line as a Conversation, or a DataError that starts with `where`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: not valid JSON ({err.msg} at column {err.colno}); fix or remove the line") from err
    except RecursionError as err:
        raise DataError(f"{where}: the JSON is nested too deeply to be a record; fix or remove the line") from err
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise DataError(f"{where}: the JSON cannot be read ({err}); fix or remove the line") from err
    if not isinstance(record, dict):
        raise DataError(f"{where}: a record must be a JSON object, got {type_name(record)}; fix or remove the line")
    kind = record_kind(record, record_format, where)
    messages = chat_messages(record, where) if kind == "chat" else alpaca_messages(record, where)
    return Conversation(messages, where)


def record_kind(record: dict, record_format: str, where: str) -> str:
    if record_format != "auto":
        return record_format
    if "messages" in record:
        return "chat"
    if "instruction" in record or "output" in record:
        return "alpaca"
    keys = ", ".join(repr(key)[:40] for key in list(record)[:5]) or "none"
    raise DataError(
        f"{where}: neither a chat record (a 'messages' list) nor an Alpaca record ('instruction', 'input', "
        f"'output'); its keys: {keys}; fix the line or set data.format"
    )


def chat_messages(record: dict, where: str) -> tuple[tuple[str, str], ...]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        found = (
            "is missing" if "messages" not in record else "is empty" if messages == [] else f"is {type_name(messages)}"
        )
        raise DataError(f"{where}: 'messages' {found}: it must be a non-empty list of {{role, content}} objects")
    result = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise DataError(f"{where}: message {number} is {type_name(message)}, not a {{role, content}} object")
        role = message.get("role")
        if role not in ROLES:
            raise DataError(f"{where}: message {number} has the unknown role {short(role)}: use {', '.join(ROLES)}")
        result.append((role, text_field(message, "content", f"message {number}'s content", where)))
    if "assistant" not in (role for role, _ in result):
        raise DataError(
            f"{where}: the conversation has no assistant message, so nothing to learn; add one or remove it"
        )
    return tuple(result)


def alpaca_messages(record: dict, where: str) -> tuple[tuple[str, str], ...]:
    instruction = text_field(record, "instruction", "'instruction'", where)
    extra = record.get("input")
    if extra is not None and not isinstance(extra, str):
        raise DataError(f"{where}: 'input' must be a string (or absent), got {type_name(extra)}")
    output = text_field(record, "output", "'output'", where)
    prompt = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
    return (("user", prompt), ("assistant", output))


def text_field(record: dict, key: str, name: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        found = "is missing" if key not in record else f"must be a string, got {type_name(value)}"
        raise DataError(f"{where}: {name} {found}")
    if not value.strip():
        raise DataError(f"{where}: {name} is empty; fill it in or remove the line")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise DataError(f"{where}: {name} holds an unpaired surrogate escape (\\ud800-\\udfff); fix the text") from err
    return value


def type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
