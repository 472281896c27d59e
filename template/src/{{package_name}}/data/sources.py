"""Find the documents named by `data.source` and load them as one HF `datasets` table.

A source is the built-in corpus (`default`), a local file or folder of .txt / .jsonl /
.parquet files, or (when online) a Hugging Face hub dataset name. Local files are hashed
and checked for UTF-8 while streaming, so a bad file is named before any work starts.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from ..utils.hashing import sha256_file
from .corpus import ensure_default_corpus

BUILDERS = {".txt": "text", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
TEXT_SUFFIXES = {".txt", ".jsonl", ".json"}
# The text builder reads a .txt file in pieces of this many bytes and holds each about 7 times over
# (str, split list, Arrow array, copies); its 10 MB default made prepare's peak grow with the corpus
# up to 10 MB (+78 MB from a 2.6 MB to a 21 MB corpus).
TEXT_CHUNK_BYTES = 1 << 20


@dataclass
class Source:
    """What `data.source` resolved to: local files with their hashes, or a hub dataset name."""

    name: str
    root: Path | None = None
    files: list[Path] = field(default_factory=list)
    hub_name: str | None = None

    def describe(self) -> str:
        if self.hub_name:
            return f"hub dataset {self.hub_name}"
        return f"{len(self.files)} file(s) under {self.root}"


def resolve_source(source: str | None, raw_dir: Path) -> Source:
    """Turn the `data.source` setting into a `Source`, refusing what cannot be read."""
    if source is None or not str(source).strip():
        raise DataError(
            "data.source is empty: set data.source=default (the built-in corpus), "
            "a path to .txt/.jsonl/.parquet files, or a Hugging Face dataset name"
        )
    source = str(source).strip()
    if source == "default":
        path = ensure_default_corpus(raw_dir)
        return Source(name="default", root=path.parent, files=[path])
    path = Path(source).expanduser()
    if path.exists():
        return _local_source(source, path.resolve())
    if _looks_like_hub_name(source):
        return Source(name=source, hub_name=source)
    raise DataError(
        f"data.source '{source}' does not exist: give an existing file or folder "
        "(absolute, or relative to where you run the command) or a hub name like 'owner/dataset'"
    )


def _looks_like_hub_name(source: str) -> bool:
    parts = source.split("/")
    return len(parts) <= 2 and all(part and not part.startswith(".") for part in parts)


def _local_source(source: str, path: Path) -> Source:
    if path.is_file():
        root, candidates = path.parent, [path]
    else:
        root = path
        candidates = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    files = [p for p in candidates if p.suffix.lower() in BUILDERS]
    if path.is_file() and not files:
        raise DataError(
            f"data.source '{source}' has an unsupported type '{path.suffix}': use one of {', '.join(sorted(BUILDERS))}"
        )
    if not files:
        raise DataError(
            f"data.source '{source}' holds no .txt, .jsonl or .parquet files: "
            "add some or point data.source at another folder"
        )
    return Source(name=source, root=root, files=files)


def hash_files(source: Source) -> dict[str, str]:
    """sha256 of every local input file keyed by its path under the source root.

    Text files are decoded as UTF-8 on the way, so an undecodable file is reported by name.
    """
    hashes: dict[str, str] = {}
    if source.root is None:  # a hub dataset: no local files
        return hashes
    for path in source.files:
        is_text = path.suffix.lower() in TEXT_SUFFIXES
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            hashes[path.relative_to(source.root).as_posix()] = sha256_file(path, decoder.decode if is_text else None)
            decoder.decode(b"", final=True)
        except PermissionError as err:
            raise DataError(f"cannot read {path}: permission denied; fix its permissions or remove it") from err
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path} is not valid UTF-8 ({err.reason}); "
                "re-encode it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or remove it"
            ) from err
    return hashes


def load_documents(source: Source, text_field: str, sample_by: str, hub_split: str, cache_dir: Path):
    """Load every document as a `datasets.Dataset` with a single `text` column."""
    import datasets

    if source.hub_name:
        try:
            table = datasets.load_dataset(source.hub_name, split=hub_split, cache_dir=str(cache_dir))
        except Exception as err:  # the hub raises many types: network, missing, gated
            raise DataError(
                f"could not load hub dataset '{source.hub_name}' ({type(err).__name__}: {err}); "
                "check the name and your network, or use local files"
            ) from err
        return _text_column(table, text_field, source.hub_name)

    non_empty = [path for path in source.files if path.stat().st_size > 0]  # 0 bytes: no documents to load
    if not non_empty:
        raise DataError(f"data.source '{source.name}' holds only empty files: add text to them or point it elsewhere")
    tables = []
    for suffix_group in sorted(set(BUILDERS.values())):
        files = [str(p) for p in non_empty if BUILDERS[p.suffix.lower()] == suffix_group]
        if not files:
            continue
        options = {"sample_by": sample_by, "chunksize": TEXT_CHUNK_BYTES} if suffix_group == "text" else {}
        try:
            table = datasets.load_dataset(
                suffix_group, data_files=files, split="train", cache_dir=str(cache_dir), **options
            )
        except Exception as err:  # malformed JSON or parquet surfaces as a generation error
            if suffix_group == "text" and not any(_has_text(Path(name)) for name in files):
                raise DataError(
                    f"data.source '{source.name}' holds no documents: its files have only blank lines or "
                    "NUL bytes; add text to them or point data.source elsewhere"
                ) from err
            raise DataError(
                f"could not parse the {suffix_group} files under {source.root} "
                f"({_root_cause(err)}); fix or remove the malformed file"
            ) from err
        tables.append(_text_column(table, text_field if suffix_group != "text" else "text", files[0]))
    return datasets.concatenate_datasets(tables) if len(tables) > 1 else tables[0]


def _has_text(path: Path) -> bool:
    """Whether a file holds anything but whitespace and NUL bytes (when the text builder found no rows)."""
    with path.open("rb") as handle:
        while chunk := handle.read(TEXT_CHUNK_BYTES):
            if chunk.strip(b" \t\r\n\x0b\x0c\x00"):
                return True
    return False


def _text_column(table, text_field: str, where: str):
    if text_field not in table.column_names:
        raise DataError(
            f"{where} has no '{text_field}' column (it has: {', '.join(table.column_names)}); "
            "set data.text_field to the column holding the text"
        )
    table = table.select_columns([text_field])
    return table.rename_column(text_field, "text") if text_field != "text" else table


def _root_cause(err: BaseException) -> str:
    while (parent := err.__cause__ or err.__context__) is not None:
        err = parent
    return f"{type(err).__name__}: {err}"
