"""Extended thinking as the emulator answers it (Anthropic Messages).

``thinking: {"type": "enabled", "budget_tokens": B}`` (B >= 1024 and below ``max_tokens``) or
``{"type": "adaptive"}`` gives each answer a ``thinking`` block before its text or tool calls,
in every turn (so thinking interleaves with tool use); streamed, as ``thinking_delta`` pieces and
a ``signature_delta``. Its tokens are billed as output tokens, as Anthropic bills them.

A block's ``signature`` is an HMAC of its text, and a thinking block sent back in an assistant
turn must carry the signature it came with: a changed text or signature is a 400, as the real API
answers it. So a client, a gateway or a cache that does not keep blocks byte-exact across turns
fails against the emulator as it would in production.

The rules the real API enforces with thinking on are enforced too: ``temperature`` only 1,
``top_k`` unset, and no ``tool_choice`` that forces a tool (``any`` / ``tool``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from typing import Any

from inferopt.emulator import token_runs
from inferopt.emulator.answers import Answer, generate_text
from inferopt.types import ChatRequest

MIN_BUDGET = 1024
_KEY = b"inferopt-emulator-thinking-v1"
_WORDS = (12, 60)  # a thought of 12 to 71 words, capped by the budget


def signature(text: str) -> str:
    """The signature the emulator gives (and checks on) a thinking block's text."""
    return base64.b64encode(hmac.new(_KEY, text.encode(), hashlib.sha256).digest()).decode()


def _config(request: ChatRequest) -> dict[str, Any] | None:
    value = request.extra.get("thinking")
    return value if isinstance(value, dict) and value.get("type") in ("enabled", "adaptive") else None


def problem(request: ChatRequest) -> str | None:
    """The 400 a request with thinking deserves (Anthropic's wording), or None."""
    problem = _history_problem(request)
    config = _config(request)
    if problem is not None or config is None:
        return problem
    if config["type"] == "enabled":
        budget = config.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_BUDGET:
            return f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET}"
        if request.max_tokens is not None and budget >= request.max_tokens:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    if request.temperature not in (None, 1, 1.0):
        return "`temperature` may only be set to 1 when thinking is enabled."
    if "top_k" in request.extra:
        return "`top_k` must be unset when thinking is enabled."
    choice = request.tool_choice if isinstance(request.tool_choice, dict) else {}
    if request.tool_choice == "required" or choice.get("type") in ("function", "any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _history_problem(request: ChatRequest) -> str | None:
    for i, message in enumerate(m for m in request.messages if m.role != "system"):
        if message.role != "assistant" or isinstance(message.content, str):
            continue
        for j, part in enumerate(message.content):
            if part.get("type") != "thinking":
                continue
            expected = signature(str(part.get("thinking", "")))
            if not hmac.compare_digest(str(part.get("signature", "")), expected):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    return None


def shape(request: ChatRequest, answer: Answer, seed: int, digest: bytes, model: str) -> Answer:
    """``answer`` with the thought before it, when the request enables thinking."""
    config = _config(request)
    if config is None:
        return answer
    lo, span = _WORDS
    words = lo + int.from_bytes(hashlib.blake2b(digest + b"thinking", digest_size=4).digest(), "little") % span
    budget = config.get("budget_tokens")
    if isinstance(budget, int):
        words = min(words, budget)
    text = "Let me think it through." + generate_text(seed, model, digest + b"thinking", words)
    tokens = token_runs.count(text, model)
    return replace(answer, thinking=(text, signature(text)), output_tokens=answer.output_tokens + tokens)
