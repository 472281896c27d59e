"""Helpers shared by the stages: paths, atomic outputs, progress bars, stage running."""
