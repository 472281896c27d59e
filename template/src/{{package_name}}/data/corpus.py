"""The built-in default corpus: short, regular stories generated deterministically.

It lets a new project train offline on day one. The text is produced here from a fixed seed
(so it is license-clean and identical on every machine), small (about 1.4 MB) and regular
enough that a tiny model's loss falls within a minute of CPU training. A few documents are
repeated on purpose, some with different spacing, so that cleaning and dedup have work to do.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..utils.atomic import ensure_text

CORPUS_FILE = "default_corpus.txt"
CORPUS_SEED = 1234
NUM_DOCUMENTS = 6000

NAMES = ["Lily", "Tom", "Mia", "Ben", "Sara", "Max", "Anna", "Leo", "Zoe", "Sam", "Nora", "Finn"]
ANIMALS = ["cat", "dog", "rabbit", "fox", "bird", "bear", "mouse", "duck", "frog", "owl"]
ADJECTIVES = ["small", "happy", "brave", "kind", "curious", "quiet", "clever", "sleepy"]
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]
OBJECTS = ["ball", "kite", "box", "hat", "book", "cup", "key", "shell", "stone", "drum"]
PLACES = ["forest", "garden", "village", "house by the lake", "big city", "farm", "park"]
ACTIVITIES = ["played", "sang", "laughed", "ran", "danced", "read stories", "built a tower"]
FEELINGS = ["happy", "proud", "surprised", "sad", "excited", "tired"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def story(rng: random.Random) -> str:
    hero, friend = rng.sample(NAMES, 2)
    animal, adjective = rng.choice(ANIMALS), rng.choice(ADJECTIVES)
    color, thing, place = rng.choice(COLORS), rng.choice(OBJECTS), rng.choice(PLACES)
    feeling, activity = rng.choice(FEELINGS), rng.choice(ACTIVITIES)
    count = rng.randrange(2, 10)
    return (
        f"Once upon a time, there was a {adjective} {animal} named {hero}. "
        f"{hero} lived in a {place}. One day, {hero} found {article(color)} {color} {thing}. "
        f"{hero} had {NUMBER_WORDS[count]} friends, and {friend} was the best one. "
        f'{hero} gave the {color} {thing} to {friend}. {friend} said, "Thank you, {hero}!" '
        f"{friend} felt {feeling}. They {activity} together until the sun went down. The end."
    )


def arithmetic(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randrange(4, 9)):
        a, b = rng.randrange(0, 50), rng.randrange(0, 50)
        if rng.random() < 0.5:
            lines.append(f"{a} plus {b} equals {a + b}.")
        else:
            lines.append(f"{a + b} minus {b} equals {a}.")
    return "Practice:\n" + "\n".join(lines)


def dialogue(rng: random.Random) -> str:
    a, b = rng.sample(NAMES, 2)
    color, thing = rng.choice(COLORS), rng.choice(OBJECTS)
    return (
        f'{a}: "Have you seen my {color} {thing}?"\n'
        f'{b}: "Yes, it is in the {rng.choice(PLACES)}."\n'
        f'{a}: "Thank you, {b}. Let us go and get it."'
    )


def documents(num_documents: int = NUM_DOCUMENTS, seed: int = CORPUS_SEED) -> list[str]:
    """The corpus as a list of documents; about one in forty is a (re-spaced) repeat."""
    rng = random.Random(seed)
    kinds = [story, story, story, arithmetic, dialogue]
    docs: list[str] = []
    for index in range(num_documents):
        if index > 10 and index % 40 == 0:
            repeat = rng.choice(docs)
            docs.append(repeat.replace(" ", "  ") if index % 80 == 0 else repeat)
        else:
            docs.append(rng.choice(kinds)(rng))
    return docs


def corpus_text(num_documents: int = NUM_DOCUMENTS, seed: int = CORPUS_SEED) -> str:
    """The corpus as plain text, one document per paragraph (blank-line separated)."""
    return "\n\n".join(documents(num_documents, seed)) + "\n"


def ensure_default_corpus(raw_dir: Path) -> Path:
    """Return the default corpus file, generating it first if it is missing or altered."""
    return ensure_text(raw_dir / CORPUS_FILE, corpus_text())
