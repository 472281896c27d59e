"""Training callbacks of our own; the rest come from Lightning (see configs/callbacks)."""

from __future__ import annotations

import time

import lightning as L


class TokenThroughput(L.Callback):
    """Training tokens per second over all ranks, batch end to batch end (data loading included).

    Warm-up steps (compilation, caches) and the batches right after validation are left out.
    Only a clock read per batch: nothing on the hot path synchronises the device.
    """

    def __init__(self, warmup_steps: int = 5, log_every_n_steps: int = 50):
        self.warmup_steps, self.log_every_n_steps = warmup_steps, log_every_n_steps
        self.tokens, self.seconds = 0, 0.0
        self._last: float | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None and trainer.global_step > self.warmup_steps:
            self.seconds += now - self._last
            self.tokens += batch[0].numel() * trainer.world_size
            if trainer.global_step % self.log_every_n_steps == 0:
                pl_module.log("train/tokens_per_s", self.tokens_per_s, on_step=True, on_epoch=False)
        self._last = now

    def on_validation_start(self, trainer, pl_module) -> None:
        self._last = None
