"""Pictures of the trade-off: the cost-quality (and latency-quality) front as a PNG.

Needs matplotlib (``pip install 'inferopt[plots]'``). Dominated options are drawn faded, the front
is joined by a line, and the chosen option is ringed, so one glance shows what was given up for what.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferopt.errors import ConfigError
from inferopt.tradeoff.pareto import COST, LATENCY, QUALITY, Objective, Option

PANELS: tuple[tuple[Objective, Objective], ...] = ((COST, QUALITY), (LATENCY, QUALITY))
_LABELS = {COST.name: "cost (USD per 1k requests)", LATENCY.name: "latency p95 (s)", QUALITY.name: "quality"}


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend, or a clear error saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'inferopt[plots]'") from None
    return plt


def _panel(
    axis: Any, options: Sequence[Option], front: Sequence[Option], chosen: Option | None, x: str, y: str
) -> None:
    dominated = [o for o in options if o not in front]
    axis.scatter(
        [o.values[x] for o in dominated], [o.values[y] for o in dominated], color="grey", alpha=0.3, label="dominated"
    )
    ordered = sorted(front, key=lambda o: (o.values[x], o.values[y]))
    axis.plot([o.values[x] for o in ordered], [o.values[y] for o in ordered], "o-", color="tab:blue", label="front")
    if chosen is not None:
        axis.scatter(
            [chosen.values[x]],
            [chosen.values[y]],
            s=220,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=2,
            label=f"chosen: {chosen.name}",
        )
    if len(options) <= 30:  # labels stay readable only for small tables
        for option in options:
            faded = option not in front
            axis.annotate(
                option.name,
                (option.values[x], option.values[y]),
                fontsize=7,
                alpha=0.4 if faded else 1.0,
                xytext=(4, 4),
                textcoords="offset points",
            )
    axis.set_xlabel(_LABELS.get(x, x))
    axis.set_ylabel(_LABELS.get(y, y))
    axis.grid(alpha=0.3)


def front_png(
    options: Sequence[Option],
    front: Sequence[Option],
    chosen: Option | None = None,
    panels: Sequence[tuple[Objective, Objective]] = PANELS,
    title: str = "Trade-off: Pareto front",
) -> bytes:
    """The front as PNG bytes: one panel per (x, y) pair whose columns every option has."""
    usable = [(x, y) for x, y in panels if all(x.name in o.values and y.name in o.values for o in options)]
    if not usable:
        raise ConfigError("nothing to plot: the options lack the plotted columns (cost_per_1k, latency_p95, quality)")
    plt = pyplot()
    figure, axes = plt.subplots(1, len(usable), figsize=(6.5 * len(usable), 5), squeeze=False)
    for axis, (x, y) in zip(axes[0], usable, strict=True):
        _panel(axis, options, front, chosen, x.name, y.name)
    axes[0][0].legend(fontsize=8, loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def save_front_png(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Write :func:`front_png` to ``path``."""
    out = Path(path)
    out.write_bytes(front_png(*args, **kwargs))
    return out
