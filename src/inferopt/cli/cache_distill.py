"""``inferopt cache distill CORPUS --out DIR``: a faster embedder for the semantic cache, trained here."""

from __future__ import annotations

import json
from pathlib import Path

import click

from inferopt.cli.common import clean_errors
from inferopt.errors import InvalidArgumentError


def read_corpus(path: Path, field: str) -> list[str]:
    """Texts of a corpus file: one per line, or for ``.jsonl`` the string ``field`` of each object."""
    if path.suffix != ".jsonl":
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line).get(field)
        except (json.JSONDecodeError, AttributeError) as exc:
            raise InvalidArgumentError(
                f"{path}:{number}: not a JSON object ({exc}); write one object per line"
            ) from exc
        if not isinstance(value, str):
            raise InvalidArgumentError(
                f"{path}:{number}: no string field {field!r}; name the text's field with --field"
            )
        texts.append(value)
    return texts


@click.command()
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write."
)
@click.option("--field", default="text", show_default=True, help="The text's field in a .jsonl corpus.")
@click.option("--layers", default=3, show_default=True, type=int, help="Encoder layers the student keeps (of 6).")
@click.option("--epochs", default=4, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@clean_errors
def distill(corpus: Path, out_dir: Path, field: str, layers: int, epochs: int, seed: int) -> None:
    """Distil all-MiniLM-L6-v2 into a student with fewer layers, trained on CORPUS (texts like your
    traffic's questions, one per line, or a .jsonl file), so lookups embed faster.

    Use it with `cache.semantic.embedder: "student:DIR"` and calibrate the cache with the same
    embedder (`inferopt cache calibrate PAIRS --embedder student:DIR`): a calibration made with
    another embedder is refused. Needs torch (pip install torch==2.13.0 'inferopt[embeddings]')."""
    from inferopt.cache.semantic.distill import DistillOptions
    from inferopt.cache.semantic.distill import distill as run

    report = run(
        read_corpus(corpus, field),
        out_dir,
        options=DistillOptions(layers=layers, epochs=epochs, seed=seed),
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(
        f"student of {len(report.layers_kept)} layers (teacher layers {report.layers_kept}) written to {out_dir}: "
        f"{report.texts:,} texts, held-out cosine with the teacher {report.cosine_before:.3f} untrained, "
        f"{report.cosine_after:.3f} trained ({report.seconds:.0f} s)"
    )
    click.echo(f'use it as cache.semantic.embedder: "student:{out_dir}"')
