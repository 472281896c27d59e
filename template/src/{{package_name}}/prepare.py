"""Prepare the training data: python -m <package>.prepare [overrides].

Reads `data.source`, cleans, deduplicates and splits it without leaks, trains (or loads) a
byte-level BPE tokenizer and packs each split into `data/processed/<split>.bin`.
"""

from .data.pipeline import prepare_data
from .utils.stage import stage_main

main = stage_main("prepare", prepare_data)

if __name__ == "__main__":
    main()
