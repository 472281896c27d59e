"""The evaluate stage: test loss and perplexity of a checkpoint on the held-out test split."""

from __future__ import annotations

import math

import hydra
from omegaconf import DictConfig

from ..errors import UserError
from ..utils.instantiate import check_logger_packages, instantiate_loggers
from ..utils.logging import get_logger
from .checkpoints import load_checkpoint
from .fit import check_hardware
from .lit_module import GPTLitModule

log = get_logger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    if not cfg.ckpt_path:
        raise UserError("evaluate needs a checkpoint: pass ckpt_path=<train run dir>/checkpoints/<file>.ckpt")
    check_hardware(cfg.trainer)
    check_logger_packages(cfg.get("logger"))
    checkpoint = load_checkpoint(cfg.ckpt_path)
    model_config = checkpoint.model_config
    log.info("Instantiating datamodule <%s>", cfg.datamodule._target_)
    datamodule = hydra.utils.instantiate(cfg.datamodule, block_size=model_config["block_size"])
    if datamodule.vocab_size > model_config["vocab_size"]:
        raise UserError(
            f"the data's vocabulary ({datamodule.vocab_size}) is larger than the model's "
            f"({model_config['vocab_size']}): evaluate on the data set the checkpoint was trained on"
        )
    module = GPTLitModule(**checkpoint.hyper_parameters)
    module.model = checkpoint.gpt()  # a LoRA checkpoint: its adapter merged into the base
    trainer = hydra.utils.instantiate(cfg.trainer, logger=instantiate_loggers(cfg.get("logger")), callbacks=[])
    test_loss = trainer.test(module, datamodule=datamodule, verbose=False)[0]["test/loss"]
    log.info("test loss %.4f, perplexity %.2f", test_loss, math.exp(test_loss))
    return {
        "test_loss": test_loss,
        "test_perplexity": math.exp(test_loss),
        "checkpoint": str(cfg.ckpt_path),
        "global_step": checkpoint.global_step,
    }
