"""Export a checkpoint.

    python -m <package>.export ckpt_path=<file>.ckpt [version=v3] [promote=false]

Writes artifacts/<version>/ (fp32 and INT8 safetensors, config, tokenizer, manifest) and
artifacts/<version>.tar.gz, and makes the version current unless promote=false.
"""

from ..utils.stage import stage_main
from .exporter import export_checkpoint

main = stage_main("export", export_checkpoint)

if __name__ == "__main__":
    main()
