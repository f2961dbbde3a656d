"""``inferopt cache stats|clear|calibrate``: look into, empty and tune the answer cache (distill: elsewhere)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from inferopt.cache.stats import NamespaceStats
from inferopt.cache.url import DEFAULT_URL, backend_from_url
from inferopt.cli.common import clean_errors

cache_url_option = click.option(
    "--cache",
    "url",
    default=DEFAULT_URL,
    show_default=True,
    help="Cache URL: memory://, sqlite:///path/to/cache.db or redis://host:port/db.",
)


@click.group()
def cache() -> None:
    """Answer cache: statistics, clearing, semantic threshold calibration."""


async def _stats(url: str) -> list[NamespaceStats]:
    backend = backend_from_url(url)
    try:
        counters = await backend.read_stats()
        entries = await backend.entry_counts()
    finally:
        await backend.aclose()
    names = sorted(set(counters) | set(entries))
    return [NamespaceStats.from_counters(ns, counters.get(ns, {}), entries.get(ns, 0)) for ns in names]


def _bound_table(calibration: Path, index: Path | None, max_rate: float, confidence: float) -> Table:
    """The false-hit bound's figures from a calibration and the feedback recorded in an index file."""
    import numpy as np

    from inferopt.cache.semantic.bound import FalseHitBound
    from inferopt.cache.semantic.calibrate import Calibration
    from inferopt.cache.semantic.store import feedback_in
    from inferopt.errors import ConfigError

    fitted = Calibration.load(calibration)
    if fitted.bound_scores is None or fitted.bound_labels is None:
        raise ConfigError(f"{calibration} has no scored pairs for the bound; calibrate again without --cross-encoder")
    bound = FalseHitBound(np.asarray(fitted.bound_scores), np.asarray(fitted.bound_labels), max_rate, confidence)
    if index is not None:
        for verdict in feedback_in(index):
            bound.record(verdict.score, verdict.correct)
    table = Table(title=f"Semantic false-hit bound {max_rate:g} at {confidence:.0%} confidence ({calibration.name})")
    for column in ("rule", "threshold", "pairs", "accepted", "wrong", "false-hit rate", "upper bound", "recall"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    rules = [("labelled pairs", bound.calibrated)]
    if bound.feedback_scores:
        checked, wrong = len(bound.feedback_scores), bound.reported_wrong
        rules.append((f"+ feedback ({checked} checked, {wrong} wrong): in force", bound.choice))
    for name, choice in rules:
        table.add_row(
            name,
            f"{choice.threshold:.4f}",
            str(choice.pairs),
            str(choice.accepted),
            str(choice.wrong),
            f"{choice.estimate:.2%}",
            f"{choice.upper:.2%}",
            f"{choice.recall:.1%}",
        )
    return table


@cache.command()
@cache_url_option
@click.option(
    "--semantic-calibration",
    "calibration",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also report the semantic cache's false-hit bound from this calibration file.",
)
@click.option(
    "--semantic-index",
    "index",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The semantic index file (cache.semantic.index): its feedback on served hits counts in the bound.",
)
@click.option("--max-false-hit-rate", default=0.05, show_default=True, type=float, help="The bound (as configured).")
@click.option("--confidence", default=0.95, show_default=True, type=float, help="The bound's confidence.")
@clean_errors
def stats(url: str, calibration: Path | None, index: Path | None, max_false_hit_rate: float, confidence: float) -> None:
    """Hits, misses, hit rate, tokens and dollars saved, per namespace; with --semantic-calibration,
    the semantic cache's estimated false-hit rate (wrong hits / served hits), its upper confidence
    bound and recall at the threshold the bound chooses."""
    if calibration is not None:
        width = max(Console().width, 120)
        Console(width=width).print(_bound_table(calibration, index, max_false_hit_rate, confidence))
    rows = asyncio.run(_stats(url))
    table = Table(title=f"Answer cache {url}")
    columns = ("namespace", "entries", "hits", "semantic", "reported wrong", "misses", "hit rate", "tokens saved")
    for column in (*columns, "USD saved"):
        table.add_column(column, justify="left" if column == "namespace" else "right")
    for row in rows:
        table.add_row(
            row.namespace,
            str(row.entries or 0),
            str(row.hits),
            str(row.semantic_hits),
            f"{row.semantic_wrong} of {row.semantic_checked} checked",
            str(row.misses),
            f"{row.hit_rate:.1%}",
            f"{row.saved_input_tokens + row.saved_output_tokens:,}",
            f"{row.saved_usd:.4f}",
        )
    if not rows:
        click.echo(f"no cache entries or statistics at {url}")
        return
    Console(width=max(Console().width, 120)).print(table)  # never squeeze the numbers


async def _clear(url: str, namespace: str | None) -> int:
    backend = backend_from_url(url)
    try:
        return await backend.clear(namespace)
    finally:
        await backend.aclose()


@cache.command()
@cache_url_option
@click.option("--namespace", default=None, help="Only this namespace (tenant); default: everything.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@clean_errors
def clear(url: str, namespace: str | None, yes: bool) -> None:
    """Remove cached answers (and their statistics)."""
    what = f"namespace {namespace!r}" if namespace else "every namespace"
    if not yes:
        click.confirm(f"Remove the cached answers of {what} at {url}?", abort=True)
    removed = asyncio.run(_clear(url, namespace))
    click.echo(f"removed {removed} entries ({what}) from {url}")


@cache.command()
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target-precision", default=0.90, show_default=True, type=float)
@click.option(
    "--embedder",
    default="minilm",
    show_default=True,
    help="minilm (local all-MiniLM-L6-v2: int8 on onnxruntime when installed), minilm-float, minilm-torch, "
    "student:DIR (from `inferopt cache distill`) or hashing.",
)
@click.option("--folds", default=5, show_default=True, type=int, help="Cross-fitting folds; each is held out once.")
@click.option(
    "--seed", "seeds", default=[0], multiple=True, show_default=True, type=int, help="Split seed; repeatable."
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the fitted calibration."
)
@click.option(
    "--cross-encoder",
    "cross_encoder",
    is_flag=True,
    help="Also fine-tune a cross-encoder (needs torch; minutes per fold on a CPU), saved next to --output.",
)
@click.option("--epochs", default=3, show_default=True, type=int, help="Cross-encoder fine-tuning epochs.")
@click.option(
    "--base-model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A local transformers model directory to fine-tune from (default: all-MiniLM-L6-v2).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the folds' cross-encoders here; a rerun on the same pairs reuses them.",
)
@clean_errors
def calibrate(
    pairs: Path,
    target_precision: float,
    embedder: str,
    folds: int,
    seeds: tuple[int, ...],
    output: Path | None,
    cross_encoder: bool,
    epochs: int,
    base_model: Path | None,
    work_dir: Path | None,
) -> None:
    """Measure precision/recall on a labelled pair file (question1,question2,is_duplicate) and
    recommend a threshold for TARGET precision.

    Cross-fitting: the verifier is fitted on all folds but one, its threshold chosen by inner
    validation on those, and the figures are measured on the held-out fold, for each fold in turn.
    --output then fits the verifier on all the pairs (threshold by inner validation over all) and
    writes it, with its threshold, as a JSON file for `cache.semantic.calibration`.

    --cross-encoder adds the re-ranker: in each training part a cross-encoder (from
    all-MiniLM-L6-v2) and the trees are fitted on 80% of it, and their stack and its threshold on
    the other 20%; the saved one (fitted the same way on all the pairs) goes to the directory
    OUTPUT's name + ".cross-encoder", which the calibration file refers to."""
    from inferopt.cache.semantic.calibrate import Reranking, calibrate_file
    from inferopt.cache.semantic.cross_encoder import FineTuning

    reranking = None
    if cross_encoder:
        if output is None:
            raise click.UsageError("--cross-encoder needs --output: the cross-encoder is saved next to it")
        model_dir = output.with_name(output.stem + ".cross-encoder")
        fine_tuning = FineTuning(epochs=epochs, base=None if base_model is None else str(base_model))
        reranking = Reranking(model_dir, fine_tuning, work_dir)
    report = calibrate_file(
        pairs,
        target_precision=target_precision,
        embedder=embedder,
        folds=folds,
        seeds=list(seeds),
        reranking=reranking,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(report.summary())
    if output is not None:
        report.calibration.save(output)
        click.echo(f"calibration written to {output} (use it as cache.semantic.calibration)")
