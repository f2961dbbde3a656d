"""``POST /v1/embeddings`` as the emulator answers it: deterministic unit vectors.

Requests are checked and decoded by the product's codec (:mod:`inferopt.wire.openai_embeddings`),
answers encoded by it (float or base64). A vector is a pure function of the emulator's seed, the
model and the input (a string, or a token array as given): the same input always gets the same
vector, another input an unrelated one. ``dimensions`` (``text-embedding-3-*`` only, as upstream)
keeps the first components of the model's full vector and renormalises, as OpenAI's shortened
embeddings behave. Usage counts tokens with :mod:`inferopt.tokens` (cl100k_base, exact with the
tiktoken files); an input over the model's 8192-token limit is refused as the API refuses it.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass

from inferopt.embeddings.types import EmbeddingInput, EmbeddingResponse
from inferopt.emulator.calls import bad
from inferopt.emulator.engine import Failure
from inferopt.tokens import count_tokens
from inferopt.types import Usage
from inferopt.wire import openai_embeddings as wire
from inferopt.wire.sse import dumps

MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000


@dataclass(frozen=True, slots=True)
class EmbeddingProfile:
    name: str
    dimensions: int
    shortens: bool  # accepts ``dimensions``


MODELS = {
    m.name: m
    for m in (
        EmbeddingProfile("text-embedding-3-small", 1536, True),
        EmbeddingProfile("text-embedding-3-large", 3072, True),
        EmbeddingProfile("text-embedding-ada-002", 1536, False),
    )
}


def model_names() -> list[str]:
    return sorted(MODELS)


def vector(seed: int, model: str, item: EmbeddingInput, dimensions: int) -> list[float]:
    """The unit vector of ``item``: its full-length components (a hash stream) cut to ``dimensions``."""
    identity = item if isinstance(item, str) else "tokens:" + ",".join(map(str, item))
    digest = hashlib.shake_256(f"{seed}\x00{model}\x00{identity}".encode()).digest(4 * dimensions)
    raw = struct.unpack(f"<{dimensions}i", digest)
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return wire.as_float32([x / norm for x in raw])


def _tokens(item: EmbeddingInput, model: str) -> int:
    return len(item) if isinstance(item, list) else count_tokens(item, model)


@dataclass(frozen=True, slots=True)
class Embedded:
    """An answer ready to send, and what the stats count."""

    body: bytes
    model: str
    prompt_tokens: int


def embed(data: object, seed: int) -> Embedded | Failure:
    """Answer a parsed JSON body, or say why not (400 naming the field, 404 for an unknown model)."""
    if not isinstance(data, dict):
        return bad("The request body must be a JSON object.")
    problem = wire.problem_of(data)
    if problem is not None:
        return bad(problem.message, problem.param)
    request = wire.decode_request(data)
    model = MODELS.get(request.model)
    if model is None:
        return Failure(404, "unknown_model", model=request.model, known_models=tuple(model_names()))
    dims = request.dimensions
    if dims is not None and not model.shortens:
        return bad(f"This model does not support specifying dimensions: {model.name}.", "dimensions")
    if dims is not None and dims > model.dimensions:
        return bad(f"'dimensions' must be at most {model.dimensions} for {model.name}.", "dimensions")
    counts = [_tokens(item, model.name) for item in request.inputs]
    for i, count in enumerate(counts):
        if count > MAX_INPUT_TOKENS:
            return bad(
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
                f"{count} tokens in input[{i}]. Please reduce your prompt.",
                "input",
            )
    if sum(counts) > MAX_REQUEST_TOKENS:
        return bad(f"Requested {sum(counts)} tokens; at most {MAX_REQUEST_TOKENS} per request.", "input")
    full = model.dimensions
    vectors = [shorten(vector(seed, model.name, item, full), dims) for item in request.inputs]
    response = EmbeddingResponse(model=model.name, vectors=vectors, usage=Usage(sum(counts)))
    body = dumps(wire.encode_response(response, data.get("encoding_format") or "float")).encode()
    return Embedded(body, model.name, sum(counts))


def shorten(full: list[float], dimensions: int | None) -> list[float]:
    if dimensions is None or dimensions >= len(full):
        return full
    head = full[:dimensions]
    norm = math.sqrt(sum(x * x for x in head)) or 1.0
    return wire.as_float32([x / norm for x in head])
