"""Training callbacks of our own; the rest come from Lightning (see configs/callbacks)."""

from __future__ import annotations

import time

import lightning as L


class TokenThroughput(L.Callback):
    """Training tokens per second over all ranks, batch end to batch end (data loading included).

    The one meter behind `train/tokens_per_s`, the summary's `tokens_per_s` and the `slow` alert (the
    average since warm-up), and the progress lines' tokens/s (the rate between two lines). The batch
    after each validation is not counted, so validation and checkpointing are not training time. Only
    a clock read per batch: nothing on the hot path synchronises the device.

    Not Lightning's `ThroughputMonitor`, which on the smoke run (CPU, 150 steps) took 79 µs per batch
    (median; this one 10 µs), and by design: it calls `torch.cuda.synchronize()` after every batch; it
    logs to the loggers directly, so the alert rules and the summary could read it only from its
    private state; its rates roll over 100 batches and are missing before that; it adds 11 columns
    (`train/time`, `train/device/items_per_sec`, ..., `validate/lengths`) to the CSV log.
    """

    def __init__(self, warmup_steps: int = 5, log_every_n_steps: int = 50):
        self.warmup_steps, self.log_every_n_steps = warmup_steps, log_every_n_steps
        self.tokens, self.seconds = 0, 0.0  # every counted batch, warm-up included
        self._warm: tuple[int, float] | None = None  # the counts when the warm-up was over
        self._last: float | None = None

    @property
    def tokens_per_s(self) -> float:
        """Average since the warm-up (compilation, caches); 0.0 until a batch after it is counted."""
        if self._warm is None or self.seconds == self._warm[1]:
            return 0.0
        return (self.tokens - self._warm[0]) / (self.seconds - self._warm[1])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.seconds += now - self._last
            self.tokens += batch[0].numel() * trainer.world_size
        self._last = now
        if self._warm is None and trainer.global_step >= self.warmup_steps:
            self._warm = (self.tokens, self.seconds)
        elif self._warm is not None and trainer.global_step % self.log_every_n_steps == 0:
            pl_module.log("train/tokens_per_s", self.tokens_per_s, on_step=True, on_epoch=False)

    def on_validation_start(self, trainer, pl_module) -> None:
        self._last = None


def token_throughput(trainer: L.Trainer) -> TokenThroughput | None:
    """The trainer's TokenThroughput callback, None when the config removed it (`~callbacks.throughput`)."""
    # Trainer sets `callbacks` in __init__ through its callback connector, so Lightning's types never declare it.
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return next((c for c in callbacks if isinstance(c, TokenThroughput)), None)
