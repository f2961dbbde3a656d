"""The embeddings codec: every input shape, float and base64 vectors, edge checks naming the field."""

from __future__ import annotations

import pytest

from inferopt.embeddings import EmbeddingRequest, EmbeddingResponse
from inferopt.types import Usage
from inferopt.wire import openai_embeddings as wire
from inferopt.wire.common import MalformedPayload


@pytest.mark.parametrize(
    ("value", "inputs"),
    [
        ("hello", ["hello"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([[1, 2], [3]], [[1, 2], [3]]),
    ],
)
def test_every_input_shape_decodes_to_a_list_of_inputs(value: object, inputs: list[object]) -> None:
    body = {"model": "text-embedding-3-small", "input": value, "dimensions": 8, "user": "u"}
    assert wire.problem_of(body) is None
    request = wire.decode_request(body)
    assert request.inputs == inputs and request.dimensions == 8 and request.user == "u"
    assert wire.encode_request(request)["input"] == inputs


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": ""}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": ["ok", ""]}, "input[1]"),
        ({"model": "m", "input": ["ok", 3.5]}, "input[1]"),
        ({"model": "m", "input": [[1], []]}, "input[1]"),
        ({"model": "m", "input": ["x"] * 2049}, "input"),
        ({"model": "m", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": True}, "dimensions"),
        ({"model": "m", "input": "x", "user": 5}, "user"),
    ],
)
def test_bad_bodies_name_the_field(body: dict[str, object], param: str) -> None:
    problem = wire.problem_of(body)
    assert problem is not None and problem.param == param


def test_base64_and_float_answers_decode_to_the_same_vectors() -> None:
    vectors = [wire.as_float32([0.25, -0.5, 0.125]), wire.as_float32([1 / 3, 0.0, -1.0])]
    response = EmbeddingResponse("text-embedding-3-small", vectors, Usage(7))
    for fmt in ("float", "base64"):
        body = wire.encode_response(response, fmt)
        assert body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
        assert isinstance(body["data"][0]["embedding"], str if fmt == "base64" else list)
        decoded = wire.decode_response(body, "x", expected=2)
        assert decoded.vectors == vectors and decoded.usage.input_tokens == 7


def test_answers_come_back_in_index_order_and_a_short_answer_is_malformed() -> None:
    body = {
        "data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    assert wire.decode_response(body, "m").vectors == [[1.0], [2.0]]
    with pytest.raises(MalformedPayload):
        wire.decode_response(body, "m", expected=3)


def test_extra_fields_reach_the_upstream_verbatim() -> None:
    request = wire.decode_request({"model": "m", "input": "x", "input_type": "query"})
    assert request.extra == {"input_type": "query"}
    assert wire.encode_request(EmbeddingRequest("m", ["x"], extra=request.extra))["input_type"] == "query"
