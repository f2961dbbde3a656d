"""Input rows of a batch job: full chat requests, or ``{"id", "text"}`` rows filled into a template.

A line is one of:

- a chat request in OpenAI's shape: ``{"custom_id"|"id": ..., "messages": [...], "model"?: ..., "max_tokens"?: ...}``
- a data row: ``{"id": ..., "text": ..., ...}`` with ``--template "Classify: {text}"`` (any field of the
  row can appear in the template) and optional ``--system``.

A line that is not JSON, not an object, or neither shape is an :class:`InputProblem` with its
line number; the job records it in the errors file and goes on with the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferopt.errors import InvalidArgumentError
from inferopt.parallel.jobs.identity import RowKeys, line_data, request_key
from inferopt.types import ChatRequest, Message

REQUEST_FIELDS = {"max_tokens", "temperature", "top_p", "stop", "seed", "tools", "tool_choice", "response_format"}


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What turns rows into requests; part of a job's identity (a changed spec is a different job)."""

    model: str | None = None
    template: str | None = None
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        return {"model": self.model, "template": self.template, "system": self.system, "params": self.params}


@dataclass(frozen=True, slots=True)
class Row:
    index: int  # 0-based position among the input's lines
    line: int  # 1-based line number, for messages
    id: str
    request: ChatRequest
    key: str = ""  # the row's durable identity (identity.py): what it is, not where it is
    request_key: str = ""  # the digest of what its answer depends on


@dataclass(frozen=True, slots=True)
class InputProblem:
    index: int
    line: int
    reason: str
    text: str
    key: str = ""


def _request(data: dict[str, Any], spec: JobSpec, default_model: str) -> ChatRequest:
    model = str(data.get("model") or spec.model or default_model)
    params = {**spec.params, **{k: data[k] for k in REQUEST_FIELDS if k in data}}
    if "messages" in data:
        messages = data["messages"]
        if not isinstance(messages, list) or not messages:
            raise InvalidArgumentError("'messages' must be a non-empty list of {role, content} objects")
        parsed = [Message.from_openai(m) for m in messages]
        if spec.system and not any(m.role == "system" for m in parsed):
            parsed.insert(0, Message("system", spec.system))
        return ChatRequest(model=model, messages=parsed, **params)
    if "text" in data:
        if spec.template:
            try:
                prompt = spec.template.format_map(data)
            except KeyError as exc:
                raise InvalidArgumentError(f"--template uses field {exc} which this row does not have") from None
        else:
            prompt = str(data["text"])
        return ChatRequest.of(prompt, model=model, system=spec.system, **params)
    raise InvalidArgumentError("a row needs 'messages' (a chat request) or 'text' (a data row for --template)")


def parse_line(
    index: int, number: int, text: str, spec: JobSpec, default_model: str, keys: RowKeys | None = None
) -> Row | InputProblem:
    """One input line (already stripped, not blank) as a Row, or the problem with it.

    ``keys`` numbers identical lines of one pass over the input (a fresh one when not given).
    """
    data = line_data(text)
    key = (keys or RowKeys()).key(data)
    try:
        if isinstance(data, str):
            json.loads(text)  # raises the JSON error, for its message
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"expected a JSON object, got {type(data).__name__}")
        row_id = str(data.get("custom_id", data.get("id", f"line-{number}")))
        request = _request(data, spec, default_model)
        return Row(index, number, row_id, request, key, request_key(request))
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"not valid JSON: {exc}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return InputProblem(index, number, reason, text[:500], key)


def read_lines(path: Path) -> Iterator[tuple[int, int, str]]:
    """``(index, line number, text)`` of every non-blank line, lazily (inputs can be huge)."""
    with path.open(encoding="utf-8") as lines:
        index = 0
        for number, raw in enumerate(lines, start=1):
            text = raw.strip()
            if text:
                yield index, number, text
                index += 1


def read_rows(path: Path, spec: JobSpec, default_model: str) -> Iterator[Row | InputProblem]:
    """Every non-blank line of ``path`` as a Row or an InputProblem, lazily."""
    keys = RowKeys()
    for index, number, text in read_lines(path):
        yield parse_line(index, number, text, spec, default_model, keys)
