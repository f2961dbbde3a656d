"""Embed a JSONL file (``inferopt batch run --embed``): each line's text becomes its vector.

A line is ``{"id"|"custom_id": ..., "text"|"input": ...}`` (``input`` may be a token array) or a bare
JSON string. Lines go upstream ``batch_size`` inputs per request, ``concurrency`` requests at a
time, through :meth:`inferopt.client.AsyncClient.embed`, so the config's cache serves every input
embedded before (only the others are sent). Results are written in input order, one line per input
line: ``{"id", "embedding"}``, or ``{"id", "error"}`` for a bad line or a failed request.

With ``--mode batch`` the requests go in one OpenAI Batch API batch (``endpoint: /v1/embeddings``,
half price; the command polls until it has ended). Unlike chat jobs this path keeps no journal: an
interrupted run starts over, and with a cache configured the inputs already embedded cost nothing
the second time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferopt.embeddings.types import EmbeddingInput, EmbeddingRequest, EmbeddingResponse
from inferopt.parallel.batch_api.openai_embeddings_batch import OpenAIEmbeddingsBatch
from inferopt.parallel.mapping import map_ordered

if TYPE_CHECKING:
    from inferopt.client import AsyncClient
    from inferopt.config import Config


@dataclass(slots=True)
class EmbedStats:
    """What an embedding job did: lines, vectors written, failures, tokens, cost, cache hits."""

    lines: int = 0
    embedded: int = 0
    failed: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0

    def lines_text(self) -> list[str]:
        return [
            f"embedded    {self.embedded} of {self.lines} lines ({self.failed} failed)",
            f"tokens      {self.tokens}",
            f"cost        ${self.cost_usd:.8f}",
            f"cache hits  {self.cache_hits}",
        ]


def parse_line(index: int, text: str) -> tuple[str, EmbeddingInput | None, str | None]:
    """``(id, input, error)`` of one line (the id defaults to the 0-based line index)."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        return str(index), None, f"line {index + 1} is not JSON"
    if isinstance(data, str):
        return str(index), data or None, None if data else f"line {index + 1} is an empty string"
    if not isinstance(data, dict):
        return str(index), None, f"line {index + 1} is neither an object nor a string"
    row_id = str(data.get("custom_id", data.get("id", index)))
    value = data.get("text", data.get("input"))
    tokens = isinstance(value, list) and value and all(isinstance(t, int) for t in value)
    if not (isinstance(value, str) and value) and not tokens:
        return row_id, None, f"line {index + 1} has no 'text' (or 'input') to embed"
    return row_id, value, None


async def embed_file(
    client: AsyncClient,
    input_path: Path,
    output_path: Path,
    *,
    model: str | None = None,
    dimensions: int | None = None,
    batch_size: int = 100,
    concurrency: int = 8,
    batch_api: OpenAIEmbeddingsBatch | None = None,
    poll_s: float = 10.0,
    on_status: Callable[[str], None] = print,
) -> EmbedStats:
    """Embed every line of ``input_path`` into ``output_path`` (see the module docstring); with
    ``batch_api``, every request goes in one Batch API batch (batch prices; no cache)."""
    rows = [parse_line(i, line) for i, line in enumerate(input_path.read_text("utf-8").splitlines()) if line.strip()]
    stats = EmbedStats(lines=len(rows))
    good = [i for i, (_, value, _) in enumerate(rows) if value is not None]
    chunks = [good[at : at + batch_size] for at in range(0, len(good), batch_size)]
    results: dict[int, dict[str, Any]] = {}

    def inputs_of(chunk: Sequence[int]) -> list[EmbeddingInput]:
        return [value for i in chunk if (value := rows[i][1]) is not None]

    def record(chunk: Sequence[int], answer: EmbeddingResponse | str) -> None:
        if isinstance(answer, str):
            results.update({i: {"id": rows[i][0], "error": answer} for i in chunk})
            return
        stats.tokens += answer.usage.input_tokens
        stats.cost_usd += answer.cost_usd or 0.0
        stats.cache_hits += int(answer.annotations.get("cache_hits", 0))
        for i, vector in zip(chunk, answer.vectors, strict=True):
            results[i] = {"id": rows[i][0], "embedding": vector}

    async def one(chunk: Sequence[int]) -> None:
        try:
            answer = await client.embed(EmbeddingRequest(model or "", inputs_of(chunk), dimensions), model=model)
        except Exception as exc:
            record(chunk, str(exc))
            return
        record(chunk, answer)

    if batch_api is None:
        await map_ordered(one, chunks, concurrency=concurrency)
    elif chunks:
        upstream_model = client.resolve(model).model
        items = [
            (f"chunk-{n}", EmbeddingRequest(upstream_model, inputs_of(c), dimensions)) for n, c in enumerate(chunks)
        ]
        answers = await batch_api.run(items, poll_s, on_status)
        for n, chunk in enumerate(chunks):
            record(chunk, answers.get(f"chunk-{n}", "missing from the batch's results"))
    with output_path.open("w", encoding="utf-8") as out:
        for i, (row_id, _, error) in enumerate(rows):
            result = results.get(i) or {"id": row_id, "error": error}
            stats.embedded += "embedding" in result
            out.write(json.dumps(result) + "\n")
    stats.failed = stats.lines - stats.embedded
    return stats


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """``batch run --embed``'s settings: model, vector length, inputs per request, requests in flight."""

    model: str | None = None
    dimensions: int | None = None
    batch_size: int = 100
    concurrency: int = 8
    batch_api: bool = False  # through the provider's Batch API (endpoint /v1/embeddings)
    poll_s: float = 10.0


def embed_command(
    config: Config, input_path: Path, output_path: Path, options: EmbedOptions, on_status: Callable[[str], None] = print
) -> list[str]:
    """Run an embedding job to the end under ``config``; the summary lines to print."""
    from inferopt.client import AsyncClient

    async def main() -> EmbedStats:
        async with AsyncClient(config) as client:
            api = None
            if options.batch_api:
                from inferopt.cli.batch_api import batch_provider

                api = OpenAIEmbeddingsBatch(batch_provider(config, client.resolve(options.model).provider))
            try:
                return await embed_file(
                    client,
                    input_path,
                    output_path,
                    model=options.model,
                    dimensions=options.dimensions,
                    batch_size=options.batch_size,
                    concurrency=options.concurrency,
                    batch_api=api,
                    poll_s=options.poll_s,
                    on_status=on_status,
                )
            finally:
                if api is not None:
                    await api.aclose()

    stats = asyncio.run(main())
    return [*stats.lines_text(), f"wrote {output_path}"]
