"""Every error inferopt raises, under one root.

::

    InferoptError
    ├── ConfigError                 bad config file, key or value (names file, key and fix)
    ├── UnknownModelError           a model name that no alias, provider or price table knows
    ├── PricingError                a price file that cannot be read
    ├── BudgetExceededError         a spend limit would be crossed
    ├── NoFeasibleOptionError       no option meets the constraints (names the closest one)
    ├── InvalidArgumentError        an argument out of its range or of the wrong kind (also a ValueError)
    ├── OutcomeDataError            a recorded-outcomes file is missing, empty or in no known format
    ├── RouterFileError             a saved router file is missing, damaged or of another version
    ├── KeyLimitError               a virtual key may not make this call (model, RPM/TPM, revoked)
    ├── JobFileError                a batch job's file cannot be read or written (names the path and fix)
    ├── JobChangedError             a rerun asks rows already answered for a different answer
    └── ProviderError               anything that went wrong talking to a provider
        ├── ProviderHTTPError       the provider answered with an error status (status, request id)
        │   ├── AuthenticationError     401/403
        │   ├── RateLimitedError        429, with retry_after (seconds) when the provider sent one
        │   ├── ContextWindowExceededError   the prompt (plus max_tokens) does not fit the model
        │   ├── UnsupportedParameterError    a parameter the model can't take (refused before sending)
        │   └── ServerError             5xx
        ├── ProviderTimeoutError    no answer within the timeout
        ├── ProviderConnectionError connection refused, reset or dropped mid-stream
        ├── ProviderProtocolError   the provider answered something we cannot parse
        └── AllAttemptsFailedError  every fallback/deployment failed (each attempt's error in .errors)

``retryable`` on a ProviderError says whether trying the same request again may succeed
(429, 5xx, timeouts, connection errors). ``partial`` is what a stream had delivered when it
failed (a ``ChatResponse`` with the text so far and its usage, estimated when the provider sent
none), so a rescue can continue it and the cut attempt is billed. Messages never contain API keys: anything that
looks like a key is redacted by :func:`redact` before it reaches a message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferopt.types import ChatResponse

_KEY_PATTERNS = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|"
    r"(?i:bearer)\s+[A-Za-z0-9_\-\.]{8,})"
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace API keys (known secrets and key-shaped strings) in ``text`` with ``[REDACTED]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return _KEY_PATTERNS.sub("[REDACTED]", text)


class InferoptError(Exception):
    """Root of every inferopt error."""


class ConfigError(InferoptError):
    """A config file, key or value is wrong. The message names the file, the key and the fix."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ", ".join(p for p in (file and f"file {file}", key and f"key {key!r}") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class UnknownModelError(InferoptError):
    """No alias, provider or price entry knows this model name."""


class PricingError(InferoptError):
    """A price table could not be read."""


class BudgetExceededError(InferoptError):
    """A spend limit would be crossed by this request."""

    def __init__(self, message: str, *, limit_usd: float | None = None, spent_usd: float | None = None):
        super().__init__(message)
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd


class NoFeasibleOptionError(InferoptError):
    """No option meets every constraint. ``closest`` is the name of the option that misses them least."""

    def __init__(self, message: str, *, closest: str | None = None) -> None:
        super().__init__(message)
        self.closest = closest


class InvalidArgumentError(InferoptError, ValueError):
    """An argument is out of its range or of the wrong kind; the message names it and the fix.

    It is a ``ValueError`` too, so code written against the standard contract keeps working.
    """


class OutcomeDataError(InferoptError):
    """A recorded-outcomes file is missing, empty or not in a known format."""


class RouterFileError(InferoptError):
    """A saved router file is missing, damaged or from an incompatible version."""


class KeyLimitError(InferoptError):
    """A virtual key may not make this call (wrong key, model not allowed, RPM/TPM reached)."""

    def __init__(self, message: str, *, status: int, code: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


class JobFileError(InferoptError):
    """A batch job's input, output, journal or errors file cannot be read or written.

    The message names the path, what the OS said (disk full, read-only, permission, missing) and the fix.
    """

    def __init__(self, message: str, *, path: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class JobChangedError(InferoptError):
    """A rerun of a batch job would answer rows already answered under another model, prompt or parameters."""


class ProviderError(InferoptError):
    """Something went wrong talking to a provider."""

    retryable: bool = False
    partial: ChatResponse | None = None

    def __init__(self, message: str, *, provider: str = "", model: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class ProviderHTTPError(ProviderError):
    """The provider answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        provider: str = "",
        model: str = "",
        request_id: str | None = None,
        error_type: str | None = None,
        body: str | None = None,
    ) -> None:
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{provider or 'provider'} HTTP {status}{rid}: {message}", provider=provider, model=model)
        self.status = status
        self.request_id = request_id
        self.error_type = error_type
        self.body = body
        self.retryable = status == 408 or status == 409 or status == 429 or status >= 500


class AuthenticationError(ProviderHTTPError):
    """The provider rejected the credentials (401/403)."""


class RateLimitedError(ProviderHTTPError):
    """429: too many requests or tokens. ``retry_after`` is in seconds when the provider said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ContextWindowExceededError(ProviderHTTPError):
    """The prompt plus max_tokens does not fit the model's context window."""


class UnsupportedParameterError(ProviderHTTPError):
    """A parameter the target model can't take, refused before anything is sent (no request, no cost).

    ``param`` names it. A router tries its next target (that one may take it), as for a context-window error.
    """

    def __init__(self, message: str, *, param: str, model: str = "") -> None:
        super().__init__(message, status=400, model=model, error_type="unsupported_parameter")
        self.param = param
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


class ServerError(ProviderHTTPError):
    """The provider failed (5xx)."""


class ProviderTimeoutError(ProviderError):
    """No answer within the timeout."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """Connection refused, reset, or dropped mid-stream."""

    retryable = True


class ProviderProtocolError(ProviderError):
    """The provider answered something that does not follow its wire format."""


class AllAttemptsFailedError(ProviderError):
    """Every model a fallback tried failed; ``errors`` holds each attempt's (model, error), in order."""

    def __init__(self, errors: list[tuple[str, Exception]]) -> None:
        detail = "; ".join(f"{model}: {type(exc).__name__}: {exc}" for model, exc in errors)
        super().__init__(f"all {len(errors)} attempts failed: {detail or 'no model was available'}")
        self.errors = errors
        self.retryable = any(getattr(exc, "retryable", False) for _, exc in errors)

    @property
    def rate_limited(self) -> bool:
        """Every attempt was refused for a rate limit (so the whole answer is a 429, not a failure)."""
        return bool(self.errors) and all(isinstance(exc, RateLimitedError) for _, exc in self.errors)

    @property
    def retry_after(self) -> float | None:
        """The shortest wait any rate-limited attempt asked for (seconds), if one did."""
        waits = [exc.retry_after for _, exc in self.errors if isinstance(exc, RateLimitedError) and exc.retry_after]
        return min(waits) if waits else None


class StoreUnavailableError(InferoptError):
    """A shared store this call needs (Redis: keys, budgets, a fail-closed limiter) is not answering.

    Nothing was charged and nothing was sent upstream. ``store`` names the store, ``retry_after_s``
    says when to try again; the gateway answers it as a 503 with ``Retry-After``.
    """

    def __init__(self, message: str, *, store: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.store = store
        self.retry_after_s = retry_after_s
