"""A prompt that asks for one of its listed labels gets one of them from the emulator, over HTTP."""

from __future__ import annotations

from collections import Counter

import openai
import pytest

from inferopt.emulator import EmulatorServer
from inferopt.emulator.choices import offered_labels

SENTIMENT = "Classify the sentiment of this review as positive, negative or neutral: {}"


@pytest.mark.parametrize(
    ("prompt", "labels"),
    [
        (SENTIMENT.format("Great blender."), ("positive", "negative", "neutral")),
        ("Label this message spam/ham: WIN A PRIZE", ("spam", "ham")),
        ("Answer with yes or no: is water wet?", ("yes", "no")),
        ('Choose one of "cat", "dog" or "bird".', ("cat", "dog", "bird")),
        (
            "Select the category: billing, technical support, or sales. Ticket: x",
            ("billing", "technical support", "sales"),
        ),
        # no label asked for, or no list offered: filler text as before
        ("Explain the difference between TCP and UDP.", ()),
        ("Write a story with dragons and knights.", ()),
        ("Is Python or Go better for a CLI?", ()),
        ("Classify this: and/or logic", ()),
    ],
)
def test_offered_labels_are_read_from_plain_forms(prompt: str, labels: tuple[str, ...]) -> None:
    assert offered_labels(prompt) == labels


def test_a_long_context_is_read_at_its_edges_only() -> None:
    context = "word " * 50_000
    assert offered_labels(SENTIMENT.format(context)) == ("positive", "negative", "neutral")
    assert offered_labels(context + " Answer with yes or no.") == ("yes", "no")
    assert offered_labels(context + " as positive or negative " + context) == ()


def test_a_classification_job_gets_its_labels_repeatably(server: EmulatorServer) -> None:
    reviews = [f"Review number {i}: the kettle {'works' if i % 2 else 'leaks'}." for i in range(60)]
    with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0) as client:

        def ask(review: str) -> str:
            completion = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": SENTIMENT.format(review)}], max_tokens=5
            )
            assert completion.choices[0].finish_reason == "stop"
            return completion.choices[0].message.content or ""

        first = [ask(review) for review in reviews]
        again = [ask(review) for review in reviews[:10]]
    counts = Counter(first)
    assert set(counts) == {"positive", "negative", "neutral"}  # every label, nothing else
    assert min(counts.values()) >= 5  # spread over the labels, not stuck on one
    assert again == first[:10]  # the same prompt gets the same label
