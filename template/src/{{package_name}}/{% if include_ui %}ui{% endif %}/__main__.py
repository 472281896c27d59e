"""Serve the workflow page: python -m <package>.ui [ui.port=8765] [ui.host=127.0.0.1].

Shows the pipeline (prepare -> train -> evaluate -> export -> serve) from the run folders, composes
a stage's config from configs/, launches it and follows its log and curves, manages the exported
artifacts and shows sweep results. Settings: configs/ui.yaml.
"""

from ..utils.stage import stage_main
from .server import serve_page

main = stage_main("ui", serve_page)

if __name__ == "__main__":
    main()
