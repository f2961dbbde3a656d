"""``PromptCached``: make providers' prompt caches pay off, and show what they saved.

**Anthropic** caches only prefixes that end at a block carrying ``cache_control``. This wrapper
places the breakpoints for you on the stable prefix, in the provider's order (tools, system,
messages):

1. the last tool definition;
2. the end of the system prompt;
3. the end of the conversation before the final user turn (multi-turn history);
4. in the final user turn, the end of the parts before the last one (a long document or retrieved
   context sent ahead of the question).

At most 4 breakpoints (Anthropic's limit), each only when the prefix it closes reaches the model's
minimum cacheable length (a shorter one is silently not cached and would waste a breakpoint).
Requests that already carry ``cache_control`` are left as the caller wrote them. ``ttl: "1h"`` asks
for the 1-hour cache (writes cost 2x input instead of 1.25x; reads 0.1x either way).

**OpenAI** caches the longest shared prefix automatically (from 1024 tokens). What defeats it is
dynamic content (a timestamp, a user name) placed *before* static content. The wrapper remembers
which messages it has seen and warns (once per model) when a request repeats a long message after
one that changed; and it can set ``prompt_cache_key`` (``"auto"``: a digest of the static prefix)
so requests sharing a prefix are routed to the same cache.

Every response gets ``annotations["prompt_cache"]``: tokens read and written, and
``saved_usd`` = (cost as if nothing was cached) - (actual cost), negative on a pure write.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from inferopt.cache.keys import canonical_json
from inferopt.errors import InvalidArgumentError, PricingError, UnknownModelError
from inferopt.pricing import PriceCatalog, cost_of
from inferopt.tokens import count_tokens
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent, Usage

logger = logging.getLogger("inferopt.cache")
Provider = Literal["anthropic", "openai"]
MAX_BREAKPOINTS = 4
# Minimum cacheable prompt length per model family (Anthropic's prompt-caching docs, 2026-11);
# the first matching prefix wins.
ANTHROPIC_MIN_TOKENS: tuple[tuple[str, int], ...] = (
    ("claude-opus-4-5", 4096),
    ("claude-haiku-4-5", 4096),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
    ("claude", 1024),
)
OPENAI_MIN_TOKENS = 1024


def anthropic_min_tokens(model: str) -> int:
    name = model.rsplit("/", 1)[-1]
    for prefix, tokens in ANTHROPIC_MIN_TOKENS:
        if name.startswith(prefix):
            return tokens
    return 1024


def provider_of(model: str) -> Provider:
    return "anthropic" if "claude" in model.rsplit("/", 1)[-1] else "openai"


def _parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else [dict(p) for p in content]


def _has_cache_control(request: ChatRequest) -> bool:
    if any("cache_control" in t for t in request.tools or []):
        return True
    return any(isinstance(m.content, list) and any("cache_control" in p for p in m.content) for m in request.messages)


def _tokens(value: Any, model: str) -> int:
    return count_tokens(value if isinstance(value, str) else canonical_json(value).decode(), model)


def place_breakpoints(
    request: ChatRequest, *, ttl: str = "5m", min_tokens: int | None = None
) -> tuple[ChatRequest, int]:
    """``request`` with ``cache_control`` on its stable prefix, and how many breakpoints were placed."""
    if _has_cache_control(request):
        return request, 0
    minimum = min_tokens if min_tokens is not None else anthropic_min_tokens(request.model)
    marker: dict[str, Any] = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}
    tools = [dict(t) for t in request.tools] if request.tools else None
    messages = [dataclasses.replace(m) for m in request.messages]
    # (cumulative prefix tokens, where to mark): where is ("tool", i) or ("msg", i, part)
    candidates: list[tuple[int, tuple[Any, ...]]] = []
    total = 0
    if tools:
        total += sum(_tokens(t, request.model) for t in tools)
        candidates.append((total, ("tool", len(tools) - 1)))
    system_idx = [i for i, m in enumerate(messages) if m.role == "system"]
    total += sum(_tokens(messages[i].text, request.model) for i in system_idx)
    if system_idx:
        candidates.append((total, ("msg", system_idx[-1], -1)))
    turns = [i for i, m in enumerate(messages) if m.role != "system"]
    last_user = max((i for i in turns if messages[i].role == "user"), default=None)
    for i in turns:
        if i == last_user:
            parts = _parts(messages[i].content)
            if len(parts) > 1:
                total += sum(_tokens(p.get("text", p), request.model) for p in parts[:-1])
                candidates.append((total, ("msg", i, len(parts) - 2)))
            break
        total += _tokens(messages[i].text, request.model)
        if i + 1 == last_user:
            candidates.append((total, ("msg", i, -1)))
    chosen = [where for tokens, where in candidates if tokens >= minimum][-MAX_BREAKPOINTS:]
    for where in chosen:
        if where[0] == "tool":
            assert tools is not None
            tools[where[1]]["cache_control"] = marker
        else:
            message = messages[where[1]]
            parts = _parts(message.content)
            parts[where[2]]["cache_control"] = marker
            messages[where[1]] = dataclasses.replace(message, content=parts)
    if not chosen:
        return request, 0
    return dataclasses.replace(request, tools=tools, messages=messages), len(chosen)


def static_prefix_digest(request: ChatRequest) -> str:
    """A digest of the tools and system prompt: requests sharing them share a ``prompt_cache_key``."""
    system = [m.text for m in request.messages if m.role == "system"]
    return hashlib.sha256(canonical_json({"tools": request.tools, "system": system})).hexdigest()[:32]


class PrefixChecker:
    """Warns when dynamic content precedes static content in OpenAI prompts (which defeats prefix caching).

    It compares each prompt with the last few prompts to the same model: where they first differ,
    and how much text they still share *after* that point (whole lines, so shifted text counts too).
    A long shared block behind an early difference is static content the prefix cache cannot reach.
    """

    def __init__(self, *, min_tokens: int = OPENAI_MIN_TOKENS, remember: int = 8) -> None:
        self.min_tokens = min_tokens
        self._remember = remember
        self._recent: dict[str, list[tuple[str, frozenset[str]]]] = {}

    def check(self, request: ChatRequest) -> str | None:
        """A warning message if this request's static content sits behind dynamic content, else None."""
        text = _flatten(request)
        lines = frozenset(line for line in text.splitlines() if len(line) >= _MIN_LINE)
        recent = self._recent.setdefault(request.model, [])
        warning = None
        for previous, previous_lines in recent:
            shared_prefix = _common_prefix_length(text, previous)
            after = text[shared_prefix:]
            shared_after = sum(len(line) for line in after.splitlines() if line in previous_lines and line in lines)
            # chars / 4: the documented token estimate; a warning does not need exact counts.
            if shared_prefix // 4 < self.min_tokens and shared_after // 4 >= self.min_tokens:
                warning = (
                    f"about {shared_after // 4} tokens repeat from an earlier prompt but come after content that "
                    f"changed (prompts differ from character {shared_prefix}): put static content (instructions, "
                    "documents, tools) first and dynamic content (dates, names, the question) last, so the "
                    "provider's prefix cache can be used"
                )
                break
        recent.append((text, lines))
        del recent[: -self._remember]
        return warning


_MIN_LINE = 20


def _flatten(request: ChatRequest) -> str:
    head = canonical_json(request.tools).decode() + "\n" if request.tools else ""
    return head + "\n".join(f"<{m.role}>\n{m.text}" for m in request.messages)


def _common_prefix_length(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    step = 4096
    while i < n and a[i : i + step] == b[i : i + step]:  # compare big slices first: fast on long shared prefixes
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return min(i, n)


def prompt_cache_savings(usage: Usage, model: str, catalog: PriceCatalog | None = None) -> dict[str, Any]:
    """Tokens read/written from the provider's prompt cache and the dollars it saved (negative: a write)."""
    out: dict[str, Any] = {"read_tokens": usage.cache_read_tokens, "write_tokens": usage.cache_write_tokens}
    try:
        actual = cost_of(usage, model, catalog=catalog)
        uncached = cost_of(Usage(usage.input_tokens, usage.output_tokens), model, catalog=catalog)
    except (UnknownModelError, PricingError, ValueError):
        out["saved_usd"] = None
        return out
    out["saved_usd"] = uncached - actual
    out["cost_usd"] = actual
    return out


class PromptCached:
    """Places Anthropic breakpoints, checks/keys OpenAI prefixes, and annotates prompt-cache savings."""

    def __init__(
        self,
        inner: Model,
        *,
        provider: Provider | Literal["auto"] = "auto",
        ttl: Literal["5m", "1h"] = "5m",
        min_tokens: int | None = None,
        prompt_cache_key: str | None = None,
        check_prefix: bool = True,
        catalog: PriceCatalog | None = None,
    ) -> None:
        if ttl not in ("5m", "1h"):
            raise InvalidArgumentError(f"ttl must be '5m' or '1h', got {ttl!r}")
        if provider not in ("auto", "anthropic", "openai"):
            raise InvalidArgumentError(f"provider must be 'auto', 'anthropic' or 'openai', got {provider!r}")
        self.inner = inner
        self.provider = provider
        self.ttl = ttl
        self.min_tokens = min_tokens
        self.prompt_cache_key = prompt_cache_key
        self.catalog = catalog
        self.checker = PrefixChecker() if check_prefix else None
        self.warned_models: set[str] = set()

    def prepare(self, request: ChatRequest) -> tuple[ChatRequest, dict[str, Any]]:
        """The request as it will be sent, and what was done to it."""
        provider = provider_of(request.model) if self.provider == "auto" else self.provider
        notes: dict[str, Any] = {"provider": provider}
        if provider == "anthropic":
            request, placed = place_breakpoints(request, ttl=self.ttl, min_tokens=self.min_tokens)
            notes["breakpoints"] = placed
            return request, notes
        if self.checker is not None:
            warning = self.checker.check(request)
            if warning is not None:
                notes["warning"] = warning
                if request.model not in self.warned_models:
                    self.warned_models.add(request.model)
                    logger.warning("prompt caching defeated for %s: %s", request.model, warning)
        if self.prompt_cache_key and "prompt_cache_key" not in request.extra:
            key = static_prefix_digest(request) if self.prompt_cache_key == "auto" else self.prompt_cache_key
            request = dataclasses.replace(request, extra={**request.extra, "prompt_cache_key": key})
            notes["prompt_cache_key"] = key
        return request, notes

    def _annotate(self, response: ChatResponse, notes: dict[str, Any]) -> ChatResponse:
        notes.update(prompt_cache_savings(response.usage, response.model, self.catalog))
        response.annotations["prompt_cache"] = notes
        return response

    async def complete(self, request: ChatRequest) -> ChatResponse:
        prepared, notes = self.prepare(request)
        return self._annotate(await self.inner.complete(prepared), notes)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        prepared, notes = self.prepare(request)
        async for event in self.inner.stream(prepared):
            if isinstance(event, StreamDone):
                self._annotate(event.response, notes)
            yield event

    async def aclose(self) -> None:
        await self.inner.aclose()


def prompt_cached_from_options(model: Model, options: Mapping[str, Any]) -> Model:
    """The ``prompt_cache:`` layer of a config stack.

    Options: ``provider`` (auto|anthropic|openai), ``ttl`` (5m|1h), ``min_tokens``, ``prompt_cache_key``
    (a fixed key or ``auto``), ``check_prefix`` (bool).
    """
    return PromptCached(model, **dict(options))
