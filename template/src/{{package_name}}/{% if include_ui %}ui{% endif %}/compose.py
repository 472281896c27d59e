"""Compose a stage's config the way the stage itself will: Hydra's compose API on the project's configs/.

The page picks one option per config group and adds overrides; what it launches is
`python -m <package>.<stage> <group choices> <overrides>`, the command shown before launching.
"""

from __future__ import annotations

import shlex
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

from ..utils.paths import CONFIG_DIR, PACKAGE

STAGES = ("prepare", "train", "evaluate", "export", "serve", "analyze")  # pipeline order
HIDDEN_GROUPS = ("hydra", "paths")  # where a run writes is the project's layout, not a per-run choice
MAX_OVERRIDES = 100
_hydra_lock = threading.Lock()  # Hydra's global state: one composition at a time


@dataclass
class Composition:
    stage: str
    defaults: dict[str, str | None] = field(default_factory=dict)  # group -> option of the stage's config
    choices: dict[str, str | None] = field(default_factory=dict)  # group -> option after the overrides
    options: dict[str, list[str]] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)  # what the command line passes
    config: str = ""  # the composed config as YAML (interpolations as written)
    errors: dict[str, str] = field(default_factory=dict)  # field ("stage", "group.<name>", "overrides") -> message

    @property
    def argv(self) -> list[str]:
        return ["python", "-m", f"{PACKAGE}.{self.stage}", *self.overrides]

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def stages() -> list[str]:
    return [stage for stage in STAGES if (Path(CONFIG_DIR) / f"{stage}.yaml").is_file()]


@contextmanager
def hydra_context() -> Iterator[None]:
    """Inside `python -m <package>.ui` Hydra is initialised on configs/ already; elsewhere (tests) start it."""
    with _hydra_lock:
        if GlobalHydra.instance().is_initialized():
            yield
        else:
            with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
                yield


def compose_run(stage: str, selections: dict[str, str], extra: list[str]) -> Composition:
    """The config `stage` gets with one option per group (`""`: none) and `extra` overrides."""
    result = Composition(stage)
    if stage not in stages():
        result.errors["stage"] = f"no stage {stage!r}: choose one of {', '.join(stages())}"
        return result
    extra = [line.strip() for line in extra if line.strip()]
    if len(extra) > MAX_OVERRIDES:
        result.errors["overrides"] = f"{len(extra)} overrides: at most {MAX_OVERRIDES}"
        return result
    with hydra_context():
        try:
            base = compose(config_name=stage, return_hydra_config=True)
        except Exception as err:  # a broken configs/<stage>.yaml: shown on the page
            result.errors["stage"] = f"configs/{stage}.yaml does not compose: {hydra_message(err)}"
            return result
        result.defaults = visible_groups(OmegaConf.to_container(base.hydra.runtime.choices))
        loader = GlobalHydra.instance().config_loader()
        result.options = {group: loader.get_group_options(group) for group in result.defaults}
        group_overrides = choose(result, selections)
        parse_errors(result, extra)
        result.overrides = [*group_overrides, *extra]
        if result.errors:
            return result
        try:
            cfg = compose(config_name=stage, overrides=result.overrides, return_hydra_config=True)
        except Exception as err:  # any composition failure is about the input: shown, not raised
            attribute(result, extra, hydra_message(err))
            return result
    result.choices = visible_groups(OmegaConf.to_container(cfg.hydra.runtime.choices))
    with open_dict(cfg):
        del cfg["hydra"]
    result.config = OmegaConf.to_yaml(cfg)
    return result


def visible_groups(choices: object) -> dict[str, str | None]:
    """The stage's own groups, in the order of its defaults list (Hydra records them last first)."""
    assert isinstance(choices, dict), "Hydra's runtime choices are a mapping"
    return {
        str(group): option
        for group, option in reversed(choices.items())
        if "/" not in str(group) and str(group) not in HIDDEN_GROUPS
    }


def choose(result: Composition, selections: dict[str, str]) -> list[str]:
    """`group=option` for each selection that differs from the stage's default (`~group` to drop one)."""
    overrides = []
    for group, option in selections.items():
        if group not in result.defaults:
            result.errors[f"group.{group}"] = f"{result.stage} has no config group {group!r}"
        elif option == (result.defaults[group] or ""):
            continue
        elif option == "":
            overrides.append(f"~{group}")
        elif option not in result.options[group]:
            known = ", ".join(result.options[group])
            result.errors[f"group.{group}"] = f"no configs/{group}/{option}.yaml: choose one of {known}"
        else:
            overrides.append(f"{group}={option}")
    return overrides


def parse_errors(result: Composition, extra: list[str]) -> None:
    """Hydra's override grammar, line by line, so that the message names the line."""
    parser = OverridesParser.create()
    for number, line in enumerate(extra, start=1):
        control = next((char for char in line if unicodedata.category(char) in ("Cc", "Cs")), None)
        if control is not None:  # a NUL cannot be a process argument; the others garble the shown command
            result.errors["overrides"] = f"line {number} holds the control character U+{ord(control):04X}: remove it"
            return
        try:
            parser.parse_overrides([line])
        except Exception as err:  # Hydra's grammar errors are several classes
            result.errors["overrides"] = f"line {number}, {line}: {hydra_message(err)}"
            return


def attribute(result: Composition, extra: list[str], message: str) -> None:
    """Put Hydra's message next to the field it is about: the override line it names, a group, else the overrides."""
    for number, line in enumerate(extra, start=1):
        key = line.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
        if key and (f"'{key}'" in message or f"'{key.replace('.', '/')}/" in message):
            result.errors["overrides"] = f"line {number}, {line}: {message}"
            return
    for group in result.defaults:
        if f"'{group}/" in message:
            result.errors[f"group.{group}"] = message
            return
    result.errors["overrides"] = message


def hydra_message(err: BaseException) -> str:
    """Hydra's message and its cause's (which names the key), without the config search path."""
    parts = [str(err).split("\nConfig search path:", 1)[0].strip()]
    cause = err.__cause__
    if cause is not None and str(cause).strip() and str(cause).strip() not in parts[0]:
        parts.append(str(cause).strip())
    return "\n".join(part for part in parts if part) or type(err).__name__
