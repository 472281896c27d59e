"""Benchmarks of this project's own stages: `make bench`, or `python -m <package>.bench <suite>`.

The suites: data, train, export, finetune, and serve where the project serves.

`data` measures the prepare stage on generated corpora, each number against a baseline run in
this same script (absolute times on shared machines mean little):
- tokenize+pack throughput, reading the corpus file timed on every side: the pipeline (Arrow files,
  `data.num_proc` workers) vs one process with a per-document `tokenizer.encode` loop, and vs one
  `tokenizer.encode_batch` call over all documents (the library's own threads on all cores);
- `prepare` with near-dup and quality rules / without them on the built-in corpus x4 (goal <= 1.5),
  interleaved, each side's fastest of --repeats runs, timed by the stage itself;
- memory: peak PSS of `prepare`'s process tree (each page counted once) on the corpus x2 and x16, and
  its anonymous part, whose growth per corpus MB is the goal (<= 1 MB).

`train` measures training throughput (tokens/s) of the project's Lightning step (GPTLitModule in a
lean Trainer) against a plain PyTorch loop with the same model, data windows, AdamW, LR schedule,
gradient clipping and precision, for the `small` and `tiny` model presets on random tokens:
- the ratio lightning/plain (1.0: Lightning costs nothing), the sides' runs interleaved, each
  step's fastest run counting (on the CPU);
- MFU of both sides: model FLOPs per second over a peak, on the CPU an fp32 matmul measured here
  at the same thread count, on CUDA (`--device cuda`, bf16-mixed) `--peak-tflops`.

`export` trains the `tiny` and `small` presets briefly on a generated corpus, exports each and
compares its INT8 model with the fp32 one: bytes (goal <= 0.30x), val perplexity (goal <= +1%)
and greedy generation latency through the serving engine's loop (goal <= 0.6x), both models timed interleaved.

`finetune` trains one Llama-shaped model with LoRA and with full fine-tuning on the same batches,
each side in its own process: LoRA / full training memory (goal <= 0.6) and tokens/s (goal >= 1.0).

`serve` puts a seeded Poisson workload of streaming requests on the real server with continuous and with
static batching (and one row at a time), interleaved and repeated: tokens/s (goal >= 1.5x), p50 time to
first token (goal <= 0.5x), p99 end-to-end latency, a table over 1 / 8 / 32 / 64 clients, and the
server's tokens/s over the raw engine's.
"""
