"""Lightning training: data module, LightningModule, callbacks, checkpointing, strategies."""
