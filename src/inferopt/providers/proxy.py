"""Which HTTP proxy a provider's calls go through, if any.

Our HTTP/1.1 chat client (``http1.py``) speaks to the provider directly; behind a corporate proxy,
calls go through httpx instead, as the official SDKs' would. The proxy is the provider's ``proxy``
setting when it has one, else the environment's (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, with
``NO_PROXY``), as curl and the SDKs read them. Loopback addresses never use an environment proxy:
a local emulator, vLLM or gateway is not behind it.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def proxy_for(base_url: str, configured: str | None = None) -> str | None:
    """The proxy URL for calls to ``base_url``: ``configured`` ('' means none), else the environment's."""
    if configured is not None:
        return configured or None
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host in LOOPBACK or host.startswith("127."):
        return None
    proxies = urllib.request.getproxies_environment()
    if _bypassed(host, proxies.get("no", "")):
        return None
    return proxies.get(parts.scheme) or proxies.get("all") or None


def _bypassed(host: str, no_proxy: str) -> bool:
    """``NO_PROXY`` as curl reads it: ``*``, or names matching the host or a parent domain."""
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False
