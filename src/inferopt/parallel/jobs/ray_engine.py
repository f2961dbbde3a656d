"""``--engine ray``: a batch job's rows run as Ray tasks, answers flow back to one journal.

The driver (``inferopt batch run``) cuts the pending rows into chunks and keeps ``workers`` chunks
in flight as Ray tasks, locally (``ray.init()``) or on a cluster (``--ray-address``). Each task
runs the ordinary async client over its chunk (the same stack: retries, caches, and the
``rate_limit`` layer, which must use Redis so all workers share one RPM/TPM budget) and streams
its finished items back as journal records in small batches. The driver journals each record as it
arrives, exactly as the local engine does, so an interrupted Ray job resumes the same way: answered
rows are never sent again; rows in flight when it died are.

Ray is an optional extra (``pip install 'inferopt[ray]'``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from typing import Any

from inferopt.config import Config, parse_config
from inferopt.errors import ConfigError
from inferopt.parallel.jobs.rows import Row

FLUSH_EVERY = 25


def _require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray: pip install 'inferopt[ray]'") from exc
    return ray


async def _shard_records(
    config_data: dict[str, Any], rows: list[Row], concurrency: int
) -> AsyncGenerator[list[Any], None]:
    from inferopt.client import AsyncClient
    from inferopt.parallel.jobs.runner import error_record, ok_record
    from inferopt.types import ChatResponse

    batch: list[dict[str, Any]] = []
    async with AsyncClient(parse_config(config_data, source="(ray driver config)")) as client:
        async for position, result in client.map_unordered([r.request for r in rows], concurrency=concurrency):
            row = rows[position]
            batch.append(ok_record(row, result) if isinstance(result, ChatResponse) else error_record(row, result))
            if len(batch) >= FLUSH_EVERY:
                yield batch
                batch = []
    if batch:
        yield batch


def run_shard(config_data: dict[str, Any], rows: list[Row], concurrency: int) -> Iterator[list[dict[str, Any]]]:
    """The Ray task body: answer ``rows``, yielding finished records in small batches."""
    loop = asyncio.new_event_loop()
    records = _shard_records(config_data, rows, concurrency)
    try:
        while True:
            try:
                yield loop.run_until_complete(records.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(records.aclose())
        loop.close()


def _key_environment(config: Config) -> dict[str, str]:
    """Only the variables workers need: the providers' key variables and the tiktoken folder."""
    names = {p.resolved_key_env for p in config.providers.values() if p.resolved_key_env}
    names.add("TIKTOKEN_CACHE_DIR")
    return {name: os.environ[name] for name in sorted(n for n in names if n) if name in os.environ}


class RayEngine:
    def __init__(self, config: Config, *, address: str | None, workers: int, chunk_size: int, concurrency: int) -> None:
        self.config = config
        self.address = address
        self.workers = workers
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.tasks = 0

    async def results(self, rows: Iterable[Row]) -> AsyncIterator[dict[str, Any]]:
        ray = _require_ray()
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                runtime_env={"env_vars": _key_environment(self.config)},
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        task = ray.remote(run_shard).options(num_returns="streaming", max_retries=0)
        config_data = self.config.model_dump(mode="json")
        source = iter(rows)
        chunks = iter(lambda: list(itertools.islice(source, self.chunk_size)), [])
        queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()

        async def drain(chunk: list[Row]) -> None:
            async for ref in task.remote(config_data, chunk, self.concurrency):
                await queue.put(await ref)

        async def feed() -> None:
            running: set[asyncio.Future[None]] = set()
            try:
                for chunk in chunks:
                    if len(running) >= self.workers:
                        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                        for finished in done:
                            finished.result()
                    running.add(asyncio.ensure_future(drain(chunk)))
                    self.tasks += 1
                for finished in asyncio.as_completed(running):
                    await finished
            finally:
                for pending in running:
                    pending.cancel()
                await queue.put(None)

        feeder = asyncio.ensure_future(feed())
        try:
            while (batch := await queue.get()) is not None:
                for record in batch:
                    yield record
            await feeder  # surfaces a worker crash
        finally:
            feeder.cancel()
