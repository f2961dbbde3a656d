"""Which reader a recorded-outcomes path needs: RouteLLM MMLU or MT-Bench folders, RouterBench CSVs.

It sits above the readers (``data.py`` and ``mt_bench.py``, which builds on it) so neither imports
the other back.
"""

from __future__ import annotations

from pathlib import Path

from inferopt.errors import OutcomeDataError
from inferopt.routing.data import Outcomes, read_routellm_mmlu, read_routerbench
from inferopt.routing.mt_bench import is_mt_bench, read_mt_bench


def read_outcomes(path: str | Path, *, with_answers: bool = False) -> Outcomes:
    """Read any known format: a RouteLLM MMLU or MT-Bench folder, or RouterBench CSV files / a folder of them.

    ``with_answers`` keeps recorded answer texts (RouterBench: every answer; MT-Bench: first turns).
    """
    path = Path(path)
    if not path.exists():
        raise OutcomeDataError(f"{path}: no such file or folder")
    if path.is_dir() and is_mt_bench(path):
        return read_mt_bench(path)
    mmlu = path if path.is_dir() and any(path.glob("mmlu_*.csv")) else path / "mmlu"
    if mmlu.is_dir():
        if with_answers:
            raise OutcomeDataError(
                f"{path}: RouteLLM's MMLU files hold no answer texts; answer checks need RouterBench data"
            )
        return read_routellm_mmlu(mmlu)
    return read_routerbench([path], with_answers=with_answers)
