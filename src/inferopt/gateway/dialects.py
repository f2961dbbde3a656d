"""What differs between the gateway's wire routes (OpenAI chat, OpenAI Responses, Anthropic
Messages), and the ``x-inferopt-*`` headers every answer carries whatever its wire.

A :class:`Dialect` names the route's parser (edge checks, then the wire codec), how an answer and
a stream are written, and how errors are worded. ``prepare`` and ``keep`` are the Responses
route's: continue a stored conversation before the call, store the answer after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from inferopt.capabilities.capable import ADAPTED_OPTION
from inferopt.conversations import Conversations
from inferopt.embeddings.types import EmbeddingResponse
from inferopt.gateway import anthropic_routes, gemini_routes, openai_routes, responses_routes
from inferopt.gateway.asgi import Header
from inferopt.gateway.problems import Problem
from inferopt.gateway.sse import StreamWriter
from inferopt.gateway.validation import ParsedChat, RequestLimits
from inferopt.types import ChatRequest, ChatResponse


@dataclass(frozen=True, slots=True)
class Dialect:
    """One wire route of the gateway."""

    route: str
    parse: Callable[[bytes, RequestLimits], ParsedChat | Problem]
    body: Callable[[ChatResponse, ParsedChat], bytes]
    writer: Callable[[str, ParsedChat], StreamWriter]
    error_body: Callable[[Problem], bytes]
    error_payload: Callable[[Problem], dict[str, Any]]
    # Before the call (may refuse it) and after a successful answer; the str is the caller's scope.
    prepare: Callable[[ParsedChat, str], Awaitable[Problem | None]] | None = None
    keep: Callable[[ParsedChat, str], Awaitable[None]] | None = None


OPENAI = Dialect(
    "/v1/chat/completions",
    openai_routes.parse,
    lambda response, parsed: openai_routes.completion_body(response),
    lambda model, parsed: openai_routes.stream_writer(model, parsed.include_usage),
    Problem.openai_body,
    openai_routes.error_payload,
)
ANTHROPIC = Dialect(
    "/v1/messages",
    anthropic_routes.parse,
    lambda response, parsed: anthropic_routes.message_body(response),
    anthropic_routes.stream_writer,
    Problem.anthropic_body,
    anthropic_routes.error_payload,
)
ANTHROPIC_COUNT = Dialect(
    "/v1/messages/count_tokens",
    anthropic_routes.parse_count,
    ANTHROPIC.body,
    ANTHROPIC.writer,
    Problem.anthropic_body,
    anthropic_routes.error_payload,
)


def gemini_dialect(model: str, stream: bool) -> Dialect:
    """Gemini's generate route for ``model`` (it comes from the path, not the body)."""
    return Dialect(
        gemini_routes.ROUTE,
        gemini_routes.parser(model, stream),
        gemini_routes.response_body,
        gemini_routes.GeminiWriter,
        gemini_routes.error_body,
        gemini_routes.error_payload,
    )


def responses_dialect(store: Conversations) -> Dialect:
    """The Responses route over ``store`` (where its conversations are kept)."""

    async def prepare(parsed: ParsedChat, scope: str) -> Problem | None:
        return await responses_routes.continue_conversation(parsed, store, scope)

    async def keep(parsed: ParsedChat, scope: str) -> None:
        await responses_routes.keep(parsed, store, scope)

    return Dialect(
        "/v1/responses",
        responses_routes.parse,
        responses_routes.response_body,
        responses_routes.stream_writer,
        Problem.openai_body,
        responses_routes.error_payload,
        prepare,
        keep,
    )


def header_value(value: Any) -> bytes:
    # Header values must be visible ASCII: anything else from an annotation is dropped, not sent.
    text = f"{value:.8f}" if isinstance(value, float) else str(value)
    return "".join(c for c in text if " " <= c <= "~")[:200].encode()


def answer_headers(response: ChatResponse | EmbeddingResponse) -> list[Header]:
    """What happened to one answer (chat or embeddings), as ``x-inferopt-*`` response headers."""
    headers: list[Header] = [
        (b"x-inferopt-model", header_value(response.model)),
        (b"x-inferopt-provider", header_value(response.provider)),
    ]
    if response.cost_usd is not None:
        headers.append((b"x-inferopt-cost-usd", f"{response.cost_usd:.8f}".encode()))
    if response.latency_s is not None:
        headers.append((b"x-inferopt-upstream-ms", f"{response.latency_s * 1000:.2f}".encode()))
    if response.emulated:
        headers.append((b"x-inferopt-emulated", b"true"))
    if response.cache is not None:
        headers.append((b"x-inferopt-cache", header_value(response.cache)))
    if isinstance(response, ChatResponse) and response.attempts is not None:
        headers.append((b"x-inferopt-attempts", str(response.attempts).encode()))
    if isinstance(response, ChatResponse) and response.route is not None:
        headers.append((b"x-inferopt-route", header_value(response.route.get("chosen", ""))))
    for name, value in response.annotations.items():
        if isinstance(value, str | int | float | bool) and name.replace("_", "-").replace("-", "").isalnum():
            headers.append((b"x-inferopt-" + name.replace("_", "-").lower().encode(), header_value(value)))
    return headers


def adapted_headers(request: ChatRequest) -> list[Header]:
    """What the capability layer dropped or translated, for a stream's headers (sent before its answer)."""
    adapted = request.options.get(ADAPTED_OPTION)
    if adapted is None:
        return []
    out = []
    if adapted.dropped:
        out.append((b"x-inferopt-dropped-params", header_value(",".join(adapted.dropped))))
    if adapted.translated:
        out.append((b"x-inferopt-translated-params", header_value(",".join(adapted.translated))))
    return out


def cache_result(response: ChatResponse | EmbeddingResponse | None) -> str | None:
    value = None if response is None else response.cache
    return value if value in ("hit", "miss") else None
