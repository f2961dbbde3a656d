"""What an image in a prompt costs in tokens, by each provider's published rule.

The size comes from the image itself when it is inline (a ``data:`` URL or base64 source: PNG, JPEG,
GIF and WebP headers are read, nothing is decoded); a remote URL's size is unknown, and is counted as
a 1024 x 1024 image (the size most photos are scaled to anyway).

- **OpenAI** (platform.openai.com/docs/guides/images-vision, "Calculating costs", GPT-4o family):
  ``detail: low`` is 85 tokens; otherwise the image is scaled to fit 2048 x 2048, then its short side
  to 768, and costs 85 + 170 per 512-pixel tile. gpt-4o-mini bills the same image at 2,833 + 5,667 per
  tile (its token price is lower, the image price the same).
- **Anthropic** (docs.claude.com, "Vision"): width x height / 750 after scaling to fit a 1,568-pixel
  long edge, and at most about 1,600 tokens (a larger image is scaled down first).
- **Gemini** (ai.google.dev, "Image understanding"): 258 tokens when both sides are at most 384 pixels,
  else 258 per 768 x 768 tile.

Used by the prompt-token estimates (budgets, limits) and by the emulator, which bills images this way.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

UNKNOWN_SIZE = (1024, 1024)
ANTHROPIC_MAX_IMAGE_TOKENS = 1600  # an image over about 1,600 tokens is scaled down first
_HEAD_BYTES = 64 * 1024  # enough of the file to find the size in any of the four formats


def _head(url: str) -> bytes | None:
    if not url.startswith("data:") or "," not in url:
        return None
    meta, _, data = url.partition(",")
    if not meta.endswith(";base64"):
        return None
    chunk = data[: (_HEAD_BYTES // 3) * 4]
    try:
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None


def size_of(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, GIF or WebP header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame marker
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def part_image(part: dict[str, Any]) -> tuple[tuple[int, int], str] | None:
    """(size, detail) of an image content part (OpenAI ``image_url``, Anthropic ``image``), else None."""
    kind = part.get("type")
    if kind == "image_url":
        spec = part.get("image_url") or {}
        url = spec.get("url", "") if isinstance(spec, dict) else str(spec)
        detail = spec.get("detail", "auto") if isinstance(spec, dict) else "auto"
    elif kind == "input_image":
        url, detail = str(part.get("image_url") or ""), str(part.get("detail") or "auto")
    elif kind == "image":
        source = part.get("source") or {}
        data = source.get("data", "") if source.get("type") == "base64" else ""
        url, detail = (f"data:{source.get('media_type')};base64,{data}" if data else ""), "auto"
    else:
        return None
    head = _head(url)
    size = (size_of(head) if head else None) or UNKNOWN_SIZE
    return size, str(detail)


def image_tokens(size: tuple[int, int], detail: str, model: str) -> int:
    """Prompt tokens of one image of ``size`` for ``model`` (its provider's rule)."""
    name = model.rsplit("/", 1)[-1]
    width, height = max(1, size[0]), max(1, size[1])
    if name.startswith("claude"):
        scale = min(1.0, 1568 / max(width, height))
        return max(1, min(ANTHROPIC_MAX_IMAGE_TOKENS, math.ceil(width * scale * height * scale / 750)))
    if name.startswith("gemini"):
        if width <= 384 and height <= 384:
            return 258
        return 258 * math.ceil(width / 768) * math.ceil(height / 768)
    base, per_tile = (2833, 5667) if name.startswith("gpt-4o-mini") else (85, 170)
    if detail == "low":
        return base
    fit = min(1.0, 2048 / max(width, height))
    short = min(1.0, 768 / (min(width, height) * fit))
    tiles = math.ceil(width * fit * short / 512) * math.ceil(height * fit * short / 512)
    return base + per_tile * tiles


def content_image_tokens(content: Any, model: str) -> int:
    """Tokens of every image in a message's content parts."""
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if isinstance(part, dict) and (found := part_image(part)) is not None:
            total += image_tokens(*found, model)
    return total
