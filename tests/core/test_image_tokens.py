"""Image tokens by each provider's published rule, sizes read from inline image headers."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import openai
import pytest

from inferopt.emulator import EmulatorConfig, EmulatorServer, ProfileOverrides
from inferopt.image_tokens import content_image_tokens, image_tokens, part_image, size_of
from inferopt.tokens import count_message_tokens
from inferopt.types import Message


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 4)) + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def data_url(image: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(image).decode()


def test_sizes_are_read_from_png_jpeg_gif_and_webp_headers() -> None:
    assert size_of(png(640, 480)) == (640, 480)
    assert size_of(jpeg(1920, 1080)) == (1920, 1080)
    assert size_of(b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 8) == (32, 16)
    vp8x = b"RIFF" + b"\x00" * 4 + b"WEBPVP8X" + b"\x00" * 8 + (799).to_bytes(3, "little") + (599).to_bytes(3, "little")
    assert size_of(vp8x) == (800, 600)
    assert size_of(b"not an image") is None


@pytest.mark.parametrize(
    ("size", "detail", "model", "tokens"),
    [
        ((1024, 1024), "high", "gpt-4o", 765),  # OpenAI's worked examples
        ((2048, 4096), "high", "gpt-4o", 1105),
        ((4096, 8192), "low", "gpt-4o", 85),
        ((1024, 1024), "high", "gpt-4o-mini", 2833 + 5667 * 4),
        ((1000, 1000), "auto", "claude-sonnet-4-5", 1334),  # Anthropic's table
        ((4000, 3000), "auto", "claude-sonnet-4-5", 1600),
        ((300, 300), "auto", "gemini-2.5-flash", 258),  # Gemini: one tile up to 384 px
        ((1000, 700), "auto", "gemini-2.5-flash", 258 * 2),
    ],
)
def test_each_providers_rule(size: tuple[int, int], detail: str, model: str, tokens: int) -> None:
    assert image_tokens(size, detail, model) == tokens


def test_parts_of_every_wire_and_a_remote_url() -> None:
    openai_part = {"type": "image_url", "image_url": {"url": data_url(png(512, 512)), "detail": "high"}}
    assert part_image(openai_part) == ((512, 512), "high")
    source = {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(jpeg(800, 600)).decode()}
    assert part_image({"type": "image", "source": source}) == ((800, 600), "auto")
    remote = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert part_image(remote) == ((1024, 1024), "auto")  # unknown: counted as 1024 x 1024
    assert part_image({"type": "text", "text": "hi"}) is None


def test_prompt_estimates_count_the_images() -> None:
    parts: Any = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": data_url(png(1024, 1024))}},
    ]
    with_image = count_message_tokens([Message("user", parts)], "gpt-4o")
    without = count_message_tokens([Message("user", "What is this?")], "gpt-4o")
    assert with_image - without == 765 == content_image_tokens(parts, "gpt-4o")


def test_the_emulator_bills_an_image_as_the_provider_would() -> None:
    image = {"type": "image_url", "image_url": {"url": data_url(png(2048, 4096)), "detail": "high"}}
    ask: Any = [{"role": "user", "content": [{"type": "text", "text": "Describe it."}, image]}]
    plain: Any = [{"role": "user", "content": [{"type": "text", "text": "Describe it."}]}]
    config = EmulatorConfig(seed=1, overrides=ProfileOverrides(fixed_latency_s=0.0))
    with EmulatorServer(config) as server, openai.OpenAI(base_url=server.openai_base_url, api_key="k") as client:
        seen = client.chat.completions.create(model="gpt-4o", messages=ask, max_tokens=5)
        blind = client.chat.completions.create(model="gpt-4o", messages=plain, max_tokens=5)
    assert seen.usage is not None and blind.usage is not None
    assert seen.usage.prompt_tokens - blind.usage.prompt_tokens == 1105
