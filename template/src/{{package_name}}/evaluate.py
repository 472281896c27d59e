"""Evaluate a checkpoint: python -m <package>.evaluate ckpt_path=<file>.ckpt.

Reports the test loss and perplexity on the held-out test split.
"""

from .training.evaluation import evaluate
from .utils.stage import stage_main

main = stage_main("evaluate", evaluate)

if __name__ == "__main__":
    main()
