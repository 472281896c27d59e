"""A LightningDataModule over the token files written by `prepare`: packed text, or chat rows with a loss mask.

Training reads random windows; the window of global sample `i` depends only on `(seed, i)`,
so a resumed run continues at exactly the same data position and every DDP rank reads
different samples (rank `r` of `w` takes samples r, r+w, r+2w, ...). Validation and test read
fixed, non-overlapping windows, also split across ranks.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import UserError
from ..utils.logging import get_logger
from ..utils.paths import PACKAGE

log = get_logger(__name__)

SPLITS = ("train", "val", "test")


class RandomWindows(Dataset):
    """`(x, y)` windows of `block_size` tokens at seeded random offsets, indexed by sample."""

    def __init__(self, path: Path, dtype: str, block_size: int, seed: int, num_samples: int):
        self.path, self.dtype, self.block_size = path, dtype, block_size
        self.seed, self.num_samples = seed, num_samples
        self.num_starts = tokens_in(path, dtype) - block_size
        self._tokens: np.memmap | None = None

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = int(np.random.default_rng([self.seed, index]).integers(self.num_starts))
        return window(self._memmap(), start, self.block_size)

    def _memmap(self) -> np.memmap:
        if self._tokens is None:  # opened lazily so that dataloader workers each map the file
            self._tokens = np.memmap(self.path, dtype=self.dtype, mode="r")
        return self._tokens


class FixedWindows(RandomWindows):
    """Consecutive non-overlapping windows from the start of the split (val / test)."""

    def __init__(self, path: Path, dtype: str, block_size: int):
        super().__init__(path, dtype, block_size, seed=0, num_samples=0)
        self.num_samples = self.num_starts // block_size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return window(self._memmap(), index * self.block_size, self.block_size)


class ChatRows(Dataset):
    """`(x, y)` from the rows of chat data (`data=chat`): one padded conversation per row, y = -1 off the mask.

    Training draws row `rng(seed, i)` for sample `i` (exact resume, as RandomWindows); with `seed`
    None, sample `i` is row `i` (val / test). Rows are cut to `block_size` + 1 tokens.
    """

    def __init__(self, path: Path, meta: dict, block_size: int, seed: int | None = None, num_samples: int = 0):
        self.path, self.dtype, self.row_tokens = path, meta["dtype"], meta["row_tokens"]
        self.length = min(block_size, self.row_tokens - 1) + 1
        self.num_rows = tokens_in(path, self.dtype) // self.row_tokens
        self.seed, self.num_samples = seed, num_samples if seed is not None else self.num_rows
        self._files: tuple[np.memmap, np.memmap] | None = None

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = index if self.seed is None else int(np.random.default_rng([self.seed, index]).integers(self.num_rows))
        ids, mask = self._memmaps()
        chunk = torch.from_numpy(ids[row, : self.length].astype(np.int64))
        targets = chunk[1:].masked_fill(torch.from_numpy(mask[row, 1 : self.length] == 0), -1)
        return chunk[:-1], targets

    def _memmaps(self) -> tuple[np.memmap, np.memmap]:
        if self._files is None:  # opened lazily so that dataloader workers each map the files
            shape = (self.num_rows, self.row_tokens)
            ids = np.memmap(self.path, dtype=self.dtype, mode="r", shape=shape)
            mask = np.memmap(self.path.with_suffix(".mask.bin"), dtype=np.uint8, mode="r", shape=shape)
            self._files = ids, mask
        return self._files


class RankSampler(Sampler[int]):
    """Sample indices `first*world + rank, (first+1)*world + rank, ...` below `count*world`.

    Its length is always the whole epoch (`count`): on resume Lightning counts the batches it
    already trained as part of the epoch, while iteration starts after them, at `first`.
    """

    def __init__(self, first: int, count: int, rank: int, world_size: int):
        self.first, self.count, self.rank, self.world_size = first, count, rank, world_size

    def __iter__(self):
        return (k * self.world_size + self.rank for k in range(self.first, self.count))

    def __len__(self) -> int:
        return self.count


def window(tokens: np.memmap, start: int, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    chunk = torch.from_numpy(tokens[start : start + block_size + 1].astype(np.int64))
    return chunk[:-1], chunk[1:]


def tokens_in(path: Path, dtype: str) -> int:
    return path.stat().st_size // np.dtype(dtype).itemsize


class PackedDataModule(L.LightningDataModule):
    def __init__(self, data_dir: str, block_size: int, batch_size: int, num_workers: int = 0, seed: int = 1337):
        super().__init__()
        self.data_dir = Path(data_dir)
        self.block_size, self.batch_size = block_size, batch_size
        self.num_workers, self.seed = num_workers, seed
        self.meta = read_meta(self.data_dir)
        self.chat = self.meta.get("format") == "chat_padded"
        if self.chat:
            self._check_chat_targets()
        for split in SPLITS if not self.chat else ():
            available = self.meta["tokens"][split]
            if available <= block_size:
                raise UserError(
                    f"the context length {block_size} does not fit the {split} split ({available} tokens): "
                    "lower model.block_size or prepare more data"
                )

    def _check_chat_targets(self) -> None:
        """Every split needs conversations with assistant tokens inside the window, or its loss is undefined."""
        for split in SPLITS:
            if not self.meta["rows"][split]:
                raise UserError(
                    f"the {split} split of {self.data_dir} holds no conversation: add data, or change "
                    "data.split's fractions, and prepare again"
                )
            rows = ChatRows(self._path(split), self.meta, self.block_size)
            mask = rows._memmaps()[1]
            trained = int((mask[:, 1 : rows.length] == 1).any(axis=1).sum())
            if trained == 0:
                raise UserError(
                    f"no conversation of the {split} split in {self.data_dir} has an assistant token within the "
                    f"first {rows.length - 1} tokens: raise model.block_size, or add data and prepare again"
                )
            if trained < len(rows):
                log.warning(
                    "%d of %d %s conversations have no assistant token within model.block_size=%d: they add no loss",
                    len(rows) - trained,
                    len(rows),
                    split,
                    self.block_size,
                )

    @property
    def vocab_size(self) -> int:
        return self.meta["vocab_size"]

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        per_step = self.batch_size * trainer.accumulate_grad_batches
        rank, world = trainer.global_rank, trainer.world_size
        # Global sample k*world+rank is the k-th sample of this rank; resume skips what was trained.
        first, count = trainer.global_step * per_step, trainer.max_steps * per_step
        dataset: Dataset
        if self.chat:
            dataset = ChatRows(self._path("train"), self.meta, self.block_size, self.seed, count * world)
        else:
            dataset = RandomWindows(self._path("train"), self.meta["dtype"], self.block_size, self.seed, count * world)
        return self._loader(dataset, RankSampler(first, count, rank, world))

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def _eval_loader(self, split: str) -> DataLoader:
        dataset: RandomWindows | ChatRows
        if self.chat:
            dataset = ChatRows(self._path(split), self.meta, self.block_size)
        else:
            dataset = FixedWindows(self._path(split), self.meta["dtype"], self.block_size)
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        count = (len(dataset) - rank + world - 1) // world  # windows rank, rank+world, ... below len
        return self._loader(dataset, RankSampler(0, count, rank, world))

    def _loader(self, dataset: Dataset, sampler: Sampler) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def _path(self, split: str) -> Path:
        return self.data_dir / f"{split}.bin"


def read_meta(data_dir: Path) -> dict:
    """meta.json of a prepared data set; a clear error when `prepare` has not run."""
    meta_path = Path(data_dir) / "meta.json"
    if not meta_path.is_file():
        raise UserError(f"no prepared data in {data_dir}: run `python -m {PACKAGE}.prepare` first")
    return json.loads(meta_path.read_text(encoding="utf-8"))
