"""The data pipeline behind `prepare`: sources, cleaning, dedup, splits, tokenizer, packing."""
