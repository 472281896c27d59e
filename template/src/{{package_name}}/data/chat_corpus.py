"""The built-in chat set: short conversations generated deterministically, for SFT smoke runs and tests.

Like the pretraining corpus it is produced here from a fixed seed, so it is license-clean,
identical on every machine and needs no download. Each answer follows from its question by a
simple rule (sums, comparisons, spelling), so a tiny model's loss on assistant tokens falls
quickly. Some conversations have a system message, some two user/assistant turns, and a few are
repeated so that deduplication has work to do. `alpaca_records` gives the single-turn ones in
Alpaca form (`instruction`, `input`, `output`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..utils.atomic import ensure_text

CHAT_FILE = "default_chat.jsonl"
CHAT_SEED = 4321
NUM_CONVERSATIONS = 1200

SYSTEM_PROMPTS = ["You are a helpful assistant.", "You answer in one short sentence.", "You are a patient teacher."]
WORDS = ["cat", "dog", "kite", "lamp", "river", "apple", "garden", "rocket", "pencil", "window", "forest", "button"]
WORDS += ["cloud", "tiger", "pillow", "bridge", "candle", "mirror", "island", "ladder", "carpet", "violin", "turtle"]
COLORS = {"sky": "blue", "grass": "green", "snow": "white", "sun": "yellow", "coal": "black", "tomato": "red"}

Turn = tuple[str, str]


def addition(rng: random.Random) -> Turn:
    a, b = rng.randrange(0, 50), rng.randrange(0, 50)
    return f"What is {a} plus {b}?", f"{a} plus {b} equals {a + b}."


def comparison(rng: random.Random) -> Turn:
    a, b = rng.sample(range(100), 2)
    return f"Which is bigger, {a} or {b}?", f"{max(a, b)} is bigger than {min(a, b)}."


def spelling(rng: random.Random) -> Turn:
    word = rng.choice(WORDS)
    return f"Spell the word {word} backwards.", f"The word {word} backwards is {word[::-1]}."


def color(rng: random.Random) -> Turn:
    thing = rng.choice(sorted(COLORS))
    name = rng.choice(["Lily", "Tom", "Mia", "Ben", "Sara", "Max", "Anna", "Leo"])
    return f"{name} asks: what color is the {thing}?", f"The {thing} is {COLORS[thing]}, {name}."


TOPICS = [addition, addition, comparison, comparison, spelling, color]


def conversation(rng: random.Random) -> list[dict[str, str]]:
    messages = []
    if rng.random() < 0.4:
        messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    for _ in range(1 if rng.random() < 0.7 else 2):
        question, answer = rng.choice(TOPICS)(rng)
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return messages


def conversations(num: int = NUM_CONVERSATIONS, seed: int = CHAT_SEED) -> list[list[dict[str, str]]]:
    """The chat set as lists of messages; about one in thirty is a repeat."""
    rng = random.Random(seed)
    chats: list[list[dict[str, str]]] = []
    for index in range(num):
        chats.append(rng.choice(chats) if index > 10 and index % 30 == 0 else conversation(rng))
    return chats


def alpaca_records(num: int = NUM_CONVERSATIONS, seed: int = CHAT_SEED) -> list[dict[str, str]]:
    """The single-turn conversations without a system message, as Alpaca records."""
    records = []
    for chat in conversations(num, seed):
        if [m["role"] for m in chat] == ["user", "assistant"]:
            question, answer = chat[0]["content"], chat[1]["content"]
            instruction, _, rest = question.partition(", ")
            records.append({"instruction": instruction if rest else question, "input": rest, "output": answer})
    return records


def chat_jsonl(chats: list[list[dict[str, str]]]) -> str:
    return "".join(json.dumps({"messages": chat}) + "\n" for chat in chats)


def ensure_default_chat(raw_dir: Path) -> Path:
    """Return the built-in chat file, generating it first if it is missing or altered."""
    return ensure_text(raw_dir / CHAT_FILE, chat_jsonl(conversations()))
