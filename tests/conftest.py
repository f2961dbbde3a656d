"""Shared test set-up: exact token counts when ../shared/tiktoken exists, the real-data path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared").resolve()

if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a developer's inferopt.yaml or INFEROPT_CONFIG."""
    monkeypatch.delenv("INFEROPT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def _shared_data(*parts: str) -> Path:
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(
            f"real data not present at {path} (a fresh clone has no ../shared); this evaluation "
            "runs where ../shared/data exists"
        )
    return path


@pytest.fixture
def shared_data() -> object:
    """``shared_data("routerbench", "x.csv")``: a path under ../shared/data, or a clear skip."""
    return _shared_data
