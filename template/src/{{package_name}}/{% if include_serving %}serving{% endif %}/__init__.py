"""The inference server: LitServe with dynamic batching behind an OpenAI-compatible /v1/completions."""
