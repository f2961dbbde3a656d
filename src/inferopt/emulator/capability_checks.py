"""The emulator refuses what the real model refuses, read off the product's capability table.

So a client (or our own :class:`~inferopt.capabilities.Capable` layer) sees against the emulator
the 400s it would see against the provider: an OpenAI reasoning model given ``temperature`` other
than 1, ``max_tokens`` instead of ``max_completion_tokens`` or ``logprobs``; a Claude 4.5 model
given both ``temperature`` and ``top_p``. Worded as the providers word them.
"""

from __future__ import annotations

from typing import Any

from inferopt.capabilities.table import bundled_table
from inferopt.emulator.engine import Failure


def _unsupported(message: str, param: str, kind: str = "unsupported_parameter") -> Failure:
    return Failure(400, "unsupported", message=message, param=param, code=kind)


def openai_refusal(body: dict[str, Any]) -> Failure | None:
    caps = bundled_table().get(str(body.get("model", "")))
    for name, accepted in (("temperature", caps.temperature), ("top_p", caps.top_p)):
        value = body.get(name)
        if value is not None and value != 1 and not accepted:
            return _unsupported(
                f"Unsupported value: '{name}' does not support {value} with this model. "
                "Only the default (1) value is supported.",
                name,
                "unsupported_value",
            )
    if body.get("max_tokens") is not None and caps.max_tokens_field == "max_completion_tokens":
        return _unsupported(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
        )
    if body.get("logprobs") and not caps.logprobs:
        return _unsupported("Unsupported parameter: 'logprobs' is not supported with this model.", "logprobs")
    return None


def anthropic_refusal(body: dict[str, Any]) -> Failure | None:
    caps = bundled_table().get(str(body.get("model", "")))
    if caps.sampling_exclusive and body.get("temperature") is not None and body.get("top_p") is not None:
        return Failure(
            400,
            "bad_request",
            message="`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        )
    return None
