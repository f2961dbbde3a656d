"""Gemini ``generateContent`` request bodies decoded to the neutral :class:`~inferopt.types.ChatRequest`.

The inverse of :func:`inferopt.wire.gemini.encode_request`, for whoever receives Gemini's wire (the
emulator, a gateway route). The model is not in the body but in the path, so it is passed in.
``functionCall`` / ``functionResponse`` parts become OpenAI-shaped tool calls and ``tool``
messages (a call without an id gets ``call_gemini_N``, its result the same id); parts of other
kinds (files, executable code) are kept as ``{"type": "gemini", "gemini_part": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from inferopt.types import ChatRequest, ContentPart, Message
from inferopt.wire.gemini_response import tool_call

# generationConfig fields mapped to ChatRequest fields; the others stay in extra["generationConfig"].
_CONFIG_FIELDS = {"temperature", "topP", "maxOutputTokens", "stopSequences", "seed", "responseMimeType"}
_SCHEMA_FIELDS = ("responseJsonSchema", "responseSchema")
_FREE_FORM = frozenset({"args", "response", "parameters", "parametersJsonSchema", *_SCHEMA_FIELDS})


def _content_part(part: dict[str, Any]) -> ContentPart:
    if "text" in part and not part.get("thought"):
        return {"type": "text", "text": str(part["text"])}
    if "inlineData" in part:
        data = part["inlineData"]
        return {"type": "image_url", "image_url": {"url": f"data:{data.get('mimeType')};base64,{data.get('data')}"}}
    if "fileData" in part:
        return {"type": "image_url", "image_url": {"url": str(part["fileData"].get("fileUri", ""))}}
    return {"type": "gemini", "gemini_part": part}


def _turn(content: dict[str, Any], last_calls: list[str]) -> list[Message]:
    """One Gemini turn as neutral messages (a turn of function responses: one ``tool`` message each).

    ``last_calls`` holds the ids of the latest model turn's calls: a result without an id answers the
    call in its position (Gemini returns results in the order of the calls)."""
    parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
    if content.get("role") == "model":
        calls = [tool_call(p, i) for i, p in enumerate(q for q in parts if "functionCall" in q)]
        last_calls[:] = [call["id"] for call in calls]
        blocks = [_content_part(p) for p in parts if "functionCall" not in p and not p.get("thought")]
        text = "".join(b["text"] for b in blocks) if all(b["type"] == "text" for b in blocks) else None
        return [Message("assistant", text if text is not None else blocks, tool_calls=calls or None)]
    messages: list[Message] = []
    others = []
    answered = 0
    for part in parts:
        if "functionResponse" not in part:
            others.append(_content_part(part))
            continue
        response = part["functionResponse"]
        call_id = response.get("id") or (
            last_calls[answered] if answered < len(last_calls) else f"call_gemini_{answered}"
        )
        answered += 1
        payload = json.dumps(response.get("response") or {})
        messages.append(Message("tool", payload, name=response.get("name"), tool_call_id=str(call_id)))
    if others:
        only_text = all(p["type"] == "text" for p in others)
        messages.append(Message("user", "".join(p["text"] for p in others) if only_text else others))
    return messages


def _json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-subset ``parameters`` (``type: "STRING"``...) as JSON Schema (lower-case types)."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _json_schema(value) for key, value in schema.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    return out


def _tools(tools: list[Any]) -> list[dict[str, Any]] | None:
    out = []
    for tool in tools:
        for declaration in (tool or {}).get("functionDeclarations") or ():
            function: dict[str, Any] = {"name": declaration.get("name", "")}
            if declaration.get("description"):
                function["description"] = declaration["description"]
            schema = declaration.get("parametersJsonSchema") or _json_schema(declaration.get("parameters"))
            if schema:
                function["parameters"] = schema
            out.append({"type": "function", "function": function})
    return out or None


def _tool_choice(config: Any) -> Any:
    calling = (config or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode")
    if mode == "NONE":
        return "none"
    if mode == "ANY":
        names = calling.get("allowedFunctionNames") or []
        return {"type": "function", "function": {"name": names[0]}} if len(names) == 1 else "required"
    return None


def _response_format(config: dict[str, Any]) -> dict[str, Any] | None:
    if config.get("responseMimeType") != "application/json":
        return None
    schema = next((config[f] for f in _SCHEMA_FIELDS if config.get(f) is not None), None)
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camel_case(value: Any) -> Any:
    """``value`` with Gemini's field names in camelCase: its JSON parser takes ``snake_case`` too (the
    SDK sends some fields so), and this codec reads one spelling. Free-form values (function
    arguments and results, schemas) are left as they are."""
    if isinstance(value, list):
        return [camel_case(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        name = _camel(key) if "_" in key else key
        out[name] = item if name in _FREE_FORM else camel_case(item)
    return out


def decode_request(body: dict[str, Any], model: str) -> ChatRequest:
    body = camel_case(body)
    messages: list[Message] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        text = "".join(str(p.get("text", "")) for p in system.get("parts") or [] if isinstance(p, dict))
        messages.append(Message("system", text))
    last_calls: list[str] = []
    for content in body.get("contents") or []:
        if isinstance(content, dict):
            messages.extend(_turn(content, last_calls))
    config = dict(body.get("generationConfig") or {})
    extra = {k: v for k, v in body.items() if k not in ("contents", "systemInstruction", "tools", "toolConfig")}
    extra.pop("system_instruction", None)
    rest = {k: v for k, v in config.items() if k not in _CONFIG_FIELDS and k not in _SCHEMA_FIELDS}
    if rest:
        extra["generationConfig"] = rest
    else:
        extra.pop("generationConfig", None)
    return ChatRequest(
        model=model.removeprefix("models/"),
        messages=messages,
        max_tokens=config.get("maxOutputTokens"),
        temperature=config.get("temperature"),
        top_p=config.get("topP"),
        stop=config.get("stopSequences"),
        seed=config.get("seed"),
        tools=_tools(body.get("tools") or []),
        tool_choice=_tool_choice(body.get("toolConfig")),
        response_format=_response_format(config),
        extra=extra,
    )
