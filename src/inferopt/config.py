"""The config file: providers, model aliases, the optimization stack, prices.

``inferopt.yaml`` (found by ``--config``, then ``$INFEROPT_CONFIG``, then ``./inferopt.yaml``;
with none, inferopt runs against its built-in emulator)::

    providers:
      openai:
        kind: openai                 # openai (any OpenAI-compatible base_url) | anthropic | emulator
        base_url: https://api.openai.com/v1
        api_key_env: OPENAI_API_KEY  # the NAME of the environment variable; keys never go in files
      claude:
        kind: anthropic
        api_key_env: ANTHROPIC_API_KEY
      local:
        kind: emulator               # a local emulator started in-process
        seed: 0
    models:                          # aliases callers use
      fast:  {provider: openai, model: gpt-4o-mini}
      smart: {provider: claude, model: claude-sonnet-4-5}
      llama: {provider: vllm, model: meta-llama/Llama-3.1-8B, price: {input: 0, output: 0}}
    default_model: fast
    stack: []                        # optimization wrappers, outermost first, e.g. [{retry: {...}}]
    routers: {}                      # model="router/<name>": rules, cascade, learned, fallback (docs/routing.md)
    capabilities: {}                 # a parameter a model lacks: drop, reject, translate (docs/capabilities.md)
    pricing:
      files: [my-prices.json]        # our catalog schema or LiteLLM's model_prices_and_context_window.json

Validation happens here, at the edge: every error names the file, the key and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inferopt.errors import ConfigError, InvalidArgumentError

CONFIG_ENV = "INFEROPT_CONFIG"
DEFAULT_FILE = "inferopt.yaml"
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
DEFAULT_KEY_ENVS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
EMULATOR_PROVIDER = "emulator"
DEFAULT_MODEL = "gpt-4o-mini"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Strict):
    kind: Literal["openai", "anthropic", "gemini", "emulator"]
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(default=600.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    # An HTTP proxy for this provider's calls ('' for none); unset: HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
    proxy: str | None = None
    # emulator only
    seed: int = 0
    profiles_file: str | None = None
    replay: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_literal_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise InvalidArgumentError(
                "API keys do not belong in config files (they get committed and shared); put the key in an "
                "environment variable and name that variable with api_key_env"
            )
        return data

    @property
    def resolved_base_url(self) -> str | None:
        return self.base_url or DEFAULT_BASE_URLS.get(self.kind)

    @property
    def resolved_key_env(self) -> str | None:
        # A custom base_url (vLLM, Ollama, a gateway) often needs no key: only the official
        # endpoints default to the provider's usual variable.
        if self.api_key_env or self.base_url:
            return self.api_key_env
        return DEFAULT_KEY_ENVS.get(self.kind)


class PriceOverride(_Strict):
    """USD per 1M tokens, for a model the catalog lacks (self-hosted, fine-tuned)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)


class ModelAlias(_Strict):
    provider: str
    model: str
    price: PriceOverride | None = None


class PricingConfig(_Strict):
    files: list[str] = Field(default_factory=list)


class Config(_Strict):
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelAlias] = Field(default_factory=dict)
    default_model: str | None = None
    stack: list[dict[str, dict[str, Any] | None]] = Field(default_factory=list)
    routers: dict[str, dict[str, Any]] = Field(default_factory=dict)  # used as "router/<name>"; routing/build.py
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    # What to do with a parameter a model can't take: {temperature: drop|reject, json_schema: translate...};
    # false sends every request exactly as asked (docs/capabilities.md).
    capabilities: dict[str, str] | bool = Field(default_factory=dict)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("stack")
    @classmethod
    def _one_key_per_layer(cls, stack: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, layer in enumerate(stack):
            if len(layer) != 1:
                raise InvalidArgumentError(
                    f"stack[{i}] must have exactly one key (the wrapper name), got {sorted(layer)}"
                )
        return stack

    @model_validator(mode="after")
    def _references_exist(self) -> Config:
        for name, alias in self.models.items():
            if alias.provider not in self.providers:
                raise InvalidArgumentError(
                    f"models.{name}.provider is {alias.provider!r}, which is not declared under providers "
                    f"(declared: {sorted(self.providers) or 'none'}); add it under providers or fix the name"
                )
        if self.default_model and self.providers and not self._known_model(self.default_model):
            raise InvalidArgumentError(
                f"default_model {self.default_model!r} is neither an alias under models, 'provider/model' nor "
                f"'router/<name>'; aliases: {sorted(self.models) or 'none'}; routers: {sorted(self.routers) or 'none'}"
            )
        return self

    def _known_model(self, name: str) -> bool:
        if name.startswith("router/") and name[7:] in self.routers:
            return True
        return name in self.models or name.split("/", 1)[0] in self.providers or len(self.providers) == 1

    def with_layer(self, name: str, options: dict[str, Any], *, outermost: bool = True) -> Config:
        """This config with a stack layer added (command-line flags); a layer the file already has wins."""
        if any(name in layer for layer in self.stack):
            return self
        layer: dict[str, dict[str, Any] | None] = {name: options}
        stack = [layer, *self.stack] if outermost else [*self.stack, layer]
        return self.model_copy(update={"stack": stack})

    @property
    def is_emulated(self) -> bool:
        """True when every provider is the built-in emulator (nothing real configured)."""
        return all(p.kind == "emulator" for p in self.providers.values())


def emulator_config() -> Config:
    """The config used when none is given: every model answered by the in-process emulator."""
    return Config(providers={EMULATOR_PROVIDER: ProviderConfig(kind="emulator")}, default_model=DEFAULT_MODEL)


def _describe(error: Any) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; remove it or check its spelling against the documented keys"
    elif error["type"] == "literal_error":
        message = f"{message} (got {error.get('input')!r})"
    return f"key {key!r}: {message}"


def parse_config(data: Any, *, source: str = "<config>") -> Config:
    """Validate already-loaded config data; errors name ``source``, the key and the fix."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"the file must hold a mapping of keys, got {type(data).__name__}", file=source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid config: {details}", file=source) from None
    return config.model_copy(update={"source": source})


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the config from ``path``, ``$INFEROPT_CONFIG`` or ``./inferopt.yaml``; else the emulator."""
    chosen = path or os.environ.get(CONFIG_ENV) or (DEFAULT_FILE if Path(DEFAULT_FILE).is_file() else None)
    if chosen is None:
        return emulator_config()
    file = Path(chosen)
    if not file.is_file():
        raise ConfigError("config file not found; create it or pass an existing path with --config", file=str(file))
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(file)) from None
    return parse_config(data, source=str(file))


def read_api_key(name: str, provider: ProviderConfig, source: str | None) -> str | None:
    """The provider's key from the environment. The key itself never appears in any message."""
    if provider.kind == "emulator":
        return "emulator-key"
    env = provider.resolved_key_env
    if env is None:
        return None
    key = os.environ.get(env)
    if not key:
        raise ConfigError(
            f"environment variable {env} is not set; export it (export {env}=...) or point "
            f"providers.{name}.api_key_env at the variable that holds the key",
            file=source,
            key=f"providers.{name}.api_key_env",
        )
    return key
