"""Request parsing the batch routes need beyond JSON: multipart uploads, query strings, timestamps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

from inferopt.emulator.asgi_io import Scope, header

_DISPOSITION_PARAM = re.compile(r';\s*([a-zA-Z*]+)="?([^";]*)"?')


@dataclass(frozen=True, slots=True)
class FormPart:
    name: str
    filename: str | None
    data: bytes


def multipart_parts(scope: Scope, body: bytes) -> list[FormPart] | str:
    """The parts of a ``multipart/form-data`` body, or why it is not one."""
    content_type = header(scope, b"content-type") or ""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        return "Expected a multipart/form-data body with a boundary (the file upload format)."
    delimiter = b"--" + match.group(1).encode("latin-1")
    parts: list[FormPart] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            return "A multipart part has no header/body separator."
        params: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                params = {k.lower(): v for k, v in _DISPOSITION_PARAM.findall(line)}
        parts.append(FormPart(params.get("name", ""), params.get("filename"), data.removesuffix(b"\r\n")))
    return parts


def query(scope: Scope) -> dict[str, str]:
    """The query string as a dict (the last value of a repeated key wins)."""
    raw = scope.get("query_string", b"").decode("latin-1")
    return {k: v[-1] for k, v in parse_qs(raw).items()}


def limit_param(params: dict[str, str], default: int = 20, maximum: int = 100) -> int:
    try:
        value = int(params.get("limit", default))
    except ValueError:
        return default
    return max(1, min(maximum, value))


def metadata_problem(metadata: object) -> str | None:
    """Why ``metadata`` breaks OpenAI's rule (at most 16 string pairs, keys to 64, values to 512 chars)."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return "Invalid type for 'metadata': expected an object of string keys and values."
    if len(metadata) > 16:
        return f"Invalid 'metadata': too many properties. Expected at most 16, but got {len(metadata)}."
    for key, value in metadata.items():
        if not isinstance(value, str):
            return f"Invalid type for 'metadata.{key}': expected a string."
        if len(key) > 64:
            return f"Invalid 'metadata': key {key[:20]!r}... is longer than 64 characters."
        if len(value) > 512:
            return f"Invalid 'metadata.{key}': string too long. Expected at most 512 characters."
    return None


def rfc3339(unix: float) -> str:
    """Anthropic's timestamp format: RFC 3339 in UTC with a ``Z``."""
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


def origin(scope: Scope) -> str:
    """``scheme://host[:port]`` the client used, for absolute URLs such as ``results_url``."""
    host = header(scope, b"host")
    if host is None:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"
