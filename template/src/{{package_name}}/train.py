"""Train a GPT: python -m <package>.train [experiment=smoke] [trainer=...] [overrides].

Fits on the prepared data, validates before and after, tests the best checkpoint and returns
`optimized_metric` so that a Hydra sweep can minimise it.
"""

from .training.fit import train
from .utils.stage import stage_main

main = stage_main("train", train, result=lambda cfg, summary: summary[cfg.optimized_metric])

if __name__ == "__main__":
    main()
