"""The document steps of `prepare` on datatrove's executors: many local tasks, or a Slurm job array.

`data.executor.kind=local` (the default) keeps these steps in `pipeline.py`. `datatrove` runs them as
`data.executor.tasks` tasks of datatrove's `LocalPipelineExecutor`; `slurm` writes (and with
`slurm.submit=true` submits) the same pipeline as a job array of its `SlurmPipelineExecutor`. Each task
reads its share of the input files with the same `datasets` builders as `sources.load_documents`, cleans,
applies the length limits and quality rules, hashes and assigns the split, and writes Parquet. Files go
to tasks in contiguous runs of about equal bytes, so the task outputs read in rank order hold the
documents in exactly the local order, and the rest of `prepare` writes byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import datasets
import dill
from datatrove.data import Document, DocumentsPipeline
from datatrove.executor import LocalPipelineExecutor, SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.parquet import ParquetWriter
from omegaconf import DictConfig, OmegaConf

from ..errors import DataError
from .documents import judge, keys
from .quality import QUALITY_RULES, QualitySettings, quality_settings
from .sources import BUILDERS, Source

KINDS = ("local", "datatrove", "slurm")
LENGTH_REASONS = ("empty", "short", "long")
SLURM_TIME = re.compile(r"^(\d+-)?\d+(:\d{2}){0,2}$")
ROW_FEATURES = datasets.Features(
    {
        "text": datasets.Value("string"),
        "content_hash": datasets.Value("string"),
        "split": datasets.Value("string"),
        "source": datasets.Value("int64"),
    }
)


class SlurmJobPending(DataError):
    """The Slurm job is written (or submitted) but not finished: run `prepare` again when it is."""


@dataclass(frozen=True)
class SlurmSettings:
    """`data.executor.slurm`: the job array's resources; `submit: false` only writes the script."""

    partition: str = ""
    time: str = "04:00:00"
    cpus_per_task: int = 4
    mem_per_cpu_gb: int = 2
    qos: str | None = None
    sbatch_args: dict[str, str] = field(default_factory=dict)
    env_command: str | None = None  # None: activate the virtual environment running `prepare`
    submit: bool = False


@dataclass(frozen=True)
class ExecutorSettings:
    """`data.executor`; `workers` (processes at once) applies to `datatrove`, Slurm runs the whole array."""

    kind: str = "local"
    tasks: int = 2
    workers: int = 2
    logging_dir: str = ""
    slurm: SlurmSettings = field(default_factory=SlurmSettings)


def executor_settings(executor: Mapping | DictConfig | None) -> ExecutorSettings:
    """Validate `data.executor`; a DataError names the key and the fix."""
    if not isinstance(executor, Mapping | DictConfig):
        raise DataError(f"data.executor={executor!r} is not a mapping of settings: use e.g. data.executor.kind=local")
    raw = _plain(executor)
    _known_keys(raw, ExecutorSettings, "data.executor")
    slurm = raw.pop("slurm", None)
    if not isinstance(slurm, Mapping | DictConfig | None):
        raise DataError(f"data.executor.slurm={slurm!r} is not a mapping: set e.g. data.executor.slurm.partition=cpu")
    slurm = _plain(slurm)
    _known_keys(slurm, SlurmSettings, "data.executor.slurm")
    settings = ExecutorSettings(**raw, slurm=SlurmSettings(**slurm))
    if settings.kind not in KINDS:
        raise DataError(f"data.executor.kind={settings.kind} is not supported: use {', '.join(KINDS)}")
    for key in ("tasks", "workers"):
        _positive_int(getattr(settings, key), f"data.executor.{key}", "e.g. 4")
    if settings.kind != "local" and not str(settings.logging_dir or "").strip():
        raise DataError("data.executor.logging_dir is empty: give a folder for datatrove's task outputs and logs")
    if settings.kind == "slurm":
        _check_slurm(settings.slurm)
    return settings


def _check_slurm(slurm: SlurmSettings) -> None:
    if not slurm.partition or not isinstance(slurm.partition, str):
        raise DataError("data.executor.slurm.partition is empty: name the Slurm partition to run on (see `sinfo`)")
    if not SLURM_TIME.match(str(slurm.time)):
        raise DataError(f"data.executor.slurm.time={slurm.time} is not a Slurm time limit: write e.g. '04:00:00'")
    _positive_int(slurm.cpus_per_task, "data.executor.slurm.cpus_per_task", "e.g. 4")
    _positive_int(slurm.mem_per_cpu_gb, "data.executor.slurm.mem_per_cpu_gb", "whole GB, e.g. 2")
    if not isinstance(slurm.sbatch_args, dict):
        raise DataError("data.executor.slurm.sbatch_args must be a mapping of sbatch options, e.g. {account: ml}")
    if not isinstance(slurm.submit, bool):
        raise DataError(f"data.executor.slurm.submit={slurm.submit} must be true or false")
    if slurm.submit and shutil.which("sbatch") is None:
        raise DataError(
            "data.executor.slurm.submit=true but `sbatch` is not on PATH: run prepare on a Slurm login node, "
            "or set submit=false to only write the job script"
        )


def _plain(value: Mapping | DictConfig | None) -> dict[str, Any]:
    if isinstance(value, DictConfig):
        return dict(OmegaConf.to_container(value, resolve=True))  # type: ignore[arg-type]
    return dict(value or {})


def _known_keys(raw: dict, settings: type, where: str) -> None:
    names = set(settings.__dataclass_fields__)  # type: ignore[attr-defined]
    for key in raw:
        if key not in names:
            raise DataError(f"{where}.{key} is not a setting: use {', '.join(sorted(names))}")


def _positive_int(value: object, key: str, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{key}={value} must be a whole number of at least 1, {example}")


def quality_check(data: DictConfig) -> QualitySettings:
    """The quality rules of `data.quality` (none when the config has no such block)."""
    return QualitySettings() if data.get("quality") is None else quality_settings(_plain(data.quality))


def input_files(source: Source) -> list[tuple[str, str, int]]:
    """(path, builder, bytes) of every non-empty file, in the order `load_documents` concatenates them."""
    non_empty = [(path, path.stat().st_size) for path in source.files]
    return [
        (str(path), builder, size)
        for builder in sorted(set(BUILDERS.values()))
        for path, size in non_empty
        if size > 0 and BUILDERS[path.suffix.lower()] == builder
    ]


def task_of_each_file(sizes: list[int], world_size: int) -> list[int]:
    """The task of each file: contiguous runs of about equal bytes, so rank order is file order."""
    total, start, owners = sum(sizes) or 1, 0, []
    for size in sizes:
        owners.append(min(world_size - 1, start * world_size // total))
        start += size
    return owners


class SourceFilesReader(PipelineStep):
    """This task's files as documents, split exactly as `sources.load_documents` splits them."""

    name = "source files"
    type = "📖 - READER"

    def __init__(self, files: list[tuple[str, str, int]], text_field: str, sample_by: str, source_index: int):
        super().__init__()
        self.files, self.text_field, self.sample_by, self.source_index = files, text_field, sample_by, source_index

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        datasets.disable_progress_bars()
        owners = task_of_each_file([size for _, _, size in self.files], world_size)
        for number, ((path, builder, _), owner) in enumerate(zip(self.files, owners, strict=True)):
            if owner != rank:
                continue
            column = "text" if builder == "text" else self.text_field
            options = {"sample_by": self.sample_by} if builder == "text" else {}
            rows = datasets.load_dataset(builder, data_files=[path], split="train", streaming=True, **options)
            row = 0
            try:
                for batch in rows.iter(batch_size=1000):
                    if column not in batch:
                        raise DataError(
                            f"{path} has no '{column}' column (it has: {', '.join(batch)}); "
                            "set data.text_field to the column holding the text"
                        )
                    for text in batch[column]:
                        self.stat_update("read")
                        yield Document(text=text or "", id=f"{number}/{row}", metadata={"source": self.source_index})
                        row += 1
            except DataError:
                raise
            except Exception as err:  # malformed JSON or Parquet surfaces as many error types
                raise DataError(
                    f"could not parse {path} ({type(err).__name__}: {err}); fix or remove the malformed file"
                ) from err


class CleanAndFilter(BaseFilter):
    """`documents.judge` (clean, length limits, quality rules); a kept document gets its hash and split."""

    name = "clean, length limits, quality rules"

    def __init__(self, cleaning: dict, split: dict, quality: QualitySettings):
        super().__init__()
        self.cleaning, self.split, self.quality = cleaning, split, quality

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text, reason = judge(doc.text, self.cleaning, self.quality)
        if reason:
            return False, reason
        doc.text = text
        doc.metadata["content_hash"], doc.metadata["split"] = keys(text, self.split)
        return True


def _row(_writer: ParquetWriter, doc: Document) -> dict:
    return {"text": doc.text, **{key: doc.metadata[key] for key in ("content_hash", "split", "source")}}


def document_pipeline(source: Source, data: DictConfig, folder: Path, source_index: int) -> list[PipelineStep]:
    """read -> clean + length limits + quality rules (+ hash, split) -> Parquet, one output folder per rank."""
    return [
        SourceFilesReader(input_files(source), data.text_field, data.sample_by, source_index),
        CleanAndFilter(_plain(data.cleaning), _plain(data.split), quality_check(data)),
        ParquetWriter(
            str(folder / "documents"),
            output_filename="${rank}/part.parquet",
            adapter=_row,
            schema=ROW_FEATURES.arrow_schema,
        ),
    ]


def task_folder(source: Source, data: DictConfig, settings: ExecutorSettings, source_index: int) -> Path:
    """`logging_dir/<fingerprint>`: a rerun with the same inputs and settings resumes (datatrove skips
    completed tasks); any change to a file, a document setting or the task count starts afresh."""
    keys = ("text_field", "sample_by", "cleaning", "quality", "split")
    fingerprint = {
        "files": [(path, size, Path(path).stat().st_mtime_ns) for path, _, size in input_files(source)],
        "settings": {
            key: _plain(data.get(key)) if key in ("cleaning", "quality", "split") else data.get(key) for key in keys
        },
        "tasks": settings.tasks,
        "source": source_index,
    }
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(settings.logging_dir).expanduser().resolve() / f"documents-{digest}"


def run_document_steps(
    source: Source, data: DictConfig, workdir: Path | None = None, source_index: int = 0
) -> tuple[datasets.Dataset, dict]:
    """The kept documents (text, content_hash, split, source) in the local order, and the drop counts.

    `workdir` overrides `data.executor.logging_dir`. With `slurm`, returns once the job has finished;
    before that it writes (or submits) the job and raises SlurmJobPending saying what to run.
    """
    settings = executor_settings(data.get("executor"))
    if workdir is not None:
        settings = replace(settings, logging_dir=str(workdir))
    if settings.kind == "local":
        raise DataError("data.executor.kind=local runs in pipeline.py: choose datatrove or slurm for this module")
    if source.hub_name:
        raise DataError(
            f"data.executor.kind={settings.kind} reads local files only: download '{source.hub_name}' to "
            "Parquet files and point data.source at them, or use data.executor.kind=local"
        )
    folder = task_folder(source, data, settings, source_index)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create data.executor.logging_dir {folder.parent} ({err.strerror}): "
            "point data.executor.logging_dir at a writable folder"
        ) from err
    pipeline = document_pipeline(source, data, folder, source_index)
    if settings.kind == "slurm":
        executor = slurm_executor(pipeline, settings, folder)
        if pending := executor.get_incomplete_ranks():
            script = write_slurm_job(executor)
            if settings.slurm.submit:
                executor.run()
                raise SlurmJobPending(
                    f"submitted Slurm job {executor.job_id} ({len(pending)} tasks, script {script}); "
                    f"run prepare again when it has finished (done tasks: {folder / 'completions'})"
                )
            raise SlurmJobPending(
                f"wrote the Slurm job {script} ({len(pending)} tasks): submit it with `sbatch {script}` or set "
                "data.executor.slurm.submit=true, then run prepare again when it has finished"
            )
    else:
        workers = min(settings.workers, settings.tasks)
        LocalPipelineExecutor(pipeline, tasks=settings.tasks, workers=workers, logging_dir=str(folder)).run()
    rules = QUALITY_RULES if data.get("quality") is not None else ()
    return read_outputs(folder, folder / "arrow"), drop_counts(folder, settings.tasks, rules)


def read_outputs(folder: Path, cache_dir: Path) -> datasets.Dataset:
    """The task outputs in rank order as one memory-mapped Arrow table."""
    files = sorted(str(path) for path in (folder / "documents").glob("*/*.parquet"))
    if not files:
        return datasets.Dataset.from_dict({name: [] for name in ROW_FEATURES}, features=ROW_FEATURES)
    return datasets.load_dataset(
        "parquet", data_files=files, split="train", features=ROW_FEATURES, cache_dir=str(cache_dir)
    )


def drop_counts(folder: Path, tasks: int, rules: tuple[str, ...] = ()) -> dict:
    """{input, cleaned, quality_kept, dropped: {reason: n}} summed over the tasks' datatrove stats."""
    totals: Counter[str] = Counter()
    for rank in range(tasks):
        with (folder / "stats" / f"{rank:05d}.json").open(encoding="utf-8") as handle:
            steps = json.load(handle)  # datatrove's per-task stats: a count, or a dict with its total
        step = next(step for step in steps if step["name"].endswith(CleanAndFilter.name))
        totals.update(
            {label: value["total"] if isinstance(value, dict) else value for label, value in step["stats"].items()}
        )
    dropped = {reason: totals[f"dropped_{reason}"] for reason in LENGTH_REASONS + rules}
    dropped.update({label[len("dropped_") :]: n for label, n in sorted(totals.items()) if label.startswith("dropped_")})
    length_dropped = sum(dropped[reason] for reason in LENGTH_REASONS)
    return {
        "input": int(totals["total"]),
        "cleaned": int(totals["total"] - length_dropped),
        "quality_kept": int(totals["forwarded"]),
        "dropped": {reason: int(n) for reason, n in dropped.items()},
    }


def slurm_executor(pipeline: list[PipelineStep], settings: ExecutorSettings, folder: Path) -> SlurmPipelineExecutor:
    slurm = settings.slurm
    in_venv = sys.prefix != sys.base_prefix
    return SlurmPipelineExecutor(
        pipeline,
        tasks=settings.tasks,
        time=slurm.time,
        partition=slurm.partition,
        cpus_per_task=slurm.cpus_per_task,
        mem_per_cpu_gb=slurm.mem_per_cpu_gb,
        qos=slurm.qos or "",
        sbatch_args=dict(slurm.sbatch_args),
        env_command=slurm.env_command,
        venv_path=str(Path(sys.prefix) / "bin" / "activate") if in_venv and not slurm.env_command else None,
        job_name="prepare-documents",
        logging_dir=str(folder),
    )


def write_slurm_job(executor: SlurmPipelineExecutor) -> Path:
    """Write the job files exactly as `SlurmPipelineExecutor.launch_job` does, without calling sbatch.

    datatrove writes and submits in one method; this is its writing half, so the script can be read
    (and checked) first. `submit: true` then runs datatrove's own launch, which writes the same files.
    """
    folder = executor.logging_dir
    ranks = executor.get_incomplete_ranks()
    with folder.open("executor.pik", "wb") as handle:
        dill.dump(executor, handle, fmode=dill.CONTENTS_FMODE)
    executor.save_executor_as_json()
    with folder.open("ranks_to_run.json", "w") as handle:
        json.dump(ranks, handle)
    array = min(len(ranks), executor.max_array_size)
    script = executor.get_launch_file_contents(
        executor.get_sbatch_args(array),
        f"srun -l -n {executor.nodes_per_task} launch_pickled_pipeline {folder.resolve_paths('executor.pik')}",
    )
    with folder.open("launch_script.slurm", "w") as handle:
        handle.write(script)
    return Path(folder.resolve_paths("launch_script.slurm"))


def render_slurm_job(source: Source, data: DictConfig, workdir: Path | None = None, source_index: int = 0) -> Path:
    """The sbatch script of the document steps for `data.executor.slurm`, written without submitting it."""
    settings = executor_settings(data.get("executor"))
    if workdir is not None:
        settings = replace(settings, logging_dir=str(workdir))
    _check_slurm(settings.slurm)
    folder = task_folder(source, data, settings, source_index)
    executor = slurm_executor(document_pipeline(source, data, folder, source_index), settings, folder)
    return write_slurm_job(executor)
