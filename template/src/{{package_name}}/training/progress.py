"""Training progress: Lightning's progress bar in a terminal, plain log lines anywhere else.

A progress bar redraws one line in place. In a CI log or behind `| tee` that shows nothing until
the end (Rich) or a wall of carriage returns (tqdm), so when stdout is not a terminal the train
stage logs a line every `every_n_steps` steps or `every_s` seconds, whichever comes first.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

from ..errors import UserError
from ..utils.logging import get_logger
from .callbacks import token_throughput

log = get_logger(__name__)


def progress_bar(every_n_steps: int = 50, every_s: float = 30.0) -> ProgressBar:
    """Lightning's default bar (Rich) when stdout is a terminal, else `PlainProgress`."""
    if sys.stdout.isatty():
        return RichProgressBar()
    return PlainProgress(every_n_steps, every_s)


class PlainProgress(ProgressBar):
    """Log `step 50/300  loss 2.3412  tokens/s 12,345  ETA 0:00:41` lines, and the val loss after each validation.

    Tokens/s is the rate of the `TokenThroughput` callback (all ranks, validation left out) between
    this line and the previous one; without that callback, or with no batch counted since, the line
    leaves it out. The ETA extrapolates the whole run so far, validation included.
    """

    def __init__(self, every_n_steps: int = 50, every_s: float = 30.0) -> None:
        super().__init__()
        if every_n_steps < 1 or every_s <= 0:
            raise UserError(
                f"callbacks.progress_bar.every_n_steps={every_n_steps} and every_s={every_s} must be positive"
            )
        self.every_n_steps, self.every_s = every_n_steps, every_s
        self._enabled = True
        self._start_step = self._last_step = 0
        self._started = self._last_time = 0.0
        self._total: int | float = float("inf")  # optimizer steps of the run (max_steps, or from max_epochs)
        self._counted = (0, 0.0)  # TokenThroughput's tokens and seconds at the previous line

    def disable(self) -> None:
        self._enabled = False  # Lightning disables the bar on every rank but the first

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = self._last_time = time.monotonic()
        self._start_step = self._last_step = trainer.global_step  # a resumed run starts past zero
        self._total, self._counted = trainer.estimated_stepping_batches, counted(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step, now = trainer.global_step, time.monotonic()
        due = step % self.every_n_steps == 0 or now - self._last_time >= self.every_s
        if self._enabled and step > self._last_step and (due or step >= self._total):
            log.info(self.step_line(trainer, step, now))
            self._last_step, self._last_time, self._counted = step, now, counted(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loss = trainer.progress_bar_metrics.get("val/loss")
        if self._enabled and trainer.state.fn == "fit" and not trainer.sanity_checking and loss is not None:
            log.info("%s  val/loss %.4f", self.position(trainer.global_step), loss)

    def step_line(self, trainer: L.Trainer, step: int, now: float) -> str:
        parts = [self.position(step)]
        loss = trainer.progress_bar_metrics.get("train/loss")
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        tokens, seconds = counted(trainer)
        if seconds > self._counted[1]:
            parts.append(f"tokens/s {(tokens - self._counted[0]) / (seconds - self._counted[1]):,.0f}")
        if self._total != float("inf"):
            eta = (self._total - step) * (now - self._started) / (step - self._start_step)
            parts.append(f"ETA {timedelta(seconds=round(eta))}")
        return "  ".join(parts)

    def position(self, step: int) -> str:
        return f"step {step}" if self._total == float("inf") else f"step {step}/{self._total}"


def counted(trainer: L.Trainer) -> tuple[int, float]:
    """Tokens and seconds counted so far by the trainer's TokenThroughput; none without it."""
    meter = token_throughput(trainer)
    return (meter.tokens, meter.seconds) if meter else (0, 0.0)
