"""RAG over a ~50k-token knowledge base, 100 questions: measured cost with and without prompt caching.

    python examples/rag_prompt_caching.py            # against the built-in emulator, no key needed

The knowledge base is a product handbook generated from ``examples/data/rag_kb_topics.json``
(deterministic, ~50k tokens). It goes first, in the system prompt; each question goes last. Four
set-ups answer the same 100 questions and the cost is computed from each response's usage with the
bundled price catalog (``cost_of``): cache writes at 1.25x input, reads at 0.1x (Anthropic), cached
input at the model's cached price (OpenAI).

- Anthropic, plain: no ``cache_control``, so Anthropic caches nothing;
- Anthropic, ``PromptCached``: a breakpoint on the handbook: one write, then reads;
- OpenAI, timestamp first: "Now: 12:00:07" before the handbook defeats automatic prefix caching
  (``PromptCached`` warns about it);
- OpenAI, static first + ``prompt_cache_key``: the handbook is a shared prefix, read from cache.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from inferopt.cache.prompt import PromptCached
from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.pricing import cost_of
from inferopt.providers.anthropic import AnthropicModel
from inferopt.providers.base import Provider
from inferopt.providers.openai import OpenAIChatModel
from inferopt.tokens import count_tokens
from inferopt.types import ChatRequest, Model, Usage

DATA = Path(__file__).parent / "data" / "rag_kb_topics.json"
QUESTIONS = 100


def knowledge_base(spec: dict[str, object]) -> str:
    """A deterministic handbook: one section per product, topic and region."""
    lines = [f"# {spec['company']} customer handbook"]
    for p, product in enumerate(spec["products"]):  # type: ignore[attr-defined]
        for t, topic in enumerate(spec["topics"]):  # type: ignore[attr-defined]
            lines.append(f"\n## {product}: {topic}")
            for r, region in enumerate(spec["regions"]):  # type: ignore[attr-defined]
                days = 14 + (p * 7 + t * 3 + r * 5) % 60
                lines.append(
                    f"- {region}: {topic} requests for the {product} are handled by the {region} service desk "
                    f"(ticket code {p:02d}{t:02d}{r:02d}) within {days} days; keep the receipt and the serial number."
                )
    return "\n".join(lines)


def questions(spec: dict[str, object]) -> list[str]:
    templates, products, regions = spec["questions"], spec["products"], spec["regions"]
    return [
        templates[i % len(templates)].format(product=products[i % len(products)], region=regions[i % len(regions)])  # type: ignore[index, arg-type]
        for i in range(QUESTIONS)
    ]


async def run(model: Model, requests: list[ChatRequest]) -> tuple[float, Usage]:
    """Answer all requests (the first alone, so later ones can read what it cached); return cost and usage."""
    first = await model.complete(requests[0])
    semaphore = asyncio.Semaphore(4)

    async def one(request: ChatRequest) -> Usage:
        async with semaphore:
            return (await model.complete(request)).usage

    usages = [first.usage, *await asyncio.gather(*(one(r) for r in requests[1:]))]
    total = sum(usages[1:], usages[0])
    return sum(cost_of(u, requests[0].model) for u in usages), total


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    spec = json.loads(DATA.read_text())
    handbook = knowledge_base(spec)
    asks = questions(spec)
    print(f"knowledge base: {count_tokens(handbook, 'gpt-4o'):,} tokens (o200k), {QUESTIONS} questions")
    config = EmulatorConfig(seed=5, overrides=ProfileOverrides(fixed_latency_s=0.0, rpm=10**6, tpm=10**10))
    with EmulatorServer(config) as server:

        def anthropic(key: str) -> Model:
            return AnthropicModel(Provider("emulator", server.anthropic_base_url, api_key=key))

        def openai(key: str) -> Model:
            return OpenAIChatModel(Provider("emulator", server.openai_base_url, api_key=key))

        claude = [ChatRequest.of(q, model="claude-sonnet-4-6", system=handbook, max_tokens=80) for q in asks]
        gpt_static = [ChatRequest.of(q, model="gpt-4o", system=handbook, max_tokens=80) for q in asks]
        gpt_dynamic = [
            ChatRequest.of(q, model="gpt-4o", system=f"Now: 12:00:{i:02d}\n{handbook}", max_tokens=80)
            for i, q in enumerate(asks)
        ]
        setups = [
            ("claude-sonnet-4-6, plain", anthropic("sk-ant-a"), claude),
            ("claude-sonnet-4-6, PromptCached", PromptCached(anthropic("sk-ant-b")), claude),
            ("gpt-4o, timestamp first", PromptCached(openai("sk-c")), gpt_dynamic),
            ("gpt-4o, static first + key", PromptCached(openai("sk-d"), prompt_cache_key="auto"), gpt_static),
        ]
        print(f"\n{'set-up':<34}{'input tok':>11}{'cache read':>12}{'cache write':>13}{'cost USD':>10}")
        costs = {}
        for name, model, requests in setups:
            cost, usage = await run(model, requests)
            await model.aclose()
            costs[name] = cost
            print(
                f"{name:<34}{usage.input_tokens:>11,}{usage.cache_read_tokens:>12,}"
                f"{usage.cache_write_tokens:>13,}{cost:>10.4f}"
            )
    anthropic_ratio = costs["claude-sonnet-4-6, plain"] / costs["claude-sonnet-4-6, PromptCached"]
    openai_ratio = costs["gpt-4o, timestamp first"] / costs["gpt-4o, static first + key"]
    print(f"\nprompt caching cuts the cost {anthropic_ratio:.1f}x on Anthropic, {openai_ratio:.1f}x on OpenAI")


if __name__ == "__main__":
    asyncio.run(main())
