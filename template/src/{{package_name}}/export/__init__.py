"""Export: INT8 quantization, versioned artifacts with manifests, the artifact registry and packages.

`python -m <package>.export ckpt_path=...` runs the stage (see `__main__.py`); the serving side
imports `load_artifact` from `export.artifact`.
"""
