"""From a wire body to the engine's :class:`ParsedCall`, through the product's own codecs.

The body is checked here the way each provider words its 400s, then decoded by
:mod:`inferopt.wire.openai_chat` or :mod:`inferopt.wire.anthropic_messages` into the same
:class:`~inferopt.types.ChatRequest` the gateway and the adapters use; only what the emulator alone
needs is added: the prompt as token runs (tools, then each message's blocks), the prompt's digest
and Anthropic's cacheable blocks with their breakpoints.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from inferopt.emulator import thinking
from inferopt.emulator.capability_checks import anthropic_refusal, openai_refusal
from inferopt.emulator.engine import Failure, ParsedCall
from inferopt.emulator.logprobs import MAX_TOP_LOGPROBS
from inferopt.emulator.prompt_cache import Breakpoint
from inferopt.emulator.token_runs import ImageRun, TokenRun, framing, tokenize
from inferopt.image_tokens import image_tokens, part_image
from inferopt.rescue import CONTINUE_INSTRUCTION
from inferopt.types import ChatRequest, Message
from inferopt.wire import anthropic_messages, openai_chat

MAX_BREAKPOINTS = 4
_JSON_BODY = "We could not parse the JSON body of your request."


MAX_CHOICES = 128  # OpenAI's bound on ``n``


def bad(message: str, param: str | None = None) -> Failure:
    """A 400 in the provider's words."""
    return Failure(400, "bad_request", message=message, param=param)


def _canonical(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class _Prompt:
    """The prompt as cacheable blocks: token runs, where each block ends, which carry breakpoints."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.runs: list[TokenRun] = []
        self.ends: list[int] = []
        self.breakpoints: list[Breakpoint] = []
        self.digest = hashlib.blake2b(digest_size=16)
        self.problem: str | None = None
        self._position = 0

    def frame(self, role: str) -> None:
        self.runs.append(framing(role))
        self._position += len(self.runs[-1])
        self.digest.update(b"\x00" + role.encode() + b"\x00")

    def image(self, tokens: int, identity: str, cache_control: Any = None) -> None:
        digest = hashlib.blake2b(identity.encode(), digest_size=8).digest()
        self.runs.append(ImageRun(tokens, digest))
        self._position += tokens
        self.ends.append(self._position)
        self.digest.update(digest + b"\x00")
        if cache_control is not None:
            self._mark(cache_control)

    def block(self, text: str, cache_control: Any = None) -> None:
        run = tokenize(text, self.model)
        self.runs.append(run)
        self._position += len(run)
        self.ends.append(self._position)
        self.digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
        if cache_control is not None:
            self._mark(cache_control)

    def _mark(self, cache_control: Any) -> None:
        """A breakpoint at the last block (a block's or a whole tool result's ``cache_control``)."""
        if not isinstance(cache_control, dict) or cache_control.get("type") != "ephemeral":
            self.problem = self.problem or "cache_control.type: Input should be 'ephemeral'"
            return
        ttl = cache_control.get("ttl", "5m")
        if ttl not in ("5m", "1h"):
            self.problem = self.problem or "cache_control.ttl: Input should be '5m' or '1h'"
            return
        self.breakpoints.append(Breakpoint(len(self.ends) - 1, ttl))

    def message(self, message: Message) -> None:
        self.frame(message.role)
        if isinstance(message.content, str):
            if message.content or not message.tool_calls:
                self.block(message.content)
        else:
            for part in message.content:
                if part.get("type") == "text":
                    self.block(str(part.get("text", "")), part.get("cache_control"))
                elif (image := part_image(part)) is not None:  # billed by its provider's rule
                    self.image(image_tokens(*image, self.model), _canonical(part), part.get("cache_control"))
                else:  # thinking blocks, documents, ...: their JSON stands for them
                    other = _canonical({k: v for k, v in part.items() if k != "cache_control"})
                    self.block(other, part.get("cache_control"))
        if message.tool_calls:
            self.block(_canonical(message.tool_calls))
        if message.cache_control is not None and self.ends:
            self._mark(message.cache_control)


def _prompt(request: ChatRequest) -> _Prompt:
    prompt = _Prompt(request.model)
    for tool in request.tools or ():
        prompt.block(_canonical({k: v for k, v in tool.items() if k != "cache_control"}), tool.get("cache_control"))
    for message in request.messages:
        prompt.message(message)
    return prompt


def _call(request: ChatRequest, prompt: _Prompt, data: dict[str, Any], **extra: Any) -> ParsedCall:
    return ParsedCall(
        model=request.model,
        runs=prompt.runs,
        last_user_text=extra.pop("last_user_text", request.last_user_text),
        digest=prompt.digest.digest(),
        max_tokens=request.max_tokens,
        stop=tuple(s for s in request.stop or () if isinstance(s, str)),
        stream=bool(data.get("stream")),
        request=request,
        **extra,
    )


def parsed(request: ChatRequest, data: dict[str, Any], **extra: Any) -> ParsedCall:
    """A decoded request as the engine's call (its prompt tokenized as OpenAI frames it)."""
    return _call(request, _prompt(request), data, **extra)


# -- OpenAI chat completions -----------------------------------------------------------------------


def _openai_problem(body: dict[str, Any]) -> Failure | None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad("[] is too short - 'messages'", "messages")
    if any(not isinstance(m, dict) or not isinstance(m.get("role"), str) for m in messages):
        return bad("Each message must be an object with a 'role'.", "messages")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHOICES):
        return bad(f"Invalid 'n': must be an integer from 1 to {MAX_CHOICES}. Got {n!r}.", "n")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        return bad(f"Invalid 'max_tokens': integer below minimum value. Got {max_tokens!r}.", "max_tokens")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        return bad("Invalid type for 'tools': expected an array.", "tools")
    return None


def _logprobs_asked(body: dict[str, Any]) -> int | Failure | None:
    """``logprobs: true`` (with ``top_logprobs: 0-20``) as the number of alternatives; None if not asked."""
    top = body.get("top_logprobs")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS):
        return bad(f"Invalid 'top_logprobs': must be an integer from 0 to {MAX_TOP_LOGPROBS}.", "top_logprobs")
    if not body.get("logprobs"):
        if top is not None:
            return bad("'top_logprobs' is only allowed when 'logprobs' is true.", "top_logprobs")
        return None
    return top or 0


def openai_call(body: Any) -> ParsedCall | Failure:
    """A ``/v1/chat/completions`` body as a :class:`ParsedCall`, or the 400 it deserves."""
    if not isinstance(body, dict):
        return bad("The request body must be a JSON object.")
    problem = _openai_problem(body) or openai_refusal(body)
    if problem is not None:
        return problem
    logprobs = _logprobs_asked(body)
    if isinstance(logprobs, Failure):
        return logprobs
    request = openai_chat.decode_request(body)
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    extra = _instructed_continuation(request)
    choices = body.get("n") or 1
    return _call(
        request, _prompt(request), body, include_usage=include_usage, logprobs=logprobs, choices=choices, **extra
    )


def _instructed_continuation(request: ChatRequest) -> dict[str, Any]:
    """A reply cut off, then inferopt's request to continue it (:mod:`inferopt.rescue`): the model
    obeys, as a prefill of that reply would make it (the answer goes on from where it stopped)."""
    messages = request.messages
    if len(messages) < 2 or messages[-1].role != "user" or messages[-1].text != CONTINUE_INSTRUCTION:
        return {}
    cut = messages[-2]
    if cut.role != "assistant" or not cut.text or cut.tool_calls:
        return {}
    before = replace(request, messages=messages[:-2])
    return {
        "prefill": cut.text,
        "answer_digest": _prompt(before).digest.digest(),
        "last_user_text": before.last_user_text,
    }


# -- Anthropic messages ----------------------------------------------------------------------------


def _anthropic_problem(body: dict[str, Any]) -> Failure | None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return bad("model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return bad("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        return bad("max_tokens: Input should be greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad("messages: at least one message is required")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return bad("messages: each message needs a role of 'user' or 'assistant'")
        content = message.get("content")
        blocks_ok = isinstance(content, list) and content and all(isinstance(b, dict) and "type" in b for b in content)
        if not isinstance(content, str) and not blocks_ok:
            return bad("messages: content must be a string or a non-empty list of blocks")
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return bad("system: Input should be a valid string or a list of text blocks")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        return bad("tools: Input should be a valid list")
    return None


def anthropic_call(body: Any) -> ParsedCall | Failure:
    """A ``/v1/messages`` body as a :class:`ParsedCall`, or the 400 it deserves."""
    if not isinstance(body, dict):
        return bad("The request body must be a JSON object.")
    problem = _anthropic_problem(body) or anthropic_refusal(body)
    if problem is not None:
        return problem
    request = anthropic_messages.decode_request(body)
    prompt = _prompt(request)
    if prompt.problem is not None:
        return bad(prompt.problem)
    if (refusal := thinking.problem(request)) is not None:
        return bad(refusal)
    if len(prompt.breakpoints) > MAX_BREAKPOINTS:
        return bad(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(prompt.breakpoints)}."
        )
    prefill: dict[str, Any] = {}
    last = request.messages[-1] if request.messages else None
    if last is not None and last.role == "assistant" and last.text and not last.tool_calls:
        before = replace(request, messages=request.messages[:-1])
        prefill = {"prefill": last.text, "answer_digest": _prompt(before).digest.digest()}
    return _call(request, prompt, body, block_ends=prompt.ends, breakpoints=prompt.breakpoints, **prefill)


def counted_call(body: Any) -> ParsedCall | Failure:
    """A ``/v1/messages/count_tokens`` body (a Messages body without ``max_tokens``)."""
    return anthropic_call({**body, "max_tokens": 1} if isinstance(body, dict) else body)


def json_body(body: bytes) -> Any | Failure:
    try:
        return json.loads(body)
    except ValueError:
        return bad(_JSON_BODY)
