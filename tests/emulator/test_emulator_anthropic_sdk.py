"""The official ``anthropic`` SDK, unchanged, against the emulator."""

from __future__ import annotations

import anthropic
import httpx

from inferopt.emulator import EmulatorServer
from inferopt.tokens import count_tokens

MODEL = "claude-haiku-4-5"
MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Name three rivers."}]


def client_for(server: EmulatorServer, key: str = "sk-ant-test") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key=key, max_retries=0)


def test_create_returns_a_message_with_usage_and_marking(server: EmulatorServer) -> None:
    with client_for(server) as client:
        raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=1000, messages=MESSAGES)
        message = raw.parse()
    assert raw.headers["x-inferopt-emulated"] == "true"
    assert raw.headers["request-id"].startswith("req_emu_")
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_emu_")
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    text = message.content[0].text  # type: ignore[union-attr]
    assert text
    assert message.usage.output_tokens == count_tokens(text, MODEL)
    assert message.usage.input_tokens > count_tokens("Name three rivers.", MODEL)
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_creation is not None


def test_messages_stream_gives_the_same_text_usage_and_stop_reason(server: EmulatorServer) -> None:
    with client_for(server) as client:
        plain = client.messages.create(model=MODEL, max_tokens=1000, messages=MESSAGES)
        with client.messages.stream(model=MODEL, max_tokens=1000, messages=MESSAGES) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert text == plain.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.usage.input_tokens == plain.usage.input_tokens


def test_create_with_stream_true_yields_every_event_in_order(server: EmulatorServer) -> None:
    with client_for(server) as client:
        events = list(client.messages.create(model=MODEL, max_tokens=8, messages=MESSAGES, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    delta = events[-2]
    assert delta.type == "message_delta"
    assert delta.delta.stop_reason == "max_tokens"  # 8 tokens is less than any generated answer
    assert delta.usage.output_tokens == 8


def test_stop_sequences_end_with_stop_sequence(server: EmulatorServer) -> None:
    with client_for(server) as client:
        full = client.messages.create(model=MODEL, max_tokens=1000, messages=MESSAGES)
        word = full.content[0].text.split()[2]  # type: ignore[union-attr]
        cut = client.messages.create(model=MODEL, max_tokens=1000, messages=MESSAGES, stop_sequences=[word])
    assert cut.stop_reason == "stop_sequence" and cut.stop_sequence == word
    assert cut.content[0].text == full.content[0].text[: full.content[0].text.index(word)]  # type: ignore[union-attr]


def test_system_prompt_as_string_or_blocks_counts_the_same(server: EmulatorServer) -> None:
    with client_for(server) as client:
        as_string = client.messages.create(model=MODEL, max_tokens=5, system="Be brief.", messages=MESSAGES)
        as_blocks = client.messages.create(
            model=MODEL, max_tokens=5, system=[{"type": "text", "text": "Be brief."}], messages=MESSAGES
        )
    assert as_string.usage.input_tokens == as_blocks.usage.input_tokens


def test_count_tokens_and_models_list(server: EmulatorServer) -> None:
    with client_for(server) as client:
        counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
        message = client.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
        ids = [m.id for m in client.models.list()]
    assert counted.input_tokens == message.usage.input_tokens
    assert MODEL in ids and "gpt-4o" not in ids


def test_dated_model_ids_resolve_to_their_family(server: EmulatorServer) -> None:
    with client_for(server) as client:
        dated = client.messages.create(model="claude-haiku-4-5-20251001", max_tokens=50, messages=MESSAGES)
        plain = client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    assert dated.model == "claude-haiku-4-5-20251001"
    assert dated.content == plain.content


def test_authorization_bearer_is_accepted_too(server: EmulatorServer) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": MESSAGES}
    response = httpx.post(server.url + "/v1/messages", json=body, headers={"authorization": "Bearer tok"})
    assert response.status_code == 200
    assert response.json()["type"] == "message"
