"""The LightningModule: a GPT, its loss and perplexity, AdamW with warmup + cosine decay.

Its hyper-parameters are plain dicts, so checkpoints hold only tensors, numbers, strings and
dicts and load with torch's default `weights_only=True`.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch.optim.lr_scheduler import LambdaLR
from torchmetrics import MeanMetric

from ..models import GPT, GPTConfig
from .schedule import warmup_cosine


class GPTLitModule(L.LightningModule):
    def __init__(self, model: dict, optimizer: dict, scheduler: dict, compile: bool = False):
        super().__init__()
        self.save_hyperparameters()
        self.model = GPT(GPTConfig(**model))
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()

    def configure_model(self) -> None:
        if self.hparams["compile"] and not getattr(self, "_compiled", False):
            self.model.compile()  # in place: parameter names (and checkpoints) stay the same
            self._compiled = True

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        return self.model(idx, targets)

    def training_step(self, batch, batch_idx) -> torch.Tensor:
        _, loss = self.model(*batch)
        self.log("train/loss", loss, on_step=True, prog_bar=True)
        if self.model.config.moe_experts:
            self.log("train/aux_loss", self.model.aux_loss, on_step=True)
        return loss

    def validation_step(self, batch, batch_idx) -> None:
        self.val_loss.update(self.model(*batch)[1])

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val", self.val_loss)

    def test_step(self, batch, batch_idx) -> None:
        self.test_loss.update(self.model(*batch)[1])

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test", self.test_loss)

    def _log_epoch(self, stage: str, metric: MeanMetric) -> None:
        loss = metric.compute()  # mean over all batches of all ranks
        metric.reset()
        # Already reduced over ranks; sync_dist only tells Lightning the value is global.
        self.log(f"{stage}/loss", loss, prog_bar=True, sync_dist=True)
        self.log(f"{stage}/ppl", torch.exp(loss), sync_dist=True)

    def configure_optimizers(self):
        opt, sched = self.hparams.optimizer, self.hparams.scheduler
        optimizer = self.model.configure_optimizers(
            weight_decay=opt["weight_decay"],
            learning_rate=opt["lr"],
            betas=tuple(opt["betas"]),
            device_type=self.device.type,
        )
        schedule = partial(
            warmup_cosine,
            warmup_steps=sched["warmup_steps"],
            max_steps=sched["max_steps"],
            min_lr_ratio=sched["min_lr_ratio"],
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": LambdaLR(optimizer, schedule), "interval": "step"},
        }
