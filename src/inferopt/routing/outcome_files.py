"""Which reader a recorded-outcomes path needs, by its layout and header.

- a folder with ``question.jsonl`` and ``judgements.jsonl``: RouteLLM MT-Bench (``mt_bench.py``);
- a folder of ``mmlu_*.csv`` (or holding ``mmlu/``): RouteLLM MMLU (``data.py``);
- ``gsm8k_responses.csv`` (or its folder), or any CSV with ``prompt``, ``<model>`` and
  ``<model>_response`` columns: RouteLLM GSM8K (``routellm_gsm8k.py``);
- a ``.pkl``: a RouterBench pickle (``routerbench_pickle.py``);
- a ``.jsonl``, or a CSV with ``prompt, model, score, cost``: the generic format (``generic_outcomes.py``);
- any other CSV, or a folder of them: RouterBench CSVs (``data.py``).

It sits above every reader, so none imports another back.
"""

from __future__ import annotations

import csv
from pathlib import Path

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import Outcomes, read_routellm_mmlu, read_routerbench
from inferopt.routing.generic_outcomes import is_generic, read_generic_outcomes
from inferopt.routing.mt_bench import is_mt_bench, read_mt_bench
from inferopt.routing.routellm_gsm8k import is_gsm8k, read_routellm_gsm8k
from inferopt.routing.routerbench_pickle import read_routerbench_pickle


def read_outcomes(path: str | Path, *, with_answers: bool = False) -> Outcomes:
    """Read any known format (see the module docstring).

    ``with_answers`` keeps recorded answer texts (RouterBench, GSM8K, generic: every answer;
    MT-Bench: first turns).
    """
    path = Path(path)
    if not path.exists():
        raise OutcomeDataError(f"{path}: no such file or folder")
    try:
        return _read(path, with_answers)
    except UnicodeDecodeError:
        raise OutcomeDataError(f"{path}: not UTF-8 text; outcome files are CSV, JSONL or RouterBench pickles") from None
    except csv.Error as exc:
        raise OutcomeDataError(f"{path}: not a readable CSV ({exc})") from None


def _read(path: Path, with_answers: bool) -> Outcomes:
    if path.is_dir() and is_mt_bench(path):
        return read_mt_bench(path)
    if is_gsm8k(path):
        return read_routellm_gsm8k(path, with_answers=with_answers)
    if path.suffix == ".pkl":
        return read_routerbench_pickle(path, with_answers=with_answers)
    if path.is_file() and is_generic(path):
        return read_generic_outcomes(path, with_answers=with_answers)
    mmlu = path if path.is_dir() and any(path.glob("mmlu_*.csv")) else path / "mmlu"
    if mmlu.is_dir():
        if with_answers:
            raise OutcomeDataError(
                f"{path}: RouteLLM's MMLU files hold no answer texts; answer checks need RouterBench data"
            )
        return read_routellm_mmlu(mmlu)
    if path.is_file() and path.suffix != ".csv":
        raise OutcomeDataError(
            f"{path}: unknown outcomes format; use a RouterBench CSV or pickle, a RouteLLM folder, "
            "or the generic JSONL/CSV (prompt, model, score, cost; docs/routing.md)"
        )
    return read_routerbench([path], with_answers=with_answers)
