"""The cost-quality plot of an evaluation: each router's curve, single models, random, oracle (PNG).

Needs matplotlib (``pip install 'inferopt[plots]'``); everything else in routing works without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inferopt.errors import InferoptError
from inferopt.routing.evaluate import RouterReport


def plot_cost_quality(reports: Sequence[RouterReport], path: str | Path, title: str = "") -> Path:
    """Write a PNG: cost per query (log scale) against accuracy, one marker per single model."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise InferoptError("plots need matplotlib: pip install 'inferopt[plots]'") from None
    fig, ax = plt.subplots(figsize=(9, 6))
    for report in reports:
        xs = [p.cost_per_query for p in report.points]
        ys = [p.accuracy for p in report.points]
        if report.name.startswith("cascade"):
            ax.scatter(xs, ys, marker="D", s=50, label=report.name[:60], zorder=3)
        elif len(report.points) == 1 and report.name != "oracle":
            ax.scatter(xs, ys, marker="o", s=30, color="grey")
            ax.annotate(
                report.name.rsplit("/", 1)[-1], (xs[0], ys[0]), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        elif report.name == "oracle":
            ax.scatter(xs, ys, marker="*", s=150, color="gold", edgecolor="black", label="oracle", zorder=3)
        else:
            order = sorted(range(len(xs)), key=xs.__getitem__)
            style = {"random": "--", "oracle curve": ":"}.get(report.name, "-")
            ax.plot([xs[i] for i in order], [ys[i] for i in order], style, marker=".", label=report.name)
    singles = [r for r in reports if len(r.points) == 1 and r.name != "oracle" and not r.name.startswith("cascade")]
    if singles:  # the strongest model's accuracy: where a curve crosses it is the table's "reaches it at"
        best = max(singles, key=lambda r: r.points[0].accuracy)
        ax.axhline(best.points[0].accuracy, color="red", linestyle=":", linewidth=1, label=f"{best.name} accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("cost per query (USD, log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    out = Path(path)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
