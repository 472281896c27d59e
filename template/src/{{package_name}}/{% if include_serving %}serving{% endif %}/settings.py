"""The server's settings: configs/serve.yaml holds every value (the defaults too), ServeSettings every rule.

The model has no defaults of its own, so that the values live in one place: Python callers (the benchmark,
the tests) compose the config with overrides (load_settings), as the command line does.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from ..errors import ServeError
from ..utils.paths import CONFIG_DIR

# serve.host: loopback only, or every interface (a deliberate choice, never the default).
LOOPBACK = "127.0.0.1"
Host = Literal["127.0.0.1", "0.0.0.0", "::"]  # nosec B104

POSITIVE = "a positive integer"
SECONDS = "a number of seconds above 0"
HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
MAX_WEIGHT = 1e9  # relative traffic weights: large enough for any split, small enough that their sum stays finite
CORES = os.cpu_count() or 1  # torch threads beyond the cores only slow a worker down (or crash it, at 1e8)


class VariantSetting(BaseModel):
    """One served variant of an A/B test or canary: an artifact and its share of the traffic."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="letters, digits, . _ - (64 at most)")
    artifact: str | None = Field(
        description="a version in paths.artifacts_dir, an artifact folder, or null for current"
    )
    weight: float = Field(ge=0, le=MAX_WEIGHT, allow_inf_nan=False, description=f"a share from 0 to {MAX_WEIGHT:g}")


class ServeSettings(BaseModel):
    """The `serve` group, checked; a field's description is what its error message asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    host: Host = Field(description="127.0.0.1 (this machine only), or 0.0.0.0 or :: (every interface)")
    port: int = Field(ge=1024, le=65535, description="a free port from 1024 to 65535")
    scheduler: Literal["continuous", "static"] = Field(description="continuous or static")
    max_batch_size: int = Field(ge=1, description=POSITIVE)
    prefill_chunk: int = Field(ge=0, description="0 (a whole prompt per step) or a positive number of tokens")
    batch_timeout: float = Field(ge=0, description="a number of seconds, 0 or more")
    workers: int = Field(ge=1, description=POSITIVE)
    accelerator: Literal["auto", "cpu", "cuda", "mps"] = Field(description="one of auto, cpu, cuda, mps")
    threads: int | None = Field(ge=1, le=CORES, description=f"from 1 to this machine's {CORES} cores, or null")
    timeout: float = Field(gt=0, description=SECONDS)
    drain_timeout: float = Field(ge=0, description="a number of seconds, 0 or more")
    variants: list[VariantSetting] | None = Field(description="null, or a list of {name, artifact, weight}")
    sticky_header: str | None = Field(pattern=HEADER_NAME, description="an HTTP header name such as x-user-id, or null")
    api_key_env: str | None = Field(description="the name of an environment variable, or null for no key")
    api_key: str | None = Field(repr=False, description="read from the variable serve.api_key_env names, not a file")
    allow_unauthenticated: bool = Field(description="true or false")
    max_tokens_cap: int = Field(ge=1, description=POSITIVE)
    default_max_tokens: int = Field(ge=1, description=POSITIVE)
    cache_size: int = Field(ge=0, description="an integer, 0 or more (0 disables the cache)")
    max_body_bytes: int = Field(ge=1, description=POSITIVE)
    max_in_flight: int = Field(ge=1, description=POSITIVE)
    read_timeout: float = Field(gt=0, description=SECONDS)
    idle_timeout: float = Field(gt=0, description=SECONDS)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = Field(
        description="one of critical, error, warning, info, debug, trace"
    )

    @model_validator(mode="after")
    def consistent(self) -> ServeSettings:
        if self.default_max_tokens > self.max_tokens_cap:
            raise PydanticCustomError(
                "serve", "serve.default_max_tokens is above serve.max_tokens_cap: lower it or raise the cap"
            )
        if self.batch_timeout > self.timeout:
            raise PydanticCustomError("serve", "serve.batch_timeout is above serve.timeout: lower it")
        if self.variants is not None:
            names = [variant.name for variant in self.variants]
            if not names or len(set(names)) < len(names):
                raise PydanticCustomError("serve", "serve.variants needs at least one variant, each with its own name")
            if sum(variant.weight for variant in self.variants) <= 0:
                raise PydanticCustomError("serve", "serve.variants: give at least one variant a weight above 0")
        check_exposure(self)
        return self


def settings_from(serve: DictConfig) -> ServeSettings:
    """The `serve` group as settings, with the API key from the variable serve.api_key_env names."""
    options: dict[str, Any] = {str(key): value for key, value in OmegaConf.to_container(serve, resolve=True).items()}
    if "api_key" in options:
        raise ServeError("serve.api_key is not a serve setting: put the key in the variable serve.api_key_env names")
    variable = options.get("api_key_env")
    api_key = os.environ.get(variable) if isinstance(variable, str) and variable else None
    try:
        return ServeSettings.model_validate({**options, "api_key": api_key or None})
    except ValidationError as error:
        raise settings_error(error) from None


def load_settings(*overrides: str) -> ServeSettings:
    """configs/serve.yaml's settings with Hydra overrides ("serve.port=8001"), for callers outside a Hydra app."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return settings_from(compose(config_name="serve", overrides=list(overrides)).serve)


def settings_error(error: ValidationError) -> ServeError:
    """pydantic's first error as a ServeError that names serve.<field> and what it must be."""
    details = error.errors(include_url=False)[0]
    if not details["loc"]:  # one of the checks across fields above, in our words already
        return ServeError(details["msg"])
    name = str(details["loc"][0])
    if name == "variants" and len(details["loc"]) == 3:  # variants[i].field
        index, field = details["loc"][1], str(details["loc"][2])
        if details["type"] in ("extra_forbidden", "missing"):
            problem = "is not a variant setting" if details["type"] == "extra_forbidden" else "is missing"
            return ServeError(f"serve.variants[{index}].{field} {problem}: each variant has name, artifact, weight")
        rule = VariantSetting.model_fields[field].description
        return ServeError(f"serve.variants[{index}].{field}={details['input']!r} must be {rule}")
    if details["type"] == "extra_forbidden":
        return ServeError(f"serve.{name} is not a serve setting: remove it or check its spelling")
    if details["type"] == "missing":
        return ServeError(f"serve.{name} is missing: add it to configs/serve.yaml")
    rule = ServeSettings.model_fields[name].description
    return ServeError(f"serve.{name}={details['input']!r} must be {rule}")


def check_exposure(settings: ServeSettings) -> None:
    """Beyond loopback, anyone who can reach the port can use the model: only with a key, or when told to."""
    if settings.host == LOOPBACK or settings.api_key or settings.allow_unauthenticated:
        return
    variable = f"set {settings.api_key_env}" if settings.api_key_env else "set serve.api_key_env and that variable"
    raise PydanticCustomError(
        "serve",
        f"serve.host={settings.host} would serve every network interface without an API key, so anyone who "
        f"reaches the port could use the model: {variable} to a secret key, or pass "
        "serve.allow_unauthenticated=true when the network itself is trusted",
    )
