"""A smaller embedder distilled from all-MiniLM-L6-v2 on your own text: fewer layers, faster lookups.

A lookup's embedding costs a fixed ~1.2 ms plus ~0.18 ms a token on one core (int8), nearly all of
it the six encoder layers' arithmetic (``benchmarks/cache/embed_floor.py``). A student with three
layers does half of it. Cut out of the model as it is (layers 1, 3, 5 kept), it loses most of the
cache's recall; trained to reproduce the teacher's vectors, it keeps most of it.

How (:func:`distill`): the student is the teacher with every other encoder layer kept (its word,
position and LayerNorm weights unchanged and frozen: text outside the corpus keeps the teacher's
token vectors); it is trained on unlabelled texts to give each text the teacher's unit vector
(``1 - cos``) and each batch the teacher's matrix of cosines between its texts (what a cache
compares). 5% of the texts are held out and their mean cosine with the teacher reported, before
and after. Nothing is downloaded: the teacher is the installed wheel's (or ``teacher_dir``), the
texts are the caller's. The folder written is a BERT model folder (``config.json``,
``model.safetensors``, the teacher's tokenizer files) that the ONNX embedder and
sentence-transformers both load; ``distilled.json`` records how it was made.

Which texts: ones like your traffic's questions, and never the pairs you will judge the cache on
(the student would have seen them). ``inferopt cache distill`` reads a text file (one per line) or
JSONL; ``benchmarks/cache/distill_student.py`` builds a corpus from the routing data's prompts.
Needs torch and transformers (``pip install torch==2.13.0 'inferopt[embeddings]'``) to train;
the trained student runs without them (``inferopt[onnx]``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inferopt.cache.semantic.model_files import minilm_model_dir
from inferopt.errors import ConfigError, InvalidArgumentError

COPIED_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
MAX_TOKENS = 128  # questions are short; longer texts are truncated for training only


@dataclass(frozen=True, slots=True)
class DistillOptions:
    layers: int = 3
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 2e-4
    relation_weight: float = 1.0  # weight of the in-batch cosine-matrix term beside 1 - cos
    held_out: float = 0.05
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0: torch's default


@dataclass(frozen=True, slots=True)
class DistillReport:
    folder: str
    teacher: str
    layers_kept: list[int]
    texts: int
    held_out: int
    corpus_digest: str
    cosine_before: float  # held-out texts' mean cosine with the teacher, the cut student untrained
    cosine_after: float
    seconds: float
    options: dict[str, Any]


def kept_layers(teacher_layers: int, layers: int) -> list[int]:
    """Which teacher layers a student of ``layers`` keeps: evenly spaced, always the last."""
    if not 1 <= layers < teacher_layers:
        raise InvalidArgumentError(
            f"a student keeps 1 to {teacher_layers - 1} layers of the teacher's {teacher_layers}, not {layers}"
        )
    step = teacher_layers / layers
    return [round(teacher_layers - 1 - step * (layers - 1 - i)) for i in range(layers)]


def _corpus_digest(texts: Sequence[str]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def distill(
    texts: Sequence[str],
    out_dir: str | Path,
    *,
    teacher_dir: str | Path | None = None,
    options: DistillOptions | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> DistillReport:
    """Train a student of ``options.layers`` layers on ``texts``; write it to ``out_dir``."""
    try:
        import torch
        from transformers import AutoTokenizer, BertModel
    except ImportError as exc:
        raise ConfigError(
            f"distilling needs torch and transformers ({exc.name} is missing): pip install torch==2.13.0 "
            "'inferopt[embeddings]'"
        ) from exc
    options = options or DistillOptions()
    unique = sorted({text.strip() for text in texts if text.strip()})
    if len(unique) < 100:
        raise InvalidArgumentError(
            f"distilling needs at least 100 distinct texts, got {len(unique)}: give a larger corpus"
        )
    started = time.perf_counter()
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    teacher_folder = minilm_model_dir(teacher_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(teacher_folder))
    teacher = BertModel.from_pretrained(str(teacher_folder), add_pooling_layer=False)
    teacher.eval()  # type: ignore[no-untyped-call]
    keep = kept_layers(teacher.config.num_hidden_layers, options.layers)
    student = copy.deepcopy(teacher)
    student.encoder.layer = torch.nn.ModuleList([student.encoder.layer[i] for i in keep])
    student.config.num_hidden_layers = len(keep)
    for parameter in student.embeddings.parameters():
        parameter.requires_grad = False

    shuffled = list(unique)
    random.Random(options.seed).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * options.held_out))
    held, train = shuffled[:cut], shuffled[cut:]

    def encode(model: Any, batch: Sequence[str]) -> Any:
        tokens = tokenizer(list(batch), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)

    def targets(batch_texts: Sequence[str]) -> Any:
        with torch.no_grad():
            return encode(teacher, batch_texts)

    by_length = sorted(range(len(train)), key=lambda i: len(train[i]))  # batches of similar length: little padding
    batches = [by_length[i : i + options.batch_size] for i in range(0, len(by_length), options.batch_size)]
    if options.epochs:
        log(f"teacher vectors for {len(shuffled):,} texts")
    else:
        batches = []  # the cut alone, untrained
    teacher_vectors = torch.cat([targets([train[i] for i in batch]) for batch in batches]) if batches else None
    row_of = {index: row for row, index in enumerate(i for batch in batches for i in batch)}
    held_vectors = torch.cat([targets(held[i : i + 256]) for i in range(0, len(held), 256)])

    def held_cosine() -> float:
        student.eval()  # type: ignore[no-untyped-call]
        with torch.no_grad():
            got = torch.cat([encode(student, held[i : i + 256]) for i in range(0, len(held), 256)])
        return float((got * held_vectors).sum(1).mean())

    before = held_cosine()
    log(f"student keeps layers {keep}; held-out cosine with the teacher before training {before:.4f}")
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate, weight_decay=0.01)
    steps = max(1, options.epochs * len(batches))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(1, steps // 20)) * max(0.0, 1 - step / steps)
    )
    order = random.Random(options.seed + 1)
    for epoch in range(options.epochs):
        student.train()
        order.shuffle(batches)
        total = 0.0
        for batch in batches:
            assert teacher_vectors is not None
            wanted = teacher_vectors[[row_of[i] for i in batch]]
            got = encode(student, [train[i] for i in batch])
            loss = (1 - (got * wanted).sum(1)).mean()
            if options.relation_weight:
                loss = loss + options.relation_weight * torch.nn.functional.mse_loss(got @ got.T, wanted @ wanted.T)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        log(
            f"epoch {epoch + 1}/{options.epochs}: loss {total / max(1, len(batches)):.5f}, "
            f"held-out cosine {held_cosine():.4f}"
        )
    after = held_cosine()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(str(folder), safe_serialization=True)
    for name in COPIED_FILES:
        if (teacher_folder / name).exists():
            shutil.copy2(teacher_folder / name, folder / name)
    if (teacher_folder / "1_Pooling").is_dir():
        shutil.copytree(teacher_folder / "1_Pooling", folder / "1_Pooling", dirs_exist_ok=True)
    report = DistillReport(
        folder=str(folder),
        teacher=str(teacher_folder),
        layers_kept=keep,
        texts=len(train),
        held_out=len(held),
        corpus_digest=_corpus_digest(unique),
        cosine_before=round(before, 4),
        cosine_after=round(after, 4),
        seconds=round(time.perf_counter() - started, 1),
        options=asdict(options),
    )
    (folder / "distilled.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report
