"""``inferopt batch run --embed``: a JSONL file embedded in real time, as a user runs it (a subprocess),
results in input order, bad lines reported in place, and a second run served by the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "inferopt", "batch", "run", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_a_file_is_embedded_in_order_and_a_second_run_comes_from_the_cache(tmp_path: Path) -> None:
    lines = [{"id": f"doc-{i}", "text": f"document {i} of the corpus"} for i in range(7)]
    rows = [json.dumps(r) for r in lines] + ['{"id": "empty"}', json.dumps({"id": "tok", "input": [15339, 1917]})]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    args = ["in.jsonl", "--embed", "-m", "text-embedding-3-small", "--dimensions", "16", "--embed-batch-size", "3"]
    first = run(*args, "-o", "out1.jsonl", "--cache", "sqlite:///cache.db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "embedded    8 of 9 lines (1 failed)" in first.stderr and "cache hits  0" in first.stderr
    out = [json.loads(line) for line in (tmp_path / "out1.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == [f"doc-{i}" for i in range(7)] + ["empty", "tok"]
    assert all(len(r["embedding"]) == 16 for r in out if r["id"] != "empty")
    assert "no 'text'" in out[7]["error"]
    second = run(*args, "-o", "out2.jsonl", "--cache", "sqlite:///cache.db", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "cache hits  8" in second.stderr and "cost        $0.00000000" in second.stderr
    assert (tmp_path / "out2.jsonl").read_text() == (tmp_path / "out1.jsonl").read_text()


def test_embed_refuses_the_batch_api_mode(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('"x"\n')
    result = run("in.jsonl", "-o", "out.jsonl", "--embed", "--mode", "batch", cwd=tmp_path)
    assert result.returncode != 0 and "--embed runs in real time" in result.stderr
