"""Checks the CI pipelines run on the project itself (dependency lock, benchmark baselines)."""
