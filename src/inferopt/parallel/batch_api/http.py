"""The HTTP calls both Batch API clients make, with errors mapped to inferopt's exception tree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from inferopt.errors import InferoptError, PricingError, UnknownModelError
from inferopt.parallel.batch_api.tags import CLOCK_SKEW_S
from inferopt.pricing import cost_of
from inferopt.providers.base import Provider, http_error, parse_json, transport_error
from inferopt.providers.http import TransportFailure
from inferopt.types import Usage
from inferopt.wire.common import ErrorDetail

EMULATED_HEADER = "x-inferopt-emulated"


class BatchHTTP:
    """Requests to one provider: ``request`` returns the response of a success status or raises."""

    def __init__(
        self,
        provider: Provider,
        headers: dict[str, str],
        error_detail: Callable[[bytes], ErrorDetail],
        request_id_header: str,
    ) -> None:
        self.provider = provider
        self._headers = headers
        self._error_detail = error_detail
        self._request_id_header = request_id_header

    async def request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        """``what`` names the call in errors (a model or a batch id)."""
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            response = await self.provider.client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(self.provider, what, _failure(exc)) from exc
        if response.status_code >= 400:
            raise http_error(
                self.provider,
                what,
                response.status_code,
                response.headers,
                response.content,
                self._error_detail(response.content),
                response.headers.get(self._request_id_header),
            )
        return response

    async def json(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.request(method, url, what, **kwargs)
        return parse_json(self.provider, what, response.content)

    async def listed(
        self,
        path: str,
        cursor: str,
        since: float,
        created_at: Callable[[dict[str, Any]], float],
        *,
        limit: int,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The objects of a newest-first list, page by page, down to those created ``CLOCK_SKEW_S`` before ``since``."""
        query: dict[str, str | int] = {**(params or {}), "limit": limit}
        while True:
            page = await self.json("GET", path, path, params=query)
            data = page.get("data") or []
            for item in data:
                if created_at(item) < since - CLOCK_SKEW_S:
                    return
                yield item
            if not page.get("has_more") or not data:
                return
            query[cursor] = str(page.get("last_id") or data[-1]["id"])

    async def aclose(self) -> None:
        await self.provider.aclose()


def _failure(exc: httpx.HTTPError) -> TransportFailure:
    """An httpx error in the terms ``transport_error`` maps (timeout, connect, read)."""
    what = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", what)
    return TransportFailure("connect" if isinstance(exc, httpx.ConnectError) else "read", what)


def batch_cost(usage: Usage, model: str) -> float | None:
    """Cost at the model's Batch API prices, or None when the catalog has no batch price for it."""
    try:
        return cost_of(usage, model, batch=True)
    except (UnknownModelError, PricingError):
        return None


def not_finished(batch_id: str, status: str) -> InferoptError:
    return InferoptError(
        f"batch {batch_id} has not finished (status {status}); poll its status until it has ended, or cancel it "
        "(a cancelled batch returns what was done before the cancel)"
    )
