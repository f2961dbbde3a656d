"""``inferopt eval EXPERIMENT.yaml``: one dataset through several configurations, measured.

::

    name: rag-options
    dataset: {path: questions.jsonl, limit: 200, repeat: 0.3}  # or a RouterBench CSV (format: routerbench)
    scorer: {kind: contains}                          # see inferopt.tradeoff.scorers
    base:                                             # an inferopt config shared by every configuration
      providers: {emu: {kind: emulator}}
    requirements: {max_latency: 1.0, max_cost: 5.0, min_quality: 0.8}
    configurations:
      - {name: strong, model: gpt-4o, concurrency: 1}
      - name: cheap + cache + prompt
        model: gpt-4o-mini
        concurrency: 8
        system: "Answer with the option letter only."
        prompt_template: "{prompt}\\nAnswer:"
        params: {max_tokens: 64, temperature: 0}
        config: {stack: [{cache: {url: "memory://"}}]}   # merged over base

Each configuration runs through its own :class:`~inferopt.client.AsyncClient` (real HTTP to the
providers or the emulator) and is measured: latency p50/p95 of each request as the caller saw it,
wall time, cost per 1,000 requests (cache hits cost nothing), quality (mean score over scorable
answers), errors and cache hit rate. Results are saved as JSONL, one row per configuration with the
exact configuration that produced it, and as an options CSV that ``inferopt pareto`` reads.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inferopt.client import AsyncClient
from inferopt.config import Config, parse_config
from inferopt.errors import ConfigError, ProviderError
from inferopt.monitor.summary import percentile
from inferopt.parallel.mapping import map_ordered
from inferopt.tradeoff.dataset import Example, load_dataset
from inferopt.tradeoff.pareto import Option
from inferopt.tradeoff.scorers import Scorer, make_scorer
from inferopt.types import ChatResponse


class _StrictSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_StrictSpec):
    path: str
    format: str | None = None
    limit: int | None = Field(default=None, gt=0)
    # Ask this fraction of the examples a second time, after the others: real traffic repeats
    # questions, and without repeats an answer cache has nothing to show.
    repeat: float = Field(default=0.0, ge=0.0, le=1.0)


class ConfigurationSpec(_StrictSpec):
    name: str
    model: str | None = None
    concurrency: int = Field(default=1, ge=1)
    system: str | None = None
    prompt_template: str = "{prompt}"
    params: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class RequirementsSpec(_StrictSpec):
    max_latency: float | None = None
    max_cost: float | None = None
    min_quality: float | None = None


class ExperimentSpec(_StrictSpec):
    name: str = "experiment"
    dataset: DatasetSpec
    scorer: dict[str, Any] = Field(default_factory=lambda: {"kind": "exact"})
    base: dict[str, Any] = Field(default_factory=dict)
    configurations: list[ConfigurationSpec] = Field(min_length=1)
    requirements: RequirementsSpec = Field(default_factory=RequirementsSpec)
    output: str | None = None


def load_experiment(path: str | Path) -> tuple[ExperimentSpec, Path]:
    """The experiment file, validated; relative paths in it are relative to its folder."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("experiment file not found", file=str(file))
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        spec = ExperimentSpec.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(file)) from None
    except ValidationError as exc:
        details = "; ".join(f"key {'.'.join(map(str, e['loc']))!r}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid experiment: {details}", file=str(file)) from None
    return spec, file.parent


def merged_config(base: dict[str, Any], override: dict[str, Any], source: str) -> Config:
    """``override`` over ``base``: mappings merge key by key, anything else (a stack list) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return parse_config(merged, source=source)


@dataclass(slots=True)
class Outcome:
    """One request of one configuration."""

    example_id: str
    latency_s: float
    cost_usd: float | None = None
    score: float | None = None
    cache_hit: bool = False
    error: str = ""
    model: str = ""


@dataclass(slots=True)
class ConfigurationResult:
    """The measurements of one configuration, with the configuration that produced them."""

    name: str
    requests: int
    errors: int
    latency_p50: float
    latency_p95: float
    wall_s: float
    cost_per_1k: float
    quality: float
    scored: int
    cache_hit_rate: float
    configuration: dict[str, Any] = field(default_factory=dict)

    def option(self) -> Option:
        values = {"latency_p95": self.latency_p95, "cost_per_1k": self.cost_per_1k, "quality": self.quality}
        return Option(self.name, values, {"latency_p50": self.latency_p50, "wall_s": self.wall_s})


Runner = Callable[[Sequence[Callable[[], Awaitable[Outcome]]], int], Awaitable[list[Outcome]]]


async def run_bounded(jobs: Sequence[Callable[[], Awaitable[Outcome]]], concurrency: int) -> list[Outcome]:
    """Run ``jobs`` with at most ``concurrency`` in flight, results in input order.

    The same worker pool as ``AsyncClient.map`` (``concurrency`` tasks, not one task per job), so a
    configuration's wall time measures what a user's batch would see. A job that raises fails the run:
    ``ask`` already turns provider errors into outcomes, so anything else is a bug to surface.
    """

    async def call(job: Callable[[], Awaitable[Outcome]]) -> Outcome:
        return await job()

    results = await map_ordered(call, jobs, concurrency=concurrency)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return [r for r in results if not isinstance(r, Exception)]


def _cache_hit(response: ChatResponse) -> bool:
    return str(response.cache or "") in ("hit", "semantic_hit", "exact", "semantic")


async def run_configuration(
    spec: ConfigurationSpec,
    config: Config,
    examples: Sequence[Example],
    scorer: Scorer,
    *,
    runner: Runner = run_bounded,
    timer: Callable[[], float] = time.perf_counter,
) -> ConfigurationResult:
    """Send every example through ``config`` as ``spec`` says, and measure."""
    async with AsyncClient(config) as client:

        async def ask(example: Example) -> Outcome:
            prompt = (
                spec.prompt_template.format(prompt=example.prompt)
                if isinstance(example.prompt, str)
                else example.prompt
            )
            started = timer()
            try:
                answer = await client.complete(
                    prompt, model=spec.model, system=spec.system or example.system, **spec.params
                )
            except ProviderError as exc:
                return Outcome(example.id, timer() - started, error=type(exc).__name__)
            latency = timer() - started
            hit = _cache_hit(answer)
            score = await scorer(example, answer)
            return Outcome(example.id, latency, 0.0 if hit else answer.cost_usd, score, hit, model=answer.model)

        jobs = [lambda example=example: ask(example) for example in examples]
        started = timer()
        outcomes = await runner(jobs, spec.concurrency)
        wall = timer() - started
    return summarize_outcomes(spec, config, outcomes, wall)


def summarize_outcomes(
    spec: ConfigurationSpec, config: Config, outcomes: Sequence[Outcome], wall_s: float
) -> ConfigurationResult:
    ok = [o for o in outcomes if not o.error]
    latencies = [o.latency_s for o in ok]
    costs = [o.cost_usd for o in ok if o.cost_usd is not None]
    scores = [o.score for o in ok if o.score is not None]
    nan = float("nan")
    return ConfigurationResult(
        name=spec.name,
        requests=len(outcomes),
        errors=len(outcomes) - len(ok),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        wall_s=wall_s,
        cost_per_1k=1000 * sum(costs) / len(costs) if costs else nan,
        # An error is a wrong answer for the user: it counts as 0, not as missing.
        quality=(sum(scores) / (len(scores) + len(outcomes) - len(ok))) if scores else nan,
        scored=len(scores),
        cache_hit_rate=sum(o.cache_hit for o in ok) / len(ok) if ok else nan,
        configuration={"spec": spec.model_dump(), "config": config.model_dump(mode="json")},
    )


def save_results(results: Sequence[ConfigurationResult], folder: Path, name: str) -> tuple[Path, Path]:
    """``<name>.results.jsonl`` (everything, with configurations) and ``<name>.options.csv`` (for pareto)."""
    folder.mkdir(parents=True, exist_ok=True)
    full, options = folder / f"{name}.results.jsonl", folder / f"{name}.options.csv"
    with full.open("w", encoding="utf-8") as f:
        for result in results:
            f.write(json.dumps(asdict(result)) + "\n")
    with options.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "latency_p95", "cost_per_1k", "quality", "latency_p50", "wall_s", "errors"])
        for r in results:
            writer.writerow([r.name, r.latency_p95, r.cost_per_1k, r.quality, r.latency_p50, r.wall_s, r.errors])
    return full, options


async def run_experiment(
    spec: ExperimentSpec, folder: Path, *, runner: Runner = run_bounded, source: str = "<experiment>"
) -> list[ConfigurationResult]:
    """Run every configuration of ``spec`` in turn (so they do not compete for the same CPU)."""
    path = Path(spec.dataset.path)
    # Relative to the experiment file when it is there, else to the current directory.
    if not path.is_absolute() and (folder / path).is_file():
        path = folder / path
    examples = load_dataset(path, spec.dataset.format, spec.dataset.limit)
    examples += examples[: round(len(examples) * spec.dataset.repeat)]
    judge_config = parse_config(spec.base, source=source) if spec.scorer.get("kind") == "judge" else None
    judge_client = AsyncClient(judge_config) if judge_config is not None else None

    async def judge(model: str, prompt: str) -> str:
        assert judge_client is not None
        return (await judge_client.complete(prompt, model=model, temperature=0)).content

    try:
        scorer = make_scorer(spec.scorer, judge if judge_client else None)
        results = []
        for configuration in spec.configurations:
            config = merged_config(spec.base, configuration.config, f"{source} ({configuration.name})")
            results.append(await run_configuration(configuration, config, examples, scorer, runner=runner))
    finally:
        if judge_client is not None:
            await judge_client.aclose()
    return results
