"""What went wrong, as an HTTP answer: one :class:`Problem`, rendered in each wire dialect.

Every refusal the gateway gives (bad JSON, unknown model, over budget, upstream failure) becomes
a ``Problem``; the OpenAI routes render it as ``{"error": {"message", "type", "param", "code"}}``
and the Anthropic route as ``{"type": "error", "error": {"type", "message"}}``, so each official
SDK raises its usual exception class. Messages pass through :func:`inferopt.errors.redact`:
provider keys never reach a client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from inferopt.errors import (
    AllAttemptsFailedError,
    BudgetExceededError,
    ConfigError,
    InferoptError,
    KeyLimitError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
    RateLimitedError,
    StoreUnavailableError,
    UnknownModelError,
    UnsupportedParameterError,
    redact,
)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_exceeded"}
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A refusal: HTTP status, a message that names the cause and the fix, OpenAI-style code/param."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None
    retry_after_s: float | None = None

    @property
    def openai_type(self) -> str:
        if self.code == "insufficient_quota":
            return "insufficient_quota"
        if self.status >= 500:
            return "api_error"
        return _OPENAI_TYPES.get(self.status, "invalid_request_error")

    @property
    def anthropic_type(self) -> str:
        if self.status >= 500 and self.status != 529:
            return "api_error"
        return _ANTHROPIC_TYPES.get(self.status, "invalid_request_error")

    def openai_error(self) -> dict[str, object]:
        return {"message": self.message, "type": self.openai_type, "param": self.param, "code": self.code}

    def openai_body(self) -> bytes:
        return _dumps({"error": self.openai_error()}).encode()

    def anthropic_error(self) -> dict[str, object]:
        return {"type": "error", "error": {"type": self.anthropic_type, "message": self.message}}

    def anthropic_body(self) -> bytes:
        return _dumps(self.anthropic_error()).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after_s is None:
            return []
        return [(b"retry-after", str(max(1, round(self.retry_after_s))).encode())]


def invalid(message: str, param: str | None = None, code: str | None = None) -> Problem:
    return Problem(400, message, code=code, param=param)


def problem_for(exc: BaseException) -> Problem:
    """The HTTP answer for an error raised while serving a request (message redacted)."""
    message = redact(str(exc)) or type(exc).__name__
    if isinstance(exc, UnknownModelError):
        return Problem(404, message, code="model_not_found", param="model")
    if isinstance(exc, BudgetExceededError):
        return Problem(429, message, code="insufficient_quota")
    if isinstance(exc, StoreUnavailableError):  # Redis down: fail closed, and say when to come back
        return Problem(503, message, code="store_unavailable", retry_after_s=exc.retry_after_s)
    if isinstance(exc, KeyLimitError):
        return Problem(exc.status, message, code=exc.code, retry_after_s=exc.retry_after_s)
    if isinstance(exc, RateLimitedError):
        return Problem(429, message, code="rate_limit_exceeded", retry_after_s=exc.retry_after)
    if isinstance(exc, AllAttemptsFailedError) and exc.rate_limited:  # every target limited: wait, do not fail
        return Problem(429, message, code="rate_limit_exceeded", retry_after_s=exc.retry_after)
    if isinstance(exc, UnsupportedParameterError):
        return Problem(400, message, code="unsupported_parameter", param=exc.param)
    if (
        isinstance(exc, AllAttemptsFailedError)
        and exc.errors
        and all(isinstance(e, UnsupportedParameterError) for _, e in exc.errors)
    ):  # no target takes what the request needs: the caller's request, not an upstream failure
        return Problem(400, message, code="unsupported_parameter", param=getattr(exc.errors[0][1], "param", None))
    if isinstance(exc, ProviderHTTPError):
        # The upstream's 4xx is the caller's problem and keeps its status; 5xx says the upstream failed.
        status = exc.status if 400 <= exc.status < 500 else 502
        return Problem(status, message, code=exc.error_type if status < 500 else "upstream_error")
    if isinstance(exc, ProviderTimeoutError):
        return Problem(504, message, code="upstream_timeout")
    if isinstance(exc, ProviderConnectionError):
        return Problem(502, message, code="upstream_unreachable")
    if isinstance(exc, ProviderError):
        return Problem(502, message, code="upstream_error")
    if isinstance(exc, ConfigError):
        return Problem(500, f"gateway configuration: {message}", code="gateway_config")
    if isinstance(exc, InferoptError):
        return Problem(400, message, code="invalid_request")
    return Problem(500, f"internal gateway error ({type(exc).__name__}); see the gateway log", code="internal")
