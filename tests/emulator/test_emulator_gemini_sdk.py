"""The ``google-genai`` SDK, unchanged, against the emulator's Gemini wire (its own types parse every answer)."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides

genai = pytest.importorskip("google.genai", reason="google-genai not installed (pip install -e '.[dev]')")
types = pytest.importorskip("google.genai.types")


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=2, overrides=ProfileOverrides(fixed_latency_s=0.0))) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Any:
    return genai.Client(api_key="gm-sdk-test", http_options=types.HttpOptions(base_url=server.url))


def test_generate_and_stream_agree(client: Any) -> None:
    config = types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=40)
    whole = client.models.generate_content(model="gemini-2.5-flash", contents="Name a colour", config=config)
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="Name a colour", config=config)
    )
    assert whole.text and "".join(c.text or "" for c in chunks) == whole.text
    assert chunks[-1].candidates[0].finish_reason in (types.FinishReason.STOP, types.FinishReason.MAX_TOKENS)
    usage = whole.usage_metadata
    assert (
        usage.prompt_token_count > 0
        and usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    )


def test_function_calling_and_thoughts(client: Any) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    forced = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
    )
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Weather in Paris?", config=forced)
    (call,) = answer.function_calls
    assert call.name == "get_weather" and isinstance(call.args["city"], str)
    thinking = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Think first", config=thinking)
    parts = answer.candidates[0].content.parts
    assert parts[0].thought and parts[0].text and not parts[-1].thought
    assert answer.usage_metadata.thoughts_token_count > 0


def test_count_tokens_embeddings_models_and_errors(client: Any) -> None:
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents="count these tokens please")
    assert counted.total_tokens > 3
    config = types.EmbedContentConfig(output_dimensionality=64)
    embedded = client.models.embed_content(
        model="gemini-embedding-001", contents=["a cat", "a dog", "a cat"], config=config
    )
    vectors = [e.values for e in embedded.embeddings]
    assert [len(v) for v in vectors] == [64, 64, 64] and vectors[0] == vectors[2] != vectors[1]
    names = [m.name for m in client.models.list()]
    assert "models/gemini-2.5-flash" in names and "models/gemini-embedding-001" in names
    with pytest.raises(genai.errors.ClientError) as unknown:
        client.models.generate_content(model="gemini-0-nope", contents="x")
    assert unknown.value.code == 404 and "gemini-2.5-flash" in unknown.value.message
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    url = client._api_client._http_options.base_url.rstrip("/") + "/v1beta/models/gemini-2.5-flash:generateContent"
    keyless = httpx.post(url, json=body)
    assert keyless.status_code == 401 and keyless.json()["error"]["status"] == "UNAUTHENTICATED"
