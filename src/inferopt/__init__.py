"""inferopt: make LLM applications fast, cheap and measurable."""

from inferopt.client import AsyncClient, Client
from inferopt.errors import InferoptError
from inferopt.types import (
    ChatRequest,
    ChatResponse,
    Message,
    Model,
    StreamDone,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "ChatRequest",
    "ChatResponse",
    "Client",
    "InferoptError",
    "Message",
    "Model",
    "StreamDone",
    "StreamEvent",
    "TextDelta",
    "ThinkingDelta",
    "ThinkingPart",
    "ToolCallDelta",
    "Usage",
    "__version__",
]
