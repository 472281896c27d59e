"""The train stage: build data, model, callbacks, loggers and trainer from the config; fit; test.

Returns the stage summary; `val_loss_last` is what a hyper-parameter sweep optimises.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import ProgressBar
from omegaconf import DictConfig, OmegaConf

from ..errors import UserError
from ..models import GPTConfig
from ..models.hf import check_fits, config_from_hf, read_hf_config
from ..utils.instantiate import (
    check_logger_packages,
    instantiate_callbacks,
    instantiate_loggers,
)
from ..utils.logging import get_logger
from .alerts import fired_alerts
from .callbacks import token_throughput
from .checkpoints import check_model_matches, load_base, load_checkpoint
from .finetune import adapter_summary, add_adapter, check_finetune, describe_base, uses_adapter
from .lit_module import GPTLitModule
from .sweep import check_sweep_trainer

log = get_logger(__name__)


def train(cfg: DictConfig) -> dict:
    check_hardware(cfg.trainer)
    check_logger_packages(cfg.get("logger"))
    finetune = plain(cfg.finetune) if cfg.get("finetune") else {"method": "none"}
    check_finetune(finetune, cfg.get("pretrained"))
    L.seed_everything(cfg.seed, workers=True)
    log.info("Instantiating datamodule <%s>", cfg.datamodule._target_)
    datamodule = hydra.utils.instantiate(cfg.datamodule)
    if cfg.get("pretrained"):
        model_config = pretrained_config(cfg.pretrained, cfg.model, datamodule.vocab_size)
    else:
        model_config = model_config_for(cfg.model, datamodule.vocab_size)
    base = describe_base(cfg.pretrained) if uses_adapter(finetune) else None
    if cfg.ckpt_path:
        check_model_matches(cfg.ckpt_path, model_config, finetune["method"], base)

    log.info("Instantiating model <%s>", GPTLitModule.__name__)
    module = GPTLitModule(
        model=model_config,
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.scheduler),
        compile=cfg.compile,
        finetune=finetune,
        base=base,
    )
    if cfg.get("pretrained"):
        log.info("Loading pretrained weights from %s", cfg.pretrained)
        load_base(module.model, cfg.pretrained)
    adapter = {}
    if uses_adapter(finetune):  # after the base weights: the adapter starts as a no-op on them
        add_adapter(module.model, finetune)
        adapter = adapter_summary(module.model)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    if not cfg.trainer.get("enable_progress_bar", True):  # the trainer's switch wins over callbacks.progress_bar
        callbacks = [callback for callback in callbacks if not isinstance(callback, ProgressBar)]
    log.info("Instantiating trainer <%s>", cfg.trainer._target_)
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=instantiate_loggers(cfg.get("logger")))
    check_sweep_trainer(trainer)

    resume = {"ckpt_path": cfg.ckpt_path, "weights_only": True} if cfg.ckpt_path else {}
    val_first = trainer.validate(module, datamodule=datamodule, verbose=False, **resume)[0]["val/loss"]
    trainer.fit(module, datamodule=datamodule, **resume)
    train_loss_last = float(trainer.callback_metrics["train/loss"])
    val_last = trainer.validate(module, datamodule=datamodule, verbose=False)[0]["val/loss"]

    checkpoint, meter = trainer.checkpoint_callback, token_throughput(trainer)
    best = checkpoint.best_model_path if checkpoint else ""
    summary = {
        "val_loss_first": val_first,
        "val_loss_last": val_last,
        "train_loss_last": train_loss_last,
        "global_step": trainer.global_step,
        "tokens_per_s": round(meter.tokens_per_s, 1) if meter else 0.0,
        "checkpoint": best or (checkpoint.last_model_path if checkpoint else ""),
        "last_checkpoint": checkpoint.last_model_path if checkpoint else "",
        "num_params": module.model.num_params(),
        **adapter,
        "run_dir": cfg.paths.output_dir,
        "alerts": fired_alerts(trainer),
    }
    if cfg.test:
        tested = trainer.test(module, datamodule=datamodule, ckpt_path=best or None, verbose=False, weights_only=True)
        summary["test_loss"] = tested[0]["test/loss"]
        summary["test_perplexity"] = math.exp(summary["test_loss"])
    log.info("val loss %.4f -> %.4f after %d steps", val_first, val_last, trainer.global_step)
    return summary


def check_hardware(trainer_cfg: DictConfig) -> None:
    """A GPU trainer config on a machine without CUDA stops here with the fix."""
    if trainer_cfg.get("accelerator") in ("gpu", "cuda") and not torch.cuda.is_available():
        choice = HydraConfig.get().runtime.choices.get("trainer") if HydraConfig.initialized() else None
        raise UserError(
            f"trainer={choice or trainer_cfg.accelerator} needs a CUDA GPU and none is visible: "
            "use trainer=cpu, or trainer=ddp_cpu for 2 CPU processes"
        )


def model_config_for(model_cfg: DictConfig, data_vocab_size: int) -> dict:
    """The model config as a plain dict, with the vocabulary taken from the data when unset."""
    config = plain(model_cfg)
    if config.get("vocab_size") is None:
        config["vocab_size"] = math.ceil(data_vocab_size / 64) * 64  # a multiple of 64 runs faster
    elif config["vocab_size"] < data_vocab_size:
        raise UserError(
            f"model.vocab_size={config['vocab_size']} is smaller than the data's vocabulary ({data_vocab_size}): "
            "set model.vocab_size=null to take it from the data"
        )
    return config


def pretrained_config(directory: str, model_cfg: DictConfig, data_vocab_size: int) -> dict:
    """The shape of the Hugging Face checkpoint in `directory` (its config.json) or of one of our training
    checkpoints (a .ckpt file), not of `model=`.

    Only model.dropout applies, and model.block_size as the training window: a rotary model is built
    that long (positions are computed), a learned position table keeps the checkpoint's length.
    """
    ours = Path(directory).expanduser().is_file()
    if ours:
        trained = {**load_checkpoint(directory).model_config, "dropout": model_cfg.dropout}
        config = GPTConfig(**trained)
    else:
        hf_config = read_hf_config(directory)
        config = config_from_hf(hf_config, dropout=model_cfg.dropout)
    window = model_cfg.block_size
    if window > config.block_size:
        raise UserError(
            f"model.block_size={window} is longer than the context of {directory} ({config.block_size} tokens): "
            f"set model.block_size={config.block_size} or less"
        )
    if config.position == "rope":
        config = replace(config, block_size=window)
    if config.vocab_size < data_vocab_size:
        tokenizer = "the tokenizer it was trained with" if ours else f"data.tokenizer.path={directory}/tokenizer.json"
        raise UserError(
            f"the prepared data has {data_vocab_size} token ids but {directory} knows {config.vocab_size}: prepare the "
            f"data with the model's own tokenizer (prepare {tokenizer})"
        )
    if not ours:
        check_fits(directory, config)  # config.json's sizes against the stored tensors, before allocating
    log.info("Model shape from %s; model.* other than dropout and block_size do not apply", directory)
    return asdict(config)


def plain(node: DictConfig) -> dict:
    container = OmegaConf.to_container(node, resolve=True)
    assert isinstance(container, dict), "a DictConfig converts to a dict"
    return container
