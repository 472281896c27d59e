"""The alert-rules callback: watch loss, gradient norm, validation loss and throughput while training.

Actions: `log` (a warning line), `webhook` (POST the alert as JSON; a failed send is a warning,
never an error) and `stop` (save a checkpoint, then stop training as if max_steps were reached).
A non-finite loss or gradient never reaches the weights of a stopped run: that update is skipped,
so the checkpoint holds the last good weights. Every fired alert is kept in `fired` for summary.json.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

from ..utils.logging import get_logger
from .alert_rules import Rule, parse_rules
from .callbacks import token_throughput
from .monitoring import total_grad_norm
from .webhook import post_json

log = get_logger(__name__)


class AlertRules(L.Callback):
    def __init__(
        self,
        rules: Mapping[str, Mapping] | None = None,
        check_every_n_steps: int = 1,
        webhook_url: str | None = None,
        webhook_timeout_s: float = 2.0,
    ):
        self.rules = parse_rules(rules)
        self.check_every_n_steps = max(1, check_every_n_steps)
        self.webhook_url, self.webhook_timeout_s = webhook_url, webhook_timeout_s
        self.fired: list[dict] = []
        self._stop_rule: Rule | None = None  # a stop rule fired in this step, acted on at its end
        self._skip_update = False

    def watches(self, signal: str) -> bool:
        return any(rule.signal == signal for rule in self.rules)

    def on_before_backward(self, trainer, pl_module, loss: torch.Tensor) -> None:
        if self._checking(trainer) and self.watches("loss"):
            loss = loss.detach()
            if trainer.world_size > 1:  # a NaN on any rank makes the mean NaN: every rank decides alike
                loss = trainer.strategy.reduce(loss, reduce_op="mean")
            self._observe(trainer, "loss", float(loss))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self._checking(trainer) and self.watches("grad_norm"):
            norm = total_grad_norm(trainer, pl_module)
            if norm is not None:
                self._observe(trainer, "grad_norm", norm)
        if self._skip_update:
            for param in pl_module.parameters():
                param.grad = None  # the optimizer leaves parameters without gradients untouched

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._checking(trainer) and self.watches("tokens_per_s"):
            meter = token_throughput(trainer)
            if meter and meter.tokens_per_s > 0:  # 0 until its warm-up is over
                self._observe(trainer, "tokens_per_s", meter.tokens_per_s)
        self._act_on_stop(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        loss = trainer.callback_metrics.get("val/loss")
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking and loss is not None:
            self._observe(trainer, "val_loss", float(loss))
            self._act_on_stop(trainer)

    def _checking(self, trainer: L.Trainer) -> bool:
        return trainer.global_step % self.check_every_n_steps == 0

    def _observe(self, trainer: L.Trainer, signal: str, value: float) -> None:
        for rule in self.rules:
            if rule.signal == signal and rule.observe(value):
                self._fire(trainer, rule, value)

    def _fire(self, trainer: L.Trainer, rule: Rule, value: float) -> None:
        alert = {
            "rule": rule.name,
            "kind": rule.kind,
            "step": trainer.global_step,
            "value": value if math.isfinite(value) else str(value),  # strict JSON has no NaN
            "message": f"{rule.name}: {rule.describe(value)}",
            "actions": list(rule.actions),
        }
        log.warning("alert at step %d: %s", trainer.global_step, alert["message"])
        if "webhook" in rule.actions:
            alert["webhook"] = self._send(trainer, alert)
        if "stop" in rule.actions:
            self._stop_rule = self._stop_rule or rule
            if rule.signal in ("loss", "grad_norm"):
                self._skip_update = True
        self.fired.append(alert)

    def _send(self, trainer: L.Trainer, alert: dict) -> str:
        if not self.webhook_url:
            log.warning("alert %s wants a webhook but callbacks.alerts.webhook_url is not set", alert["rule"])
            return "skipped: no webhook_url"
        if not trainer.is_global_zero:
            return "sent by rank 0"
        payload = {**alert, "run_dir": trainer.default_root_dir}
        error = post_json(self.webhook_url, payload, timeout=self.webhook_timeout_s)
        if error:
            log.warning("alert %s: %s (training goes on)", alert["rule"], error)
        return error or "sent"

    def _act_on_stop(self, trainer: L.Trainer) -> None:
        """Save a checkpoint and stop, on every rank together (saving is a collective under DDP)."""
        stop = trainer.strategy.reduce_boolean_decision(self._stop_rule is not None, all=False)
        if not stop:
            return
        rule = self._stop_rule
        name = rule.name if rule else "another-rank"
        checkpoint = trainer.checkpoint_callback
        has_dir = isinstance(checkpoint, ModelCheckpoint) and checkpoint.dirpath
        folder = Path(checkpoint.dirpath) if has_dir else Path(trainer.default_root_dir) / "checkpoints"
        path = folder / f"alert-{name}-step{trainer.global_step}.ckpt"
        trainer.save_checkpoint(path)
        trainer.should_stop = True
        log.warning("alert %s stopped training at step %d; checkpoint %s", name, trainer.global_step, path)
        for alert in self.fired:
            if alert["rule"] == name and "checkpoint" not in alert and "stop" in alert["actions"]:
                alert["checkpoint"] = str(path)
        self._stop_rule, self._skip_update = None, False


def fired_alerts(trainer: L.Trainer) -> list[dict]:
    """The alerts every AlertRules callback of this trainer fired, in order."""
    # Trainer sets `callbacks` in __init__ through its callback connector, so Lightning's types never declare it.
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return [alert for c in callbacks if isinstance(c, AlertRules) for alert in c.fired]
