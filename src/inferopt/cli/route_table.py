"""The table of ``inferopt route eval``: the same figures as its ``--json`` summary."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _share(value: float | None) -> str:
    return "never" if value is None else f"{value:.1%}"


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per router and reference: its operating point within the budget, AIQ/APGR, the cost at
    which it reaches the strongest model's accuracy, and its RouterArena score and rank."""
    strongest = summary["strongest"]
    budget = summary["budget"]["share_of_strongest_cost"]
    two = len(summary["models"]) == 2
    table = Table(title=f"operating point: the best within {budget:.0%} of {strongest}'s cost per query")
    columns = ["router", "accuracy", "cost/query", "vs strongest", "calls (top 3)", "AIQ", "APGR (cost)"]
    columns += ["APGR", "APGR (RouteLLM)", "CPT(50%)"] if two else []
    columns += [f"reaches {strongest.rsplit('/', 1)[-1]} at", "cost/1k", "arena", "rank"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("router", "calls (top 3)") else "right")
    strong_cost = summary["budget"]["cost_per_query"] / budget if budget else 0.0
    for entry in summary["entries"]:
        point = entry["operating_point"]
        shares = sorted(point["call_share"].items(), key=lambda kv: -kv[1])[:3]
        metrics = entry["metrics"]
        cells = [
            entry["name"],
            f"{point['accuracy']:.3f}",
            f"${point['cost_per_query']:.6f}",
            f"{point['cost_per_query'] / strong_cost:.1%}" if strong_cost else "-",
            ", ".join(f"{m.rsplit('/', 1)[-1]} {s:.0%}" for m, s in shares),
        ]
        keys = ("aiq", "apgr_by_cost", "apgr", "apgr_routellm", "cpt50") if two else ("aiq", "apgr_by_cost")
        cells += [f"{metrics[m]:.3f}" if m in metrics else "-" for m in keys]
        arena = entry["routerarena"]
        cells += [
            _share(entry["cost_to_reach"][strongest]["share_of_its_cost"]),
            f"${arena['cost_per_1k_queries']:.3f}",
            f"{arena['score']:.3f}",
            str(arena["rank"]),
        ]
        table.add_row(*cells)
    return table
