"""``inferopt batch run --embed``: a JSONL file embedded, as a user runs it (a subprocess): in real time,
results in input order, bad lines reported in place, a second run served by the cache; and through
the Batch API's ``/v1/embeddings`` endpoint of an emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openai

from inferopt.emulator import EmulatorConfig, EmulatorServer


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "inferopt", "batch", "run", *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, env=environment)


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


def test_embed_refuses_the_auto_mode(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('"x"\n')
    result = run("in.jsonl", "-o", "out.jsonl", "--embed", "--mode", "auto", cwd=tmp_path)
    assert result.returncode != 0 and "--embed runs on the local engine" in result.stderr


def test_embed_through_the_batch_api_of_an_emulator(tmp_path: Path) -> None:
    config = EmulatorConfig(seed=4, batch_delay_s=0.2)
    with EmulatorServer(config) as emulator:
        (tmp_path / "inferopt.yaml").write_text(
            "providers:\n  emu:\n    kind: openai\n"
            f"    base_url: {emulator.openai_base_url}\n    api_key_env: EMBED_TEST_KEY\n"
        )
        rows = [json.dumps({"id": f"r{i}", "text": f"batched text {i}"}) for i in range(5)]
        (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
        args = ["in.jsonl", "-o", "out.jsonl", "--embed", "--mode", "batch", "--poll", "0.1", "--embed-batch-size", "2"]
        result = run(*args, "-m", "text-embedding-3-small", cwd=tmp_path, env={"EMBED_TEST_KEY": "sk-test"})
        assert emulator.stats.by_route.get("/v1/embeddings", 0) == 0  # nothing went to the live route
    assert result.returncode == 0, result.stderr
    assert "embedded    5 of 5 lines (0 failed)" in result.stderr and "batch       batch_" in result.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == [f"r{i}" for i in range(5)] and all(len(r["embedding"]) == 1536 for r in out)
    with (
        EmulatorServer(EmulatorConfig(seed=4)) as live,
        openai.OpenAI(base_url=live.openai_base_url, api_key="sk-test", max_retries=0) as client,
    ):
        same = client.embeddings.create(model="text-embedding-3-small", input="batched text 0")
    assert same.data[0].embedding == out[0]["embedding"]  # a batch line is answered as live
