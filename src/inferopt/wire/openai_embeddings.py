"""OpenAI embeddings (``POST /v1/embeddings``), both directions, with no I/O.

Requests: ``input`` is a string, a list of strings, one token array (a list of integers) or a list
of token arrays; ``encoding_format`` is ``float`` (the default) or ``base64`` (little-endian float32
bytes, what the ``openai`` SDK asks for by default); ``dimensions`` shortens the vectors. Answers
are a list object of ``embedding`` objects with ``index``, and usage with ``prompt_tokens`` and
``total_tokens`` (equal: embeddings have no output).

:func:`problem_of` holds the edge checks the gateway and the emulator both apply, worded as OpenAI
words them and naming the field (``param``).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from inferopt.embeddings.types import EmbeddingInput, EmbeddingRequest, EmbeddingResponse
from inferopt.types import Usage
from inferopt.wire.common import ErrorDetail, MalformedPayload, error_detail

MAX_INPUTS = 2048
ENCODINGS = ("float", "base64")
# Body fields the mapping understands; anything else reaches the upstream verbatim (extra).
MAPPED_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


@dataclass(frozen=True, slots=True)
class BadField:
    """Why a request body is refused, and which field (``param``) it is about."""

    message: str
    param: str


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def _check_input(value: Any) -> BadField | None:
    if isinstance(value, str):
        return BadField("'input' cannot be an empty string.", "input") if not value else None
    if not isinstance(value, list) or not value:
        return BadField(
            "'input' is required: a string, a list of strings, a token array or a list of token arrays.", "input"
        )
    if len(value) > MAX_INPUTS:
        return BadField(f"'input' has {len(value)} items; at most {MAX_INPUTS} are allowed.", "input")
    if _is_tokens(value):
        return None
    for i, item in enumerate(value):
        if isinstance(item, str) and not item:
            return BadField(f"'input[{i}]' cannot be an empty string.", f"input[{i}]")
        if not isinstance(item, str) and not (_is_tokens(item) and item):
            return BadField(
                f"Invalid type for 'input[{i}]': expected a non-empty string or a non-empty array of integers.",
                f"input[{i}]",
            )
    return None


def problem_of(data: dict[str, Any]) -> BadField | None:
    """The first thing wrong with an embeddings request body, or None."""
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        return BadField("'model' is required: an embedding model name as a non-empty string.", "model")
    problem = _check_input(data.get("input"))
    if problem is not None:
        return problem
    fmt = data.get("encoding_format")
    if fmt is not None and fmt not in ENCODINGS:
        return BadField(f"Invalid value for 'encoding_format': {fmt!r}; use 'float' or 'base64'.", "encoding_format")
    dims = data.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims < 1):
        return BadField(f"Invalid value for 'dimensions': {dims!r}; expected an integer of at least 1.", "dimensions")
    if data.get("user") is not None and not isinstance(data["user"], str):
        return BadField("Invalid type for 'user': expected a string.", "user")
    return None


def inputs_of(value: Any) -> list[EmbeddingInput]:
    """``input`` as a list of inputs: one string or token array is one input."""
    if isinstance(value, str) or _is_tokens(value):
        return [value]
    return list(value)


def decode_request(data: dict[str, Any]) -> EmbeddingRequest:
    """A checked (:func:`problem_of`) request body as the neutral request."""
    return EmbeddingRequest(
        model=data["model"],
        inputs=inputs_of(data["input"]),
        dimensions=data.get("dimensions"),
        user=data.get("user"),
        extra={k: v for k, v in data.items() if k not in MAPPED_FIELDS},
    )


def encode_request(request: EmbeddingRequest, encoding_format: str = "float") -> dict[str, Any]:
    """The upstream body: every input as a list item, so the answer has one vector per input."""
    body: dict[str, Any] = {**request.extra, "model": request.model, "input": list(request.inputs)}
    body["encoding_format"] = encoding_format
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


# -- vectors -----------------------------------------------------------------------------------------


def to_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def from_base64(text: str) -> list[float]:
    raw = base64.b64decode(text)
    if len(raw) % 4:
        raise MalformedPayload(f"a base64 embedding of {len(raw)} bytes is not float32s")
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def as_float32(vector: list[float]) -> list[float]:
    """``vector`` rounded to float32, as providers compute and send them (so float and base64 agree)."""
    return list(struct.unpack(f"<{len(vector)}f", struct.pack(f"<{len(vector)}f", *vector)))


# -- answers -----------------------------------------------------------------------------------------


def encode_response(response: EmbeddingResponse, encoding_format: str = "float") -> dict[str, Any]:
    """The answer body, each vector as floats or as base64."""
    encode = to_base64 if encoding_format == "base64" else list
    tokens = response.usage.input_tokens
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(response.vectors)],
        "model": response.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _vector(item: Any, at: int) -> tuple[int, list[float]]:
    if not isinstance(item, dict) or not isinstance(item.get("index", at), int):
        raise MalformedPayload(f"embeddings data[{at}] is not an embedding object")
    value = item.get("embedding")
    if isinstance(value, str):
        return item.get("index", at), from_base64(value)
    if isinstance(value, list) and all(isinstance(x, int | float) for x in value):
        return item.get("index", at), [float(x) for x in value]
    raise MalformedPayload(f"embeddings data[{at}].embedding is neither a list of numbers nor base64")


def decode_response(data: dict[str, Any], model: str, expected: int | None = None) -> EmbeddingResponse:
    """An answer body as the neutral response, vectors in index order (``expected``: how many)."""
    items = data.get("data")
    if not isinstance(items, list):
        raise MalformedPayload("embeddings answer has no 'data' list")
    vectors = [vector for _, vector in sorted(_vector(item, i) for i, item in enumerate(items))]
    if expected is not None and len(vectors) != expected:
        raise MalformedPayload(f"embeddings answer has {len(vectors)} vectors for {expected} inputs")
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    tokens = usage.get("prompt_tokens") or usage.get("total_tokens") or 0
    return EmbeddingResponse(model=str(data.get("model") or model), vectors=vectors, usage=Usage(int(tokens)))


def decode_error(body: bytes) -> ErrorDetail:
    return error_detail(body)
