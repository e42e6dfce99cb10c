"""An extractive reader: the answer is a span of a passage, found by a span head on a transformer encoder.

    reader = load_reader(ReaderConfig())              # fine-tuned once, then loaded from the cache
    reader.read("Who won Super Bowl 50?", [passage_text, ...])   # -> [Span(text, score, passage, start, end, null)]
    reader.read_each(questions, passage_lists)        # the best span of every passage (to rank passages)

The model is all-MiniLM-L6-v2 (the bi-encoder's own weights, offline) with a linear head giving every token a
start and an end logit (BERT's SQuAD recipe, Devlin et al. 2019). Question and passage are read together as
"[CLS] question [SEP] passage [SEP]"; a passage longer than `max_length` tokens is read in windows that overlap
by `doc_stride` tokens. A span's score is start logit + end logit, over passage tokens only, at most
`max_answer_tokens` long; `null` is its window's [CLS] start + end logit, the reader's "no answer here". How
spans of several passages compete (span score, less the no-answer score and the retrieval rank, with weights)
is the caller's choice, made on validation questions (5.1.1).

It is fine-tuned on SQuAD v1.1 dev questions of the TRAIN articles of `split_articles(seed)` only — no
validation or test article's question or paragraph is ever seen — for `epochs` over a seeded random subset of
at most `max_questions` questions (the default takes all ~6,600). Each question is read with its gold paragraph
and with `negatives` hard negatives: train-article paragraphs that BM25 ranks high for it but that hold none of
its answers; windows without the answer learn to point at [CLS]. On a CPU with native bf16 the encoder runs
under bf16 autocast (2x the fp32 windows/s, see ReaderConfig.amp). After training, EM/F1 on the validation
articles' gold paragraphs go into its info. The fine-tuned reader is cached under <cache>/readers/<key>/, the
key hashing the training code, the training question ids and the settings, so 5.1.1, 5.1.2 and 5.2.2 train it
once and reuse it; the folder is written whole (temp + rename).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..io import atomic_folder
from ..train.engine import prefer_cpu_bf16

ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ReaderConfig:
    encoder: str = ENCODER
    max_length: int = 256  # tokens per window (question + passage + 3 special tokens)
    doc_stride: int = 96  # overlap between consecutive windows of a long passage
    max_answer_tokens: int = 30
    max_questions: int = 10000  # training questions: a seeded random subset of the train articles' (~6,600: all)
    epochs: int = 2
    # per training question, this many train-article paragraphs that BM25 ranks high for it but that hold none of
    # its answers, taught to point at [CLS]: retrieval puts such passages beside the gold one (DPR's reader also
    # learns from retrieved negatives), and a reader that saw only gold paragraphs finds an "answer" in each
    negatives: int = 1
    batch_size: int = 16
    lr: float = 1e-4
    warmup: float = 0.1
    seed: int = 0
    # bf16 autocast where the CPU has native bf16 kernels (train.prefer_cpu_bf16): fine-tuning went from 5.3 to
    # 10.8 windows/s on this build's 2 cores (one side-by-side measurement on 64 windows, 2026-12-02; the full
    # fine-tune then ran at 11.2); weights and optimizer states stay fp32
    amp: str = "auto"


@dataclass
class Span:
    text: str
    score: float
    passage: int  # index into the passages given to read()
    start: int  # character offsets in that passage
    end: int
    null: float = 0.0  # [CLS] start + end logit of the span's window: the reader's "no answer here" score

    def ranked(self, null_weight: float = 0.0, rank_weight: float = 0.0) -> float:
        """The score spans of different retrieved passages compete on: span score - null_weight * no-answer score
        - rank_weight * ln(1 + retrieval rank index). The reader's logits are not comparable across passages;
        its "nothing here" and the retriever's order are evidence too (5.1.1 chooses the weights on validation)."""
        return self.score - null_weight * self.null - rank_weight * float(np.log1p(self.passage))


class SpanReader(nn.Module):
    """Encoder + Linear(hidden, 2): start and end logits for every token."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.qa = nn.Linear(encoder.config.hidden_size, 2)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state  # [B, T, H]
        start, end = self.qa(hidden).unbind(-1)  # [B, T] each
        return start, end


def windows(tokenizer, questions: Sequence[str], contexts: Sequence[str], cfg: ReaderConfig) -> dict:
    """Tokenised (question, passage) windows: input ids etc. plus, per window, the example it came from
    (`example`), the character offsets of its passage tokens (`offsets`, None for question/special tokens)."""
    enc = tokenizer(list(questions), list(contexts), truncation="only_second", max_length=cfg.max_length,
                    stride=cfg.doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                    padding=False)
    offsets = []
    for i, pairs in enumerate(enc["offset_mapping"]):
        seq = enc.sequence_ids(i)
        offsets.append([tuple(p) if s == 1 else None for p, s in zip(pairs, seq, strict=True)])
    return {"input_ids": enc["input_ids"], "token_type_ids": enc.get("token_type_ids"),
            "example": list(enc["overflow_to_sample_mapping"]), "offsets": offsets}


def answer_positions(offsets: list, answer_start: int, answer_text: str) -> tuple[int, int]:
    """Token positions (start, end) of the answer's characters inside one window, or (0, 0) — [CLS] — when the
    window does not hold the whole answer (always for a negative: answer_start -1)."""
    answer_end = answer_start + len(answer_text)
    tokens = [i for i, o in enumerate(offsets) if o is not None]
    if not tokens or offsets[tokens[0]][0] > answer_start or offsets[tokens[-1]][1] < answer_end:
        return 0, 0
    start = next(i for i in tokens if offsets[i][1] > answer_start)
    end = next(i for i in reversed(tokens) if offsets[i][0] < answer_end)
    return start, end


def best_spans(start: np.ndarray, end: np.ndarray, offsets: list, max_answer_tokens: int, n: int = 1
               ) -> list[tuple[float, int, int]]:
    """The n best (score, char_start, char_end) spans of one window: start <= end, both on passage tokens,
    at most max_answer_tokens long. start / end: the window's logits [T]."""
    valid = np.array([o is not None for o in offsets])
    if not valid.any():
        return []
    t = len(offsets)
    s = np.where(valid, start[:t], -np.inf)
    e = np.where(valid, end[:t], -np.inf)
    scores = s[:, None] + e[None, :]  # [T, T]: start i, end j
    i, j = np.indices(scores.shape)
    scores[(j < i) | (j - i >= max_answer_tokens)] = -np.inf
    flat = np.argsort(-scores, axis=None)[:n]
    out = []
    for k in flat:
        a, b = divmod(int(k), t)
        if np.isfinite(scores[a, b]):
            out.append((float(scores[a, b]), offsets[a][0], offsets[b][1]))
    return out


def autocast(cfg: ReaderConfig):
    """The precision the reader computes in: bf16 autocast or fp32 (cfg.amp, "auto" resolved on this CPU)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=prefer_cpu_bf16(cfg.amp, "cpu") == "bf16")


class Reader:
    """A fine-tuned SpanReader with its tokenizer: read(question, passages) -> best spans."""

    def __init__(self, model: SpanReader, tokenizer, cfg: ReaderConfig, info: dict | None = None) -> None:
        self.model, self.tokenizer, self.cfg, self.info = model.eval(), tokenizer, cfg, info or {}

    def logits(self, win: dict, batch_size: int = 32) -> tuple[list[np.ndarray], list[np.ndarray]]:
        starts, ends = [], []
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode(), autocast(self.cfg):
            for b in range(0, len(win["input_ids"]), batch_size):
                batch = collate(win, range(b, min(b + batch_size, len(win["input_ids"]))), pad)
                s, e = self.model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
                starts += list(s.float().numpy())
                ends += list(e.float().numpy())
        return starts, ends

    def read(self, question: str, passages: Sequence[str], n: int = 1) -> list[Span]:
        """The n best spans over all the passages (each window's best candidates, merged by score)."""
        if not passages:
            return []
        return self.read_many([question], [list(passages)], n)[0]

    def read_many(self, questions: Sequence[str], passage_lists: Sequence[Sequence[str]], n: int = 1
                  ) -> list[list[Span]]:
        """For each question, the n best spans over all its passages."""
        found = self._spans(questions, passage_lists, n)
        return [sorted((s for spans in per for s in spans), key=lambda s: -s.score)[:n] for per in found]

    def read_each(self, questions: Sequence[str], passage_lists: Sequence[Sequence[str]]
                  ) -> list[list[Span | None]]:
        """For each question, the best span of each of its passages (None: no span fits), in passage order —
        what ranking passages by the reader, or reading only the first k of them, needs."""
        found = self._spans(questions, passage_lists, 1)
        return [[max(spans, key=lambda s: s.score) if spans else None for spans in per] for per in found]

    def _spans(self, questions: Sequence[str], passage_lists: Sequence[Sequence[str]], n: int
               ) -> list[list[list[Span]]]:
        """[question][passage] -> the n best spans of each of that passage's windows."""
        found: list[list[list[Span]]] = [[[] for _ in ps] for ps in passage_lists]
        pairs = [(qi, pi) for qi, ps in enumerate(passage_lists) for pi in range(len(ps))]
        if not pairs:
            return found
        win = windows(self.tokenizer, [questions[q] for q, _ in pairs], [passage_lists[q][p] for q, p in pairs],
                      self.cfg)
        starts, ends = self.logits(win)
        for w, example in enumerate(win["example"]):
            q, p = pairs[example]
            text = passage_lists[q][p]
            null = float(starts[w][0] + ends[w][0])
            for score, a, b in best_spans(starts[w], ends[w], win["offsets"][w], self.cfg.max_answer_tokens, n):
                found[q][p].append(Span(text[a:b], score, p, a, b, null))
        return found


def collate(win: dict, index, pad_id: int, labels: dict | None = None) -> dict:
    """Windows `index` padded to the longest of them: input_ids, attention_mask, token_type_ids [B, T]."""
    index = list(index)
    width = max(len(win["input_ids"][i]) for i in index)
    ids = torch.full((len(index), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(index), width), dtype=torch.long)
    types = torch.zeros((len(index), width), dtype=torch.long)
    for r, i in enumerate(index):
        row = win["input_ids"][i]
        ids[r, :len(row)] = torch.tensor(row)
        mask[r, :len(row)] = 1
        if win["token_type_ids"] is not None:
            types[r, :len(row)] = torch.tensor(win["token_type_ids"][i])
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    if labels is not None:
        batch["start"] = torch.tensor([labels["start"][i] for i in index])
        batch["end"] = torch.tensor([labels["end"][i] for i in index])
    return batch


def new_reader(cfg: ReaderConfig) -> Reader:
    """The pretrained encoder with a fresh span head (seeded)."""
    from .. import hub

    encoder, source = hub.load_language_model(cfg.encoder)
    torch.manual_seed(cfg.seed)
    return Reader(SpanReader(encoder), hub.load_tokenizer(cfg.encoder), cfg, {"encoder_source": source.source})


def fine_tune(reader: Reader, questions: Sequence[str], contexts: Sequence[str], answer_starts: Sequence[int],
              answers: Sequence[str], progress=None) -> dict:
    """Cross-entropy on the start and end positions (BERT's SQuAD loss), AdamW, linear warmup then decay;
    windows in a seeded order, batched by similar length (less padding). Returns what it did."""
    cfg, model = reader.cfg, reader.model
    win = windows(reader.tokenizer, questions, contexts, cfg)
    labels = {"start": [], "end": []}
    for w, example in enumerate(win["example"]):
        s, e = answer_positions(win["offsets"][w], answer_starts[example], answers[example])
        labels["start"].append(s)
        labels["end"].append(e)
    rng = np.random.default_rng(cfg.seed)
    n = len(win["input_ids"])
    lengths = np.array([len(x) for x in win["input_ids"]])
    batches = []
    for _ in range(cfg.epochs):
        order = rng.permutation(n)
        chunks = [order[i:i + cfg.batch_size * 8] for i in range(0, n, cfg.batch_size * 8)]
        for chunk in chunks:  # sort within a chunk of 8 batches by length, then shuffle the batches
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            group = [chunk[i:i + cfg.batch_size] for i in range(0, len(chunk), cfg.batch_size)]
            batches += [group[i] for i in rng.permutation(len(group))]
    total, warm = len(batches), max(1, int(cfg.warmup * len(batches)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm))))
    torch.manual_seed(cfg.seed)
    model.train()
    losses, start_time = [], time.perf_counter()
    for step, index in enumerate(batches):
        batch = collate(win, index, reader.tokenizer.pad_token_id, labels)
        with autocast(cfg):
            s, e = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        s, e = s.float(), e.float()
        s = s.masked_fill(batch["attention_mask"] == 0, -1e4)
        e = e.masked_fill(batch["attention_mask"] == 0, -1e4)
        loss = (nn.functional.cross_entropy(s, batch["start"]) + nn.functional.cross_entropy(e, batch["end"])) / 2
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if progress is not None and (step % 20 == 0 or step == total - 1):
            progress(step + 1, total, float(np.mean(losses[-20:])))
    model.eval()
    seconds = time.perf_counter() - start_time
    return {"train_windows": n, "precision": prefer_cpu_bf16(cfg.amp, "cpu"), "train_steps": total,
            "train_seconds": round(seconds, 1),
            "train_windows_per_s": round(n * cfg.epochs / seconds, 2) if seconds else None,
            "loss_first_20": float(np.mean(losses[:20])), "loss_last_20": float(np.mean(losses[-20:])),
            "answerless_windows": int(sum(1 for s in labels["start"] if s == 0))}


# --- the cached SQuAD reader ---------------------------------------------------------------------------------

def readers_dir() -> Path:
    from ..data.store import cache_dir

    return cache_dir() / "readers"


def training_questions(cfg: ReaderConfig):
    """The seeded random subset of the train articles' questions the reader learns from."""
    from .squad import load_squad_dev, split_articles

    squad = load_squad_dev()
    pool = squad.questions_of(split_articles(cfg.seed).train)
    pick = np.sort(np.random.default_rng(cfg.seed).permutation(len(pool))[:cfg.max_questions])
    return [pool[i] for i in pick]


def hard_negatives(questions, cfg: ReaderConfig) -> list[list[str]]:
    """For each question, the cfg.negatives paragraphs of the TRAIN articles that BM25 ranks highest for it among
    those that are not its own and hold none of its answers (SQuAD-normalised containment)."""
    from ..metrics.qa import has_answer, normalized_passage
    from .bm25 import BM25
    from .squad import load_squad_dev, split_articles

    train = set(split_articles(cfg.seed).train)
    paragraphs = [p for p in load_squad_dev().paragraphs if p.article in train]
    ranked, _ = BM25().fit([p.text for p in paragraphs]).search([q.question for q in questions], cfg.negatives + 20)
    normalized = [normalized_passage(p.text) for p in paragraphs]
    return [[paragraphs[i].text for i in row if i >= 0 and paragraphs[i].paragraph_id != q.paragraph_id
             and not has_answer(normalized[i], q.answers)][:cfg.negatives] for q, row in zip(questions, ranked,
                                                                                           strict=True)]


def training_examples(cfg: ReaderConfig, questions) -> tuple[list, list, list, list]:
    """(questions, contexts, answer_starts, answers) fine_tune learns from: each training question with its gold
    paragraph, and with each of its hard negatives (answer_start -1: every window's label is [CLS])."""
    from .squad import load_squad_dev

    text = {p.paragraph_id: p.text for p in load_squad_dev().paragraphs}
    rows = [(q.question, text[q.paragraph_id], q.answer_starts[0], q.answers[0]) for q in questions]
    if cfg.negatives:
        rows += [(q.question, negative, -1, "") for q, negatives in zip(questions, hard_negatives(questions, cfg),
                                                                         strict=True) for negative in negatives]
    return tuple(list(column) for column in zip(*rows, strict=True))


def cache_key(cfg: ReaderConfig, qids: Sequence[str]) -> str:
    """Hash of the training code (the functions that decide the weights, not the whole file: editing the
    inference code must not retrain), the settings and the training question ids."""
    import inspect

    code = "".join(inspect.getsource(f) for f in (SpanReader, windows, answer_positions, collate, new_reader,
                                                  fine_tune, training_questions, hard_negatives, training_examples))
    digest = hashlib.sha256(code.encode())
    digest.update(json.dumps({**asdict(cfg), "amp": prefer_cpu_bf16(cfg.amp, "cpu")}, sort_keys=True).encode())
    digest.update("\n".join(qids).encode())
    return digest.hexdigest()[:16]


def load_reader(cfg: ReaderConfig | None = None, say=print, train: bool = True) -> Reader:
    """The SQuAD reader for these settings: from the cache, or fine-tuned now (minutes on CPU) and cached."""
    from safetensors.torch import load_file, save_file

    from .squad import load_squad_dev

    cfg = cfg or ReaderConfig()
    qs = training_questions(cfg)
    folder = readers_dir() / cache_key(cfg, [q.qid for q in qs])
    if (folder / "reader.safetensors").is_file() and (folder / "info.json").is_file():
        reader = new_reader(cfg)
        reader.model.load_state_dict(load_file(folder / "reader.safetensors"))  # tokenizer: the encoder's own
        reader.info = {**json.loads((folder / "info.json").read_text()), "cache_hit": True}
        return reader
    if not train:
        raise UserError(f"no fine-tuned reader cached at {folder}; run a Phase 5 project to train it")
    paragraphs = {p.paragraph_id: p.text for p in load_squad_dev().paragraphs}
    reader = new_reader(cfg)
    examples = training_examples(cfg, qs)
    say(f"fine-tuning the reader on {len(qs)} questions of the train articles, {len(examples[0]) - len(qs)} hard "
        f"negative paragraphs (cached at {folder})")

    def progress(step, total, loss):
        say(f"  reader step {step}/{total}: loss {loss:.3f}")

    info = fine_tune(reader, *examples, progress)
    info.update(validation_scores(reader, paragraphs))
    say(f"reader on the validation articles' gold paragraphs: EM {info['val_gold_em']:.1f} F1 "
        f"{info['val_gold_f1']:.1f} ({info['val_gold_questions']} questions)")
    info.update(reader.info, config=asdict(cfg), train_questions=len(qs), cache_hit=False,
                train_negatives=len(examples[0]) - len(qs),
                protocol="fine-tuned on SQuAD v1.1 dev questions of split_articles(seed).train only (gold and hard-"
                         "negative paragraphs of the train articles)")
    with atomic_folder(folder) as tmp:
        save_file({k: v.contiguous() for k, v in reader.model.state_dict().items()}, tmp / "reader.safetensors")
        (tmp / "info.json").write_text(json.dumps(info, indent=1))
    reader.info = info
    return reader


def validation_scores(reader: Reader, paragraphs: dict[str, str]) -> dict:
    """EM/F1 of the fine-tuned reader on the VALIDATION articles' questions, each read from its own gold paragraph
    (no retrieval): how well it reads, apart from what retrieval hands it."""
    from .squad import load_squad_dev, split_articles

    qs = load_squad_dev().questions_of(split_articles(reader.cfg.seed).val)
    scores = evaluate_reader(reader, qs, [[paragraphs[q.paragraph_id]] for q in qs])
    return {"val_gold_em": scores["em"], "val_gold_f1": scores["f1"], "val_gold_questions": scores["n"]}


def evaluate_reader(reader: Reader, questions, passage_lists: Sequence[Sequence[str]]) -> dict:
    """SQuAD EM/F1 (metrics.qa) of the best span over each question's passages."""
    from ..metrics.qa import squad_scores

    spans = reader.read_many([q.question for q in questions], passage_lists)
    predictions = [s[0].text if s else "" for s in spans]
    return {**squad_scores(predictions, [q.answers for q in questions]), "predictions": predictions}


def save_reader(reader: Reader, folder: Path) -> None:
    """The span reader's weights + settings into `folder` (a run's model folder), each file written atomically."""
    from safetensors.torch import save_file

    from .. import io

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in reader.model.state_dict().items()}
    io.write_with(folder / "reader.safetensors", lambda tmp: save_file(state, tmp), suffix=".safetensors")
    io.write_json(folder / "reader.json", {"config": asdict(reader.cfg), "info": reader.info})


def reader_from_folder(folder: Path) -> Reader:
    from safetensors.torch import load_file

    meta = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
    reader = new_reader(ReaderConfig(**meta["config"]))
    reader.model.load_state_dict(load_file(folder / "reader.safetensors"))
    reader.info = meta["info"]
    return reader
