"""The workflow page: the pipeline's runs, composing and launching stages, artifacts and sweeps, in a browser.

`python -m <package>.ui` serves it (see `__main__.py`). It keeps no state of its own: runs are read
from their folders under `logs/`, artifacts from the registry, and a stage runs as the same
`python -m <package>.<stage> ...` command a user would type.
"""
