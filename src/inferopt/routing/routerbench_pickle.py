"""RouterBench's pickles (``routerbench_0shot.pkl``, ``routerbench_5shot.pkl``) as :class:`Outcomes`.

RouterBench (Martian, arXiv 2403.12031) ships its data as a pickled pandas DataFrame with the
columns of its CSVs: ``prompt``, ``eval_name``, one 0/1 column per model, ``<model>|total_cost``
and ``<model>|model_response``. A DataFrame pickle needs pandas to read, and unpickling runs code
the file names: read only pickles you trust (RouterBench's own release). A pickle of plain Python
values (a dict of column lists, or a list of row dicts) is read without pandas, through an
unpickler that refuses every class.
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import COST_SUFFIX, RESPONSE_SUFFIX, Outcomes, prompt_text


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise _NeedsClass(f"{module}.{name}")


class _NeedsClass(Exception):
    pass


def _records(path: Path) -> tuple[list[str], list[Mapping[str, Any]]]:
    raw = path.read_bytes()
    try:
        value = _PlainUnpickler(io.BytesIO(raw)).load()
    except _NeedsClass as needed:
        if not str(needed).startswith(("pandas.", "numpy.")):
            raise OutcomeDataError(f"{path}: the pickle holds a {needed}, not RouterBench rows") from None
        try:
            import pandas as pd  # type: ignore[import-untyped]
        except ImportError:
            raise OutcomeDataError(
                f"{path}: a pandas DataFrame pickle; reading it needs pandas (pip install pandas), "
                "or convert it once to CSV with pandas.read_pickle(path).to_csv(...)"
            ) from None
        frame = pd.read_pickle(path)  # a DataFrame pickle: pandas classes, trusted file (see docstring)
        return [str(c) for c in frame.columns], frame.to_dict("records")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise OutcomeDataError(f"{path}: not a readable pickle ({exc})") from None
    if isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
        columns = [str(c) for c in value]
        length = len(next(iter(value.values()), []))
        return columns, [{c: value[c][i] for c in columns} for i in range(length)]
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return [str(c) for c in value[0]], value
    raise OutcomeDataError(
        f"{path}: the pickle holds a {type(value).__name__}, expected RouterBench rows (a DataFrame)"
    )


def _number(cell: Any, path: Path, row: int, column: str) -> float:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell == "":
        return 0.0  # as in the CSVs: no answer recorded is not a correct answer
    try:
        return float(cell)
    except (TypeError, ValueError):
        raise OutcomeDataError(
            f"{path}: row {row}, column {column!r} holds {str(cell)[:40]!r}, expected a number"
        ) from None


def _prompt(cell: Any) -> str:
    if isinstance(cell, Sequence) and not isinstance(cell, str):
        return prompt_text(repr([str(p) for p in cell]))
    return prompt_text(str(cell))


def read_routerbench_pickle(path: str | Path, *, with_answers: bool = False) -> Outcomes:
    """Rows of a RouterBench pickle, models in column order."""
    path = Path(path)
    columns, records = _records(path)
    models = tuple(c[: -len(COST_SUFFIX)] for c in columns if c.endswith(COST_SUFFIX))
    if "prompt" not in columns or not models:
        raise OutcomeDataError(
            f"{path}: not RouterBench rows (needs a 'prompt' column and '<model>|total_cost' columns)"
        )
    missing = [m for m in models if m not in columns]
    if missing:
        raise OutcomeDataError(f"{path}: no correctness column {missing[0]!r} next to its '|total_cost' column")
    if not records:
        raise OutcomeDataError(f"{path}: no rows")
    return Outcomes(
        tuple(_prompt(r["prompt"]) for r in records),
        models,
        tuple(tuple(_number(r.get(m), path, i, m) for m in models) for i, r in enumerate(records)),
        tuple(
            tuple(_number(r.get(m + COST_SUFFIX), path, i, m + COST_SUFFIX) for m in models)
            for i, r in enumerate(records)
        ),
        tuple(str(r.get("eval_name") or path.stem) for r in records),
        tuple(tuple(_prompt(r.get(m + RESPONSE_SUFFIX) or "") for m in models) for r in records)
        if with_answers
        else (),
    )
