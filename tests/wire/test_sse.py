"""SSE framing without I/O: the decoder gives the same events however the bytes are cut."""

from __future__ import annotations

from inferopt.wire.sse import Decoder, ServerSentEvent, data, event

RAW = (
    b": keep-alive\r\n\r\n"
    + event("message_start", {"text": "h\u00e9llo \u2603"})
    + b"data: line1\ndata: line2\n\n"
    + data({"a": 1})
    + b"data: [DONE]"  # the last event without its blank line
)
EXPECTED = [
    ServerSentEvent("message_start", '{"text":"h\u00e9llo \u2603"}'),
    ServerSentEvent(None, "line1\nline2"),
    ServerSentEvent(None, '{"a":1}'),
    ServerSentEvent(None, "[DONE]"),
]


def test_whole_body() -> None:
    decoder = Decoder()
    assert decoder.feed(RAW) + decoder.close() == EXPECTED


def test_every_split_point_even_inside_utf8_and_crlf() -> None:
    for cut in range(len(RAW) + 1):
        decoder = Decoder()
        assert decoder.feed(RAW[:cut]) + decoder.feed(RAW[cut:]) + decoder.close() == EXPECTED, cut


def test_byte_at_a_time() -> None:
    decoder = Decoder()
    events = [e for i in range(len(RAW)) for e in decoder.feed(RAW[i : i + 1])]
    assert events + decoder.close() == EXPECTED
