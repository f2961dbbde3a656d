"""Per-model behaviour of the emulator: speed, limits, context window, prompt-cache minimum.

The defaults ship in ``profiles.json`` (package data; its ``_about`` says where each number
comes from). A user file (JSON or YAML) is merged over them **per model and per field**::

    models:
      gpt-4o: {ttft_s: 0.2, rpm: 500, tpm: 30000}      # changes three fields of gpt-4o
      my-finetune: {provider: openai, ttft_s: 0.3}      # a new model: provider is required
      "*": {provider: openai, ttft_s: 0.5}              # serves any unknown model name

Without a ``"*"`` entry an unknown model is answered with a 404 naming the known models.
:class:`ProfileOverrides` then forces fields on every profile (benchmarks use it to make every
answer take exactly L seconds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from inferopt.errors import ConfigError

Provider = Literal["openai", "anthropic", "gemini"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "gemini")
WILDCARD = "*"
# Dated model ids (claude-sonnet-4-5-20250929, gpt-4o-2024-08-06) resolve to their family profile.
_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """How one emulated model behaves.

    ``context_window`` is the largest prompt (input tokens) the model accepts;
    ``min_cacheable_tokens`` is the shortest prefix the provider caches (None: no prompt
    caching). ``rpm``/``tpm`` None means unlimited. ``fixed_latency_s``, when set, makes every
    answer take exactly that long (no jitter), whatever its length.
    """

    name: str
    provider: Provider
    ttft_s: float = 0.5
    tokens_per_s: float = 80.0
    jitter: float = 0.1
    error_rate: float = 0.0
    rpm: int | None = None
    tpm: int | None = None
    context_window: int = 128_000
    max_output_tokens: int = 16_384
    min_cacheable_tokens: int | None = 1024
    fixed_latency_s: float | None = None


_FIELD_NAMES = tuple(f.name for f in fields(ModelProfile) if f.name != "name")
_OPTIONAL_FIELDS = {"rpm", "tpm", "min_cacheable_tokens", "fixed_latency_s"}
_INT_FIELDS = {"rpm", "tpm", "context_window", "max_output_tokens", "min_cacheable_tokens"}


@dataclass(frozen=True, slots=True)
class ProfileOverrides:
    """Fields forced on every profile; None leaves a field as the profile has it."""

    fixed_latency_s: float | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    jitter: float | None = None
    rpm: int | None = None
    tpm: int | None = None

    def apply(self, profile: ModelProfile) -> ModelProfile:
        changes = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(profile, **changes) if changes else profile


class ProfileTable:
    """The profiles of one emulator, looked up by the model name a request asks for."""

    def __init__(self, profiles: Mapping[str, ModelProfile]) -> None:
        self._profiles = dict(profiles)

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def get(self, name: str) -> ModelProfile | None:
        """The profile for a model name exactly as listed (``"*"`` included)."""
        return self._profiles.get(name)

    def lookup(self, model: str, provider: Provider | None = None) -> ModelProfile | None:
        """The profile serving ``model`` on ``provider``'s route, or None (the caller answers 404).

        Exact name first, then the name without a date suffix, then the ``"*"`` profile.
        With ``provider`` given, a model of the other provider is not served on this route.
        """
        profile = self._profiles.get(model)
        if profile is None:
            undated = _DATE_SUFFIX.sub("", model)
            profile = self._profiles.get(undated) if undated != model else None
        if profile is not None and provider is not None and profile.provider != provider:
            profile = None
        if profile is None and (wildcard := self._profiles.get(WILDCARD)) is not None:
            return replace(wildcard, name=model)
        return profile

    def names(self, provider: Provider | None = None) -> list[str]:
        """Known model names (without ``"*"``), optionally only one provider's."""
        return sorted(
            n for n, p in self._profiles.items() if n != WILDCARD and (provider is None or p.provider == provider)
        )

    def with_overrides(self, overrides: ProfileOverrides) -> ProfileTable:
        return ProfileTable({n: overrides.apply(p) for n, p in self._profiles.items()})


def load_profiles(profiles_file: str | Path | None = None, overrides: ProfileOverrides | None = None) -> ProfileTable:
    """The shipped profiles, merged with ``profiles_file`` (JSON or YAML), with ``overrides``."""
    shipped = resources.files("inferopt.emulator").joinpath("profiles.json").read_text(encoding="utf-8")
    raw: dict[str, dict[str, Any]] = dict(_models_section(json.loads(shipped), "profiles.json"))
    if profiles_file is not None:
        path = Path(profiles_file)
        for name, entry in _models_section(_read_user_file(path), str(path)).items():
            raw[name] = {**raw.get(name, {}), **entry}
        source = str(path)
    else:
        source = "profiles.json"
    table = ProfileTable({name: _build(name, entry, source) for name, entry in raw.items()})
    return table.with_overrides(overrides) if overrides is not None else table


def _read_user_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the profiles file ({exc.strerror})", file=str(path)) from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"not valid JSON: {exc}", file=str(path)) from exc


def _models_section(data: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of model name to profile", file=source)
    section = data.get("models", {k: v for k, v in data.items() if not k.startswith("_")})
    if not isinstance(section, dict):
        raise ConfigError("expected a mapping of model name to profile", file=source, key="models")
    for name, entry in section.items():
        if not isinstance(entry, dict):
            raise ConfigError("a profile must be a mapping of field to value", file=source, key=str(name))
    return cast(dict[str, dict[str, Any]], section)


def _build(name: str, entry: Mapping[str, Any], source: str) -> ModelProfile:
    unknown = sorted(set(entry) - set(_FIELD_NAMES))
    if unknown:
        raise ConfigError(
            f"unknown field(s) {', '.join(unknown)}; known fields: {', '.join(_FIELD_NAMES)}",
            file=source,
            key=f"{name}.{unknown[0]}",
        )
    provider = entry.get("provider")
    if provider not in PROVIDERS:
        raise ConfigError(
            f"provider must be one of {', '.join(PROVIDERS)} (got {provider!r})",
            file=source,
            key=f"{name}.provider",
        )
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "provider":
            continue
        values[key] = _checked_number(name, key, value, source)
    return ModelProfile(name=name, provider=cast(Provider, provider), **values)


def _checked_number(model: str, key: str, value: Any, source: str) -> float | int | None:
    if value is None and key in _OPTIONAL_FIELDS:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"must be a number >= 0 (got {value!r})", file=source, key=f"{model}.{key}")
    if key in _INT_FIELDS:
        if value != int(value):
            raise ConfigError(f"must be a whole number (got {value!r})", file=source, key=f"{model}.{key}")
        return int(value)
    if key in ("error_rate", "jitter") and value > 1:
        raise ConfigError(f"must be a fraction between 0 and 1 (got {value!r})", file=source, key=f"{model}.{key}")
    if key == "tokens_per_s" and value == 0:
        raise ConfigError("must be greater than 0", file=source, key=f"{model}.{key}")
    return float(value)
