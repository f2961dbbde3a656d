from pathlib import Path

import pytest

from inferopt.config import load_config, parse_config, read_api_key
from inferopt.errors import ConfigError, InferoptError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inferopt.yaml"
    path.write_text(text)
    return path


GOOD = """
providers:
  openai: {kind: openai, api_key_env: MY_OPENAI_KEY}
  claude: {kind: anthropic}
  local: {kind: openai, base_url: "http://127.0.0.1:8000/v1"}
models:
  fast: {provider: openai, model: gpt-4o-mini}
  smart: {provider: claude, model: claude-sonnet-4-5}
default_model: fast
"""


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.providers["claude"].resolved_base_url == "https://api.anthropic.com"
    assert config.providers["claude"].resolved_key_env == "ANTHROPIC_API_KEY"
    # a custom base_url (vLLM, Ollama) needs no key unless one is named
    assert config.providers["local"].resolved_key_env is None
    assert config.models["smart"].model == "claude-sonnet-4-5"
    assert not config.is_emulated


def test_no_config_means_the_emulator() -> None:
    config = load_config(None)
    assert config.is_emulated and config.default_model


def test_found_from_working_directory(tmp_path: Path) -> None:
    write(tmp_path, GOOD)  # conftest chdirs into tmp_path
    assert load_config().default_model == "fast"


def test_unknown_kind_names_file_key_and_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "providers:\n  x: {kind: openia}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text and "providers.x.kind" in text and "'openai'" in text and "openia" in text


def test_misspelled_key_is_rejected_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"providers\.x\.base_ulr.*unknown key"):
        load_config(write(tmp_path, "providers:\n  x: {kind: openai, base_ulr: http://h}\n"))


def test_alias_to_undeclared_provider(tmp_path: Path) -> None:
    text = "providers:\n  a: {kind: openai}\nmodels:\n  m: {provider: b, model: x}\n"
    with pytest.raises(ConfigError, match=r"models\.m\.provider is 'b'.*declared: \['a'\]"):
        load_config(write(tmp_path, text))


def test_literal_api_key_in_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "providers:\n  a: {kind: openai, api_key: sk-secret123456789}\n"))
    assert "api_key_env" in str(err.value) and "sk-secret" not in str(err.value)


def test_bad_yaml_gives_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid YAML at line 2"):
        load_config(write(tmp_path, "providers:\n  a: b: c\n"))


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_top_level_must_be_mapping() -> None:
    with pytest.raises(InferoptError, match="mapping"):
        parse_config(["a"], source="x.yaml")


def test_missing_key_env_names_variable_not_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    monkeypatch.delenv("MY_OPENAI_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"MY_OPENAI_KEY is not set.*providers\.openai\.api_key_env"):
        read_api_key("openai", config.providers["openai"], config.source)
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-live-abcdefghijkl")
    assert read_api_key("openai", config.providers["openai"], config.source) == "sk-live-abcdefghijkl"
