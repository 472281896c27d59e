"""Manage exported artifacts.

Usage: python -m <package>.artifacts list|verify|promote|rollback|history
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import UserError
from .export.manifest import read_manifest, verify_files
from .export.registry import Registry
from .utils.paths import PACKAGE, project_root

EPILOG = f"""examples (python -m {PACKAGE}.artifacts ...):
  list               versions, the current one marked *
  verify             check every file of the current version
  promote v3         serve v3 from now on
  rollback           back to the version current before it"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PACKAGE}.artifacts",
        description="List, verify, promote and roll back the versions written by the export stage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_dir = Path(project_root()) / "artifacts"
    parser.add_argument("--dir", type=Path, default=default_dir, help=f"the registry folder (default {default_dir})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    listing = commands.add_parser("list", help="versions with size and perplexity; * marks the current one")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    verify = commands.add_parser("verify", help="check every file of a version (sha256) and that it holds no other")
    verify.add_argument("version", nargs="?", help="default: the current version")
    promote = commands.add_parser("promote", help="make a version current (after verifying it)")
    promote.add_argument("version")
    commands.add_parser("rollback", help="make the previously current version current again")
    commands.add_parser("history", help="every promote and rollback, oldest first")
    args = parser.parse_args(argv)

    registry = Registry(args.dir)
    try:
        if args.command == "list":
            show_versions(registry, args.json)
        elif args.command == "verify":
            folder, version = registry.resolve(args.version)
            manifest = read_manifest(folder)
            verify_files(folder, manifest, unlisted=True)
            print(f"{version}: {len(manifest['files'])} files match manifest.json ({folder})")
        elif args.command == "promote":
            registry.promote(args.version)
            print(f"current: {registry.current()}")
        elif args.command == "rollback":
            print(f"current: {registry.rollback()}")
        else:
            for event in registry.history():
                print(f"{event['at']}  {event['action']:<8} {event['from'] or '-'} -> {event['version']}")
    except (UserError, OSError) as err:  # OSError: a registry folder that cannot be read or written
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def show_versions(registry: Registry, as_json: bool) -> None:
    current = registry.current()
    rows = []
    for version in registry.versions():
        manifest = read_manifest(registry.root / version)
        metrics = manifest.get("metrics", {})
        rows.append(
            {
                "version": version,
                "current": version == current,
                "created": manifest.get("created"),
                "int8_bytes": metrics.get("int8_bytes"),
                "fp32_perplexity": metrics.get("fp32_perplexity"),
                "int8_perplexity": metrics.get("int8_perplexity"),
                "source": manifest.get("source", {}).get("checkpoint"),
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        export = f"python -m {PACKAGE}.export ckpt_path=..."
        print(f"no artifacts in {registry.root}: run {export}")
    for row in rows:
        size = f"{row['int8_bytes'] / 1e6:.2f} MB" if is_number(row["int8_bytes"]) else "?"
        ppl = f"ppl {row['int8_perplexity']:.3f}" if is_number(row["int8_perplexity"]) else ""
        print(f"{'*' if row['current'] else ' '} {row['version']:<10} {row['created']}  int8 {size}  {ppl}")


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


if __name__ == "__main__":
    sys.exit(main())
