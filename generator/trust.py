"""Which templates may run their own code here: copier's trust model, plus the team's template.

A template runs code through copier tasks, migrations and Jinja extensions. As with plain
copier, only a trusted template may: one given with `--trust`, or one matching a `trust:` entry in
copier's own user settings file (copier checks that list itself, so there is no second list to
keep). The configured team template (`$LLM_SCAFFOLD_TEMPLATE`) and the checkout this package was
installed from are trusted too: choosing them is the team's act of trust.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from copier import load_settings
from copier.errors import CopierError, UnsafeTemplateError
from platformdirs import user_config_path

from generator import template_source
from generator.errors import SettingsFileError, TemplateSourceError, UntrustedTemplateError

SETTINGS_VAR = "COPIER_SETTINGS_PATH"


def team_templates() -> set[str]:
    """The sources trusted without asking: `$LLM_SCAFFOLD_TEMPLATE` and this package's checkout."""
    trusted = set()
    if os.environ.get(template_source.ENV_VAR):
        with suppress(TemplateSourceError):  # a wrong setting is reported where the template is resolved
            trusted.add(template_source.normalize(os.environ[template_source.ENV_VAR]))
    if template_source.is_checkout_template():
        trusted.add(str(template_source.CHECKOUT))
    return trusted


def allows_code(source: str, trust: bool = False) -> bool:
    """copier's `unsafe` flag for `source`; False still lets copier accept its own `trust:` list."""
    check_settings()
    return trust or comparable(source) in {comparable(team) for team in team_templates()}


def comparable(source: str) -> str:
    """A local path resolved (`/a/b/`, `/a/./b` and `/a/b` are one template); a URL as it is."""
    return source if template_source.is_url(source) else str(Path(source).expanduser().resolve())


def check_settings() -> None:
    """copier's settings file must load: a broken one would fail deep inside copier, or be ignored."""
    path = settings_file()
    if os.environ.get(SETTINGS_VAR) and not path.is_file():
        raise SettingsFileError(
            f"{SETTINGS_VAR} names {path}, which does not exist: create it (e.g. `trust: []`) or unset the variable"
        )
    try:
        load_settings()
    except (CopierError, ValueError) as err:
        detail = " ".join(str(err).split())
        raise SettingsFileError(f"copier's settings file {path} is invalid ({detail}): fix or remove it") from err


def settings_file() -> Path:
    """Where copier reads its user settings (and so its `trust:` list) from."""
    configured = os.environ.get(SETTINGS_VAR)
    return Path(configured) if configured else user_config_path("copier", appauthor=False) / "settings.yml"


@contextmanager
def refusing_untrusted(source: str) -> Iterator[None]:
    """Turn copier's refusal of an untrusted template into a message naming the ways to trust it."""
    try:
        yield
    except UnsafeTemplateError as err:
        features = str(err).split(":", 1)[-1].split("\n", 1)[0].strip().rstrip(".")
        raise UntrustedTemplateError(
            f"template '{source}' would run its own code on this machine ({features}) and is not trusted: "
            f"if you trust it, pass --trust, or add it to `trust:` in copier's settings file {settings_file()} "
            f"(a prefix ending in '/' trusts everything under it), or set ${template_source.ENV_VAR} to it. "
            "Nothing was changed"
        ) from err
