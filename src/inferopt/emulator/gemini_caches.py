"""Gemini's explicit context caches (``/v1beta/cachedContents``) on the emulator.

``create`` stores a prompt prefix (``contents``, ``systemInstruction``, ``tools``, ``toolConfig``)
for one model with a TTL (``ttl: "300s"`` or ``expireTime``; an hour by default) and answers the
``CachedContent`` resource with its ``usageMetadata.totalTokenCount``; ``get``, ``list``, ``patch``
(a new TTL) and ``delete`` as the API has them. A ``generateContent`` naming ``cachedContent`` is
answered as if the cached prefix came first, and its usage reports those tokens as
``cachedContentTokenCount`` (billed at the cache-read price). As at Google: a request that uses a
cache may not set its own ``systemInstruction``, ``tools`` or ``toolConfig``; the cache must be for
the request's model; a prefix shorter than the model's cache minimum is refused; caches of one API
key are invisible to another.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inferopt.emulator.calls import bad
from inferopt.emulator.engine import Failure
from inferopt.emulator.profiles import ProfileTable

CACHED_TOKENS_KEY = "_inferoptCachedContentTokens"  # set on an expanded body, read by wire_gemini.gemini_call
DEFAULT_TTL_S = 3600.0
_PREFIX_FIELDS = ("systemInstruction", "tools", "toolConfig")
_TTL = re.compile(r"^(\d+(?:\.\d+)?)s$")
Count = Callable[[dict[str, Any], str], "int | Failure"]


@dataclass(slots=True)
class CachedContent:
    name: str
    model: str
    prefix: dict[str, Any]  # contents, systemInstruction, tools, toolConfig as created
    tokens: int
    created: float  # wall clock
    expires: float  # emulator clock
    display_name: str = ""


class GeminiCaches:
    def __init__(self, profiles: ProfileTable, count: Count, clock: Callable[[], float]) -> None:
        self._profiles = profiles
        self._count = count
        self._clock = clock
        self._entries: dict[tuple[bytes, str], CachedContent] = {}
        self._serial = 0

    def create(self, data: dict[str, Any], tenant: bytes) -> dict[str, Any] | Failure:
        model = str(data.get("model") or "").removeprefix("models/")
        profile = self._profiles.lookup(model, "gemini")
        if profile is None:
            return Failure(404, "unknown_model", model=model, known_models=tuple(self._profiles.names("gemini")))
        prefix = {k: data[k] for k in ("contents", *_PREFIX_FIELDS) if data.get(k) is not None}
        tokens = self._count({"contents": prefix.get("contents") or [{"parts": [{"text": ""}]}], **prefix}, model)
        if isinstance(tokens, Failure):
            return tokens
        minimum = profile.min_cacheable_tokens or 1024
        if tokens < minimum:
            return bad(
                f"Cached content is too small. total_token_count={tokens}, min_total_token_count={minimum}", "contents"
            )
        ttl = _ttl_s(data)
        if isinstance(ttl, Failure):
            return ttl
        self._serial += 1
        name = f"cachedContents/emu{self._serial:06x}"
        now = self._clock()
        entry = CachedContent(name, model, prefix, tokens, time.time(), now + ttl, str(data.get("displayName") or ""))
        self._entries[(tenant, name)] = entry
        return self._resource(entry)

    def get(self, name: str, tenant: bytes) -> CachedContent | Failure:
        entry = self._entries.get((tenant, name))
        if entry is None or entry.expires <= self._clock():
            self._entries.pop((tenant, name), None)
            return Failure(403, "bad_request", message="CachedContent not found (or permission denied)")
        return entry

    def describe(self, name: str, tenant: bytes) -> dict[str, Any] | Failure:
        entry = self.get(name, tenant)
        return entry if isinstance(entry, Failure) else self._resource(entry)

    def update(self, name: str, data: dict[str, Any], tenant: bytes) -> dict[str, Any] | Failure:
        entry = self.get(name, tenant)
        if isinstance(entry, Failure):
            return entry
        ttl = _ttl_s(data)
        if isinstance(ttl, Failure):
            return ttl
        entry.expires = self._clock() + ttl
        return self._resource(entry)

    def delete(self, name: str, tenant: bytes) -> dict[str, Any] | Failure:
        entry = self.get(name, tenant)
        if isinstance(entry, Failure):
            return entry
        del self._entries[(tenant, name)]
        return {}

    def list(self, tenant: bytes) -> dict[str, Any]:
        now = self._clock()
        live = [e for (t, _), e in self._entries.items() if t == tenant and e.expires > now]
        return {"cachedContents": [self._resource(e) for e in live]}

    def expand(self, data: dict[str, Any], model: str, tenant: bytes) -> dict[str, Any] | Failure:
        """A ``generateContent`` body naming ``cachedContent``, with the cached prefix put first."""
        entry = self.get(str(data["cachedContent"]), tenant)
        if isinstance(entry, Failure):
            return entry
        if entry.model != model.removeprefix("models/"):
            return bad(f"Model {model} does not match the model of the cached content ({entry.model}).")
        if any(data.get(k) is not None for k in _PREFIX_FIELDS):
            return bad(
                "CachedContent can not be used with GenerateContent request setting system_instruction, "
                "tools or tool_config.\n\nProposed fix: move those values to CachedContent from "
                "GenerateContent request."
            )
        body = {k: v for k, v in data.items() if k != "cachedContent"}
        body.update({k: v for k, v in entry.prefix.items() if k != "contents"})
        body["contents"] = [*(entry.prefix.get("contents") or []), *(data.get("contents") or [])]
        body[CACHED_TOKENS_KEY] = entry.tokens
        return body

    def _resource(self, entry: CachedContent) -> dict[str, Any]:
        expire_wall = time.time() + max(0.0, entry.expires - self._clock())
        out: dict[str, Any] = {
            "name": entry.name,
            "model": f"models/{entry.model}",
            "createTime": _rfc3339(entry.created),
            "updateTime": _rfc3339(entry.created),
            "expireTime": _rfc3339(expire_wall),
            "usageMetadata": {"totalTokenCount": entry.tokens},
        }
        if entry.display_name:
            out["displayName"] = entry.display_name
        return out


def _ttl_s(data: dict[str, Any]) -> float | Failure:
    ttl, expire = data.get("ttl"), data.get("expireTime")
    if ttl is None and expire is None:
        return DEFAULT_TTL_S
    if ttl is not None:
        match = _TTL.match(str(ttl))
        if match is None or float(match[1]) <= 0:
            return bad(f"Invalid ttl {ttl!r}: a duration in seconds such as '300s'", "ttl")
        return float(match[1])
    try:
        when = datetime.fromisoformat(str(expire).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return bad(f"Invalid expireTime {expire!r}: an RFC 3339 timestamp", "expireTime")
    if when <= time.time():
        return bad("expireTime must be in the future", "expireTime")
    return when - time.time()


def _rfc3339(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
