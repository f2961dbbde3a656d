"""Write examples/reviews.jsonl: 1,000 short product reviews for the batch demo (deterministic)."""

import json
import random
from pathlib import Path

PRODUCTS = [
    "headphones",
    "blender",
    "running shoes",
    "desk lamp",
    "phone case",
    "coffee grinder",
    "backpack",
    "keyboard",
    "water bottle",
    "tent",
]
OPENINGS = {
    "positive": ["Absolutely love this {p}.", "Best {p} I have owned.", "This {p} exceeded my expectations."],
    "negative": ["The {p} broke after a week.", "Very disappointed with this {p}.", "Do not buy this {p}."],
    "neutral": ["The {p} arrived on Tuesday.", "It is a {p}, nothing more.", "The {p} does what it says."],
}
DETAILS = {
    "positive": ["Great value for the price.", "Shipping was fast.", "Would recommend to friends."],
    "negative": ["Customer support never replied.", "The build quality is poor.", "I asked for a refund."],
    "neutral": ["Packaging was standard.", "Colour matches the photos.", "Setup took ten minutes."],
}


def main() -> None:
    rng = random.Random(2026)
    out = Path(__file__).with_name("reviews.jsonl")
    with out.open("w") as handle:
        for i in range(1000):
            label = rng.choice(list(OPENINGS))
            product = rng.choice(PRODUCTS)
            text = f"{rng.choice(OPENINGS[label]).format(p=product)} {rng.choice(DETAILS[label])}"
            handle.write(json.dumps({"id": f"review-{i:04d}", "text": text, "label": label}) + "\n")


if __name__ == "__main__":
    main()
