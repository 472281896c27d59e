"""The fleet file of `llm-scaffold fleet remote`: which git repositories, which branch, which folder.

    repositories:
      - url: git@github.com:acme/chat-bot.git
      - url: https://git.example.com/acme/platform.git
        branch: develop              # default: the remote's default branch
        path: services/search-bot    # default: the repository's top (a monorepo's project folder)
        name: search-bot             # default: from the URL and path; the report's and workdir's name

A local path (a bare repository, say) is read relative to the fleet file's folder and cloned as a
`file://` URL, so that a shallow clone works on it as on a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from generator import template_source
from generator.errors import ScaffoldError

KEYS = {"url", "branch", "path", "name"}
EXAMPLE = "repositories: [{url: git@host:team/bot.git, branch: main, path: services/bot}]"
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FleetFileError(ScaffoldError):
    """The fleet file is missing, not YAML, or lists a repository wrongly."""


@dataclass(frozen=True)
class RemoteRepo:
    url: str  # as written in the fleet file
    clone_url: str  # what git clones and pushes to
    branch: str  # "" = the remote's default branch
    path: str  # "" = the repository's top
    name: str


def load_fleet(file: str | Path) -> list[RemoteRepo]:
    """The repositories of a fleet file, in its order, each with a distinct name."""
    file = Path(file).expanduser()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise FleetFileError(f"cannot read fleet file {file} ({err.strerror}): give the path of a YAML file") from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise FleetFileError(f"fleet file {file} is not valid YAML ({' '.join(str(err).split())}): fix it") from err
    listed = data.get("repositories") if isinstance(data, dict) else data
    if not isinstance(listed, list) or not listed:
        raise FleetFileError(f"fleet file {file} lists no repositories: write e.g. {EXAMPLE}")
    repos, names = [], set()
    for number, item in enumerate(listed, start=1):
        repo = parse_entry(item, f"{file}, repository {number}", file.resolve().parent)
        name, count = repo.name, 1
        while name in names:  # the same repository twice (two folders of a monorepo, say)
            count += 1
            name = f"{repo.name}-{count}"
        names.add(name)
        repos.append(RemoteRepo(repo.url, repo.clone_url, repo.branch, repo.path, name))
    return repos


def parse_entry(item: object, where: str, folder: Path) -> RemoteRepo:
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        raise FleetFileError(f"{where} is not a mapping: write {EXAMPLE}")
    unknown = sorted(set(map(str, item)) - KEYS)
    if unknown:
        raise FleetFileError(f"{where} has unknown key(s) {', '.join(unknown)}: use only {', '.join(sorted(KEYS))}")
    fields = {key: item.get(key) for key in KEYS}
    for key, value in fields.items():
        if value is not None and not isinstance(value, str | int | float):
            raise FleetFileError(f"{where}: `{key}` must be a string")
    url, branch = str(fields["url"] or "").strip(), str(fields["branch"] or "").strip()
    if not url:
        raise FleetFileError(f"{where} has no `url`: give the repository's git URL or path")
    path = PurePosixPath(str(fields["path"] or "").strip() or ".")
    if path.is_absolute() or ".." in path.parts:
        raise FleetFileError(f"{where}: `path` {path} must be a folder inside the repository, like services/bot")
    sub_path = "" if str(path) == "." else str(path)
    name = UNSAFE_NAME.sub("-", str(fields["name"] or default_name(url, sub_path))).strip("-.") or "repository"
    return RemoteRepo(url, clone_url(url, folder), branch, sub_path, name)


def clone_url(url: str, folder: Path) -> str:
    if template_source.is_url(url):
        return url
    return (folder / Path(url).expanduser()).resolve().as_uri()


def default_name(url: str, sub_path: str) -> str:
    last = re.split(r"[/:]", url.rstrip("/"))[-1].removesuffix(".git") or "repository"
    return f"{last}-{sub_path.replace('/', '-')}" if sub_path else last
