"""Analyse a checkpoint.

    python -m <package>.analyze ckpt_path=<file>.ckpt [prompt="..."]

Writes attention maps per layer and head, MLP activation histograms (dead and saturated units
flagged) and the run's loss / learning-rate / gradient-norm curves as PNGs, and a report linking them.
"""

from .analysis.stage import analyze
from .utils.stage import stage_main

main = stage_main("analyze", analyze)

if __name__ == "__main__":
    main()
