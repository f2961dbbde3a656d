"""Two variants of the gateway that isolate what bounds it (run by bench_gateway.py).

``python experiment_gateway.py echo PORT``: the gateway with an in-process upstream (no upstream
HTTP at all): the gateway's own ceiling.

``python experiment_gateway.py raw PORT CONFIG``: the gateway with its provider adapters on
``raw_transport.RawTransport`` instead of httpcore's pool. inferopt has no switch for this yet
(``Resolver`` builds each ``Provider`` without a transport), so this experiment substitutes the
``Provider`` class the resolver calls; it measures what such a switch would give.
"""

from __future__ import annotations

import functools
import sys

import uvicorn
from raw_transport import RawTransport

import inferopt.resolve
from inferopt.client import AsyncClient
from inferopt.config import load_config, parse_config
from inferopt.gateway import GatewayApp
from inferopt.providers.base import Provider
from inferopt.testing import FunctionModel
from inferopt.types import ChatRequest, ChatResponse, Usage


def echo(request: ChatRequest) -> ChatResponse:
    return ChatResponse(id="echo", model=request.model, content="Hi there!", usage=Usage(9, 3), provider="echo")


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "echo":
        client = AsyncClient(parse_config({}), models={"gpt-4o-mini": FunctionModel(echo)})
    else:
        inferopt.resolve.Provider = functools.partial(Provider, transport=RawTransport())  # type: ignore[misc]
        client = AsyncClient(load_config(sys.argv[3]))
    uvicorn.run(GatewayApp(client), host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False)


if __name__ == "__main__":
    main()
