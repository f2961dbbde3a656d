"""Gemini context caches through the gateway: ``/v1beta/cachedContents[/{id}]`` forwarded to a Gemini upstream.

``POST`` (create), ``GET`` (list), ``GET|PATCH|DELETE /{id}`` go to the Gemini provider that
serves the cache's model (an alias is resolved as for ``generateContent``). The upstream sees one
account, the gateway's; tenants are kept apart by the cache's ``displayName``, which the gateway
writes as ``inferopt:{owner}:{name the caller gave}`` (``owner`` a digest of the caller's tenant:
its key, or the cache namespace keys share) and strips again on the way back. A cache whose owner
is another tenant is answered 404, as one that does not exist; a listing shows the caller's own.
A ``generateContent`` naming ``cachedContent`` is checked the same way before it is sent
(:meth:`GeminiCacheRoutes.check`), then passed through: its usage's ``cachedContentTokenCount`` is
billed at the cache-read price like any cached tokens. Nothing is stored in the gateway but a
memo of which provider holds which cache, so replicas and restarts need no shared state.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any

import httpx

from inferopt.client import AsyncClient
from inferopt.errors import InferoptError
from inferopt.gateway.problems import Problem
from inferopt.gateway.validation import ParsedChat
from inferopt.providers.base import Provider
from inferopt.wire import gemini

PATH = re.compile(r"^/(?:v1beta|v1)/cachedContents(?:/(?P<id>[^/:]+))?$")
_PREFIX = "inferopt:"
_MEMO = 10_000
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def owner_of(tenant: str) -> str:
    """The tag a tenant's caches carry upstream (a digest: the upstream never sees key ids)."""
    return hashlib.blake2b(tenant.encode(), digest_size=8).hexdigest()


def _not_found(name: str) -> tuple[int, bytes]:
    return 404, _dumps(gemini.encode_error(404, f"CachedContent {name} not found (or permission denied)")).encode()


class GeminiCacheRoutes:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        # cache name -> (provider, owner): neither changes while the cache lives (a PATCH sets only its TTL)
        self._holders: OrderedDict[str, tuple[str, str]] = OrderedDict()

    @staticmethod
    def match(path: str) -> str | None:
        """The cache id of a ``cachedContents`` path ('' for the collection), or None."""
        found = PATH.match(path)
        return None if found is None else found["id"] or ""

    async def handle(self, tenant: str, method: str, cache_id: str, body: bytes) -> tuple[int, bytes]:
        """The status and body of one ``cachedContents`` call, for ``tenant``."""
        owner = owner_of(tenant)
        try:
            if not cache_id:
                if method == "POST":
                    return await self._create(owner, body)
                if method == "GET":
                    return await self._list(owner)
                return 404, _dumps(gemini.encode_error(404, f"no route {method} cachedContents")).encode()
            name = f"cachedContents/{cache_id}"
            provider = await self._locate(name, owner, self._providers())
            if provider is None:
                return _not_found(name)
            if method == "GET":
                return await self._forward(provider, owner, "GET", f"/v1beta/{name}")
            if method == "PATCH":
                data = json.loads(body or b"{}")
                change = {k: v for k, v in data.items() if k in ("ttl", "expireTime")} if isinstance(data, dict) else {}
                return await self._forward(provider, owner, "PATCH", f"/v1beta/{name}", change)
            if method == "DELETE":
                self._holders.pop(name, None)
                return await self._forward(provider, owner, "DELETE", f"/v1beta/{name}")
            return 404, _dumps(gemini.encode_error(404, f"no route {method} {name}")).encode()
        except ValueError:
            return 400, _dumps(gemini.encode_error(400, "Invalid JSON payload received.")).encode()
        except (httpx.HTTPError, InferoptError) as exc:
            message = f"the Gemini upstream could not be reached for cachedContents ({type(exc).__name__})"
            return 502, _dumps(gemini.encode_error(502, message)).encode()

    async def check(self, parsed: ParsedChat, tenant: str) -> Problem | None:
        """Refuse a ``generateContent`` naming a cache the caller does not own, or sent to a non-Gemini upstream."""
        name = parsed.request.extra.get("cachedContent")
        if not name:
            return None
        route = self._client.resolve(parsed.request.model)
        if route.wire != "gemini":
            return Problem(
                400,
                f"cachedContent needs a Gemini upstream, and {parsed.request.model!r} is served by {route.provider} "
                f"({route.wire} wire); send it to a Gemini model, or drop cachedContent",
                param="cachedContent",
            )
        try:
            held = await self._locate(str(name), owner_of(tenant), [self._client.connection(route.provider, "gemini")])
        except (httpx.HTTPError, InferoptError):
            return Problem(502, "the Gemini upstream could not be reached to check the cachedContent")
        if held is None:
            return Problem(404, f"CachedContent {name} not found (or permission denied)", param="cachedContent")
        return None

    def _providers(self) -> list[Provider]:
        """Every provider that speaks Gemini's wire (a Gemini account, or an emulator)."""
        providers = self._client.config.providers
        return [self._client.connection(n, "gemini") for n, s in providers.items() if s.kind in ("gemini", "emulator")]

    async def _create(self, owner: str, body: bytes) -> tuple[int, bytes]:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict) or not data.get("model"):
            return 400, _dumps(
                gemini.encode_error(400, "* CreateCachedContentRequest.cached_content.model: required")
            ).encode()
        route = self._client.resolve(str(data["model"]).removeprefix("models/"))
        if route.wire != "gemini":
            message = (
                f"cachedContents need a Gemini model; {data['model']} is served by {route.provider} ({route.wire})"
            )
            return 400, _dumps(gemini.encode_error(400, message)).encode()
        provider = self._client.connection(route.provider, "gemini")
        data["model"] = f"models/{route.model}"
        data["displayName"] = f"{_PREFIX}{owner}:{data.get('displayName') or ''}"
        return await self._forward(provider, owner, "POST", "/v1beta/cachedContents", data)

    async def _list(self, owner: str) -> tuple[int, bytes]:
        mine: list[dict[str, Any]] = []
        for provider in self._providers():
            params: dict[str, str] = {"pageSize": "1000"}
            while True:
                response = await provider.client.request(
                    "GET", "/v1beta/cachedContents", params=params, headers=_auth(provider)
                )
                if response.status_code >= 400:
                    return response.status_code, response.content
                page = response.json()
                for item in page.get("cachedContents") or []:
                    if _owner(item) == owner:
                        self._remember(str(item.get("name")), provider.name, owner)
                        mine.append(_stripped(item))
                if not page.get("nextPageToken"):
                    break
                params["pageToken"] = str(page["nextPageToken"])
        return 200, _dumps({"cachedContents": mine}).encode()

    async def _locate(self, name: str, owner: str, providers: list[Provider]) -> Provider | None:
        """The provider holding cache ``name``, if ``owner`` owns it (remembered, else asked upstream)."""
        remembered = self._holders.get(name)
        if remembered is not None:
            holder, tag = remembered
            found = next((p for p in providers if p.name == holder), None)
            return found if tag == owner else None
        for provider in providers:
            response = await provider.client.request("GET", f"/v1beta/{name}", headers=_auth(provider))
            if response.status_code >= 400:
                continue
            held_by = _owner(response.json())
            if held_by is not None:
                self._remember(name, provider.name, held_by)
            return provider if held_by == owner else None
        return None

    async def _forward(
        self, provider: Provider, owner: str, method: str, path: str, data: dict[str, Any] | None = None
    ) -> tuple[int, bytes]:
        content = None if data is None else _dumps(data).encode()
        headers = {**_auth(provider), "content-type": "application/json"}
        response = await provider.client.request(method, path, content=content, headers=headers)
        if response.status_code >= 400 or not response.content.strip():
            return response.status_code, response.content or b"{}"
        item = response.json()
        if item.get("name") and _owner(item) == owner:
            self._remember(str(item["name"]), provider.name, owner)
        return response.status_code, _dumps(_stripped(item)).encode()

    def _remember(self, name: str, provider: str, owner: str) -> None:
        self._holders[name] = (provider, owner)
        self._holders.move_to_end(name)
        while len(self._holders) > _MEMO:
            self._holders.popitem(last=False)


def _auth(provider: Provider) -> dict[str, str]:
    return {"x-goog-api-key": provider.api_key} if provider.api_key else {}


def _owner(item: dict[str, Any]) -> str | None:
    display = str(item.get("displayName") or "")
    return display[len(_PREFIX) :].partition(":")[0] if display.startswith(_PREFIX) else None


def _stripped(item: dict[str, Any]) -> dict[str, Any]:
    """The resource as its owner named it (our owner tag taken off ``displayName``)."""
    out = dict(item)
    given = str(out.pop("displayName", "") or "")
    if given.startswith(_PREFIX):
        given = given[len(_PREFIX) :].partition(":")[2]
    if given:
        out["displayName"] = given
    return out
