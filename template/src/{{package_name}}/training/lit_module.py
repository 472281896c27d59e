"""The LightningModule: a GPT, its loss and perplexity, AdamW with warmup + cosine decay.

Its hyper-parameters are plain dicts, so checkpoints hold only tensors, numbers, strings and
dicts and load with torch's default `weights_only=True`. With a LoRA adapter (training.finetune) the
checkpoints hold the adapter's weights only; the frozen base comes from the run's `pretrained`.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch.optim.lr_scheduler import LambdaLR
from torchmetrics import MeanMetric

from ..models import GPT, GPTConfig
from .finetune import uses_adapter
from .schedule import warmup_cosine


class GPTLitModule(L.LightningModule):
    def __init__(
        self,
        model: dict,
        optimizer: dict,
        scheduler: dict,
        compile: bool = False,
        finetune: dict | None = None,  # configs/finetune; None: all weights train (older checkpoints)
        base: dict | None = None,  # a LoRA run's base model (training.finetune.describe_base)
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = GPT(GPTConfig(**model))
        self.model.gradient_checkpointing = bool((finetune or {}).get("gradient_checkpointing"))
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()

    def configure_model(self) -> None:
        if self.hparams["compile"] and not getattr(self, "_compiled", False):
            self.model.compile()  # in place: parameter names (and checkpoints) stay the same
            self._compiled = True

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """A LoRA run saves its adapter only: the frozen base is the pretrained model the hyper-parameters name.

        Every checkpoint holds torch's random generators too: Lightning restores weights, optimizer, loop and
        data position, not them, so dropout (LoRA's 0.05) would draw other masks after a resume. They are
        set again just before the first resumed batch (on_train_batch_start): creating the data loaders'
        iterators on resume draws from the same generator.
        """
        checkpoint["rng_states"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["rng_states"]["cuda"] = torch.cuda.get_rng_state_all()
        if uses_adapter(self.hparams.get("finetune")):
            trainable = {name for name, param in self.named_parameters() if param.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trainable}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Complete an adapter-only state dict with this module's frozen base, so Lightning's strict load still
        checks that every adapter weight is there and nothing else is."""
        self._resumed_rng_states = checkpoint.get("rng_states")
        if uses_adapter(self.hparams.get("finetune")):
            trainable = {name for name, param in self.named_parameters() if param.requires_grad}
            frozen = {k: v for k, v in self.state_dict().items() if k not in trainable}
            checkpoint["state_dict"] = {**frozen, **checkpoint["state_dict"]}

    def on_train_batch_start(self, batch, batch_idx) -> None:
        rng, self._resumed_rng_states = getattr(self, "_resumed_rng_states", None), None
        if rng:
            torch.set_rng_state(rng["torch"])
            if "cuda" in rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])

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
