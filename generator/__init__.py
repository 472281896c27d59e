"""llm-scaffold: generate PyTorch-Lightning + Hydra LLM projects and keep them up to date."""

__version__ = "0.1.0"
