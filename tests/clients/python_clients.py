"""The popular Python clients, each making one call against BASE_URL (the gateway or the emulator).

Run by tests/clients/test_client_matrix.py with the clients' own interpreter (.clients/venv):
``python python_clients.py CASE BASE_URL``. Prints one JSON line describing what came back; a
failure is a traceback and a non-zero exit, which the test shows.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

MODEL = "gpt-4o-mini"
KEY = "sk-client-matrix"


class Meeting(BaseModel):
    title: str
    attendees: list[str]
    day: int


def langchain_chat(base_url: str) -> dict[str, Any]:
    from langchain_openai import ChatOpenAI

    reply = ChatOpenAI(model=MODEL, base_url=base_url, api_key=KEY, max_retries=0).invoke("Say hello.")
    return {"text": reply.content}


def langchain_structured(base_url: str) -> dict[str, Any]:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL, base_url=base_url, api_key=KEY, max_retries=0)
    meeting = llm.with_structured_output(Meeting).invoke("Alice and Bob meet on day 3 about the budget.")
    assert isinstance(meeting, Meeting), meeting
    return {"parsed": meeting.model_dump()}


def langchain_responses(base_url: str) -> dict[str, Any]:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL, base_url=base_url, api_key=KEY, max_retries=0, use_responses_api=True)
    reply = llm.invoke("Say hello.")
    return {"text": reply.text, "id": reply.response_metadata.get("id")}


def langchain_embeddings(base_url: str) -> dict[str, Any]:
    from langchain_openai import OpenAIEmbeddings

    embedder = OpenAIEmbeddings(model="text-embedding-3-small", base_url=base_url, api_key=KEY, max_retries=0)
    vectors = embedder.embed_documents(["first text", "second text"])
    return {"count": len(vectors), "dimensions": len(vectors[0])}


def llamaindex_llm(base_url: str) -> dict[str, Any]:
    from llama_index.llms.openai import OpenAI

    llm = OpenAI(model=MODEL, api_base=base_url, api_key=KEY, max_retries=0)
    return {"text": llm.complete("Say hello.").text}


def llamaindex_embeddings(base_url: str) -> dict[str, Any]:
    from llama_index.embeddings.openai import OpenAIEmbedding

    embedder = OpenAIEmbedding(model="text-embedding-3-small", api_base=base_url, api_key=KEY, max_retries=0)
    vector = embedder.get_text_embedding("a text to embed")
    return {"dimensions": len(vector)}


def agents_sdk(base_url: str) -> dict[str, Any]:
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)  # its traces would go to api.openai.com
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"Sunny and 21 C in {city}"

    model = OpenAIResponsesModel(MODEL, AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0))
    agent = Agent(name="weather", instructions="Answer with the tool.", tools=[get_weather], model=model)
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    return {"final": str(result.final_output), "tool_calls": calls}


CASES: dict[str, Callable[[str], dict[str, Any]]] = {
    f.__name__: f
    for f in (
        langchain_chat,
        langchain_structured,
        langchain_responses,
        langchain_embeddings,
        llamaindex_llm,
        llamaindex_embeddings,
        agents_sdk,
    )
}

if __name__ == "__main__":
    print(json.dumps(CASES[sys.argv[1]](sys.argv[2])))
