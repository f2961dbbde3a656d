"""The semantic answer cache (opt-in; needs numpy, and ``inferopt[embeddings]`` for the local model).

See :mod:`inferopt.cache.semantic.cache` for how a lookup works and
:mod:`inferopt.cache.semantic.guards` for the vetoes against known false hits.
"""

from inferopt.cache.semantic.cache import SemanticCache, SemanticMatch, semantic_from_options
from inferopt.cache.semantic.calibrate import Calibration, Reranking, calibrate_pairs
from inferopt.cache.semantic.cross_encoder import CrossEncoder, FineTuning, fine_tune
from inferopt.cache.semantic.embedder import Embedder, HashingEmbedder, MiniLMEmbedder, embedder_from_name
from inferopt.cache.semantic.guards import guard_reason
from inferopt.cache.semantic.index import VectorIndex

__all__ = [
    "Calibration",
    "CrossEncoder",
    "Embedder",
    "FineTuning",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "Reranking",
    "SemanticCache",
    "SemanticMatch",
    "VectorIndex",
    "calibrate_pairs",
    "embedder_from_name",
    "fine_tune",
    "guard_reason",
    "semantic_from_options",
]
