"""The emulator's embeddings: vectors a pure function of seed, model and input; ``dimensions`` as
upstream (shortened and renormalised; refused by ada-002 and beyond the model's length); token
usage; auth; each request counted."""

from __future__ import annotations

import math

import httpx
import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer
from inferopt.emulator.embeddings import vector


def embed(server: EmulatorServer, **body: object) -> list[list[float]]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:
        answer = client.embeddings.create(**body)  # type: ignore[call-overload]
    return [d.embedding for d in answer.data]


def test_vectors_depend_on_seed_model_and_input_only() -> None:
    with EmulatorServer(EmulatorConfig(seed=1)) as one, EmulatorServer(EmulatorConfig(seed=2)) as two:
        a = embed(one, model="text-embedding-3-small", input=["same", "other"])
        again = embed(one, model="text-embedding-3-small", input=["other", "same"])
        assert a == [again[1], again[0]] and a[0] != a[1]
        assert embed(two, model="text-embedding-3-small", input="same")[0] != a[0]
        assert embed(one, model="text-embedding-3-large", input="same")[0][:4] != a[0][:4]
        assert one.stats.by_route["/v1/embeddings"] == 3 and one.stats.prompt_tokens > 0


def test_dimensions_shorten_and_renormalise_the_full_vector() -> None:
    with EmulatorServer(EmulatorConfig(seed=1)) as server:
        short = embed(server, model="text-embedding-3-large", input="text", dimensions=64, encoding_format="float")[0]
    full = vector(1, "text-embedding-3-large", "text", 3072)
    assert len(full) == 3072 and math.isclose(sum(x * x for x in short), 1.0, rel_tol=1e-5)
    ratio = short[0] / full[0]
    assert all(math.isclose(s, f * ratio, rel_tol=1e-4, abs_tol=1e-6) for s, f in zip(short, full[:64], strict=False))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "x", "dimensions": 5000}, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "word " * 9000}, "input"),
    ],
)
def test_what_the_api_refuses_is_refused_naming_the_field(body: dict[str, object], param: str) -> None:
    with EmulatorServer(EmulatorConfig(seed=1)) as server, pytest.raises(openai.BadRequestError) as refused:
        embed(server, **body)
    assert refused.value.body["param"] == param  # type: ignore[index]


def test_a_key_is_required() -> None:
    with EmulatorServer(EmulatorConfig(seed=1)) as server:
        body = {"model": "text-embedding-3-small", "input": "x"}
        refused = httpx.post(server.openai_base_url + "/embeddings", json=body, timeout=10)
    assert refused.status_code == 401 and refused.headers["x-inferopt-emulated"] == "true"


def test_models_lists_the_embedding_models_beside_the_chat_models(server: EmulatorServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-models", max_retries=0) as client:
        names = {m.id for m in client.models.list()}
    assert {"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002", "gpt-4o"} <= names
