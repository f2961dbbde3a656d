from inferopt.types import ChatRequest, Message, Usage


def test_usage_uncached_input_excludes_cache_reads_and_writes() -> None:
    u = Usage(input_tokens=5000, output_tokens=10, cache_read_tokens=3000, cache_write_tokens=1500)
    assert u.uncached_input_tokens == 500
    assert u.total_tokens == 5010


def test_usage_adds_field_by_field() -> None:
    total = Usage(10, 2, 4, 1, 1, 0) + Usage(5, 3, 0, 2, 0, 1)
    assert total == Usage(15, 5, 4, 3, 1, 1)


def test_message_text_joins_text_parts_and_skips_images() -> None:
    m = Message(
        "user",
        [
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "text", "text": "b"},
        ],
    )
    assert m.text == "ab"


def test_request_of_puts_system_first() -> None:
    r = ChatRequest.of("hi", model="m", system="be brief", max_tokens=5)
    assert [m.role for m in r.messages] == ["system", "user"]
    assert r.system_text == "be brief" and r.last_user_text == "hi" and r.max_tokens == 5


def test_message_round_trips_openai_shape() -> None:
    wire = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    m = Message.from_openai(wire)
    assert m.content == "" and m.to_openai()["tool_calls"] == wire["tool_calls"]
