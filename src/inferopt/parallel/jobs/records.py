"""A batch job's records: one JSON object per row, in the journal and in the output file.

Every record carries the row's identity (``row_key``, ``request_key``: see ``identity.py``) and
``asked``, the model and parameters its request was sent with, so that a rerun can tell an
answered row from a changed one, and say what changed.
"""

from __future__ import annotations

from typing import Any

from inferopt.errors import ProviderHTTPError
from inferopt.parallel.jobs.rows import InputProblem, Row
from inferopt.types import ChatRequest, ChatResponse

ASKED_PARAMS = ("max_tokens", "temperature", "top_p", "seed", "stop", "reasoning_effort")


def asked(request: ChatRequest) -> dict[str, Any]:
    """The model and the parameters set on ``request`` (what a user changes between runs)."""
    params = {name: getattr(request, name) for name in ASKED_PARAMS if getattr(request, name) is not None}
    return {"model": request.model, **params}


def identify(record: dict[str, Any], row: Row) -> dict[str, Any]:
    """``record`` with ``row``'s identity (records from remote engines may come without it)."""
    record["row_key"] = row.key
    record["request_key"] = row.request_key
    record["asked"] = asked(row.request)
    return record


def ok_record(row: Row, response: ChatResponse) -> dict[str, Any]:
    u = response.usage
    record = {
        "index": row.index,
        "id": row.id,
        "status": "ok",
        "answer": response.content,
        "model": response.model,
        "finish_reason": response.finish_reason,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "cost_usd": response.cost_usd,
        "latency_s": round(response.latency_s or 0.0, 6),
        "attempts": response.attempts or 1,
        "emulated": response.emulated,
    }
    if response.cache is not None:
        record["cache"] = response.cache
        if response.cache in ("hit", "semantic_hit"):
            record["cache_saved_usd"] = response.annotations.get("cache_saved_usd") or 0.0
    return identify(record, row)


def error_record(row: Row, error: Exception) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, ProviderHTTPError):
        detail["status"] = error.status
    return identify({"index": row.index, "id": row.id, "status": "error", "error": detail}, row)


def invalid_record(problem: InputProblem) -> dict[str, Any]:
    return {
        "index": problem.index,
        "id": f"line-{problem.line}",
        "status": "invalid",
        "error": {"type": "InvalidInputLine", "line": problem.line, "message": problem.reason},
        "row_key": problem.key,
    }
