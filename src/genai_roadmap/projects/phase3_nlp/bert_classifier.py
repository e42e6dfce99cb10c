"""3.3.1 bert-spam — fine-tune a BERT encoder for spam detection (or sentiment, or your own labelled CSV).

Roadmap: "Fine-tune BERT for a text classification task, such as detecting spam emails or sentiment analysis."

What it does, on the SMS Spam Collection (5,574 messages, 13.4% spam; `--set dataset=imdb` for IMDB reviews,
`--set csv=PATH text_col=... label_col=...` for your own): a seeded stratified train / validation / test split
(70 / 15 / 15; IMDB keeps its official test reviews, with `max_docs` / `max_test_docs` drawing seeded stratified
subsets so it fits a CPU). The encoder is a pretrained BERT from genai_roadmap.hub — all-MiniLM-L6-v2 by default
(a 6-layer, 384-wide BERT that ships offline), `--set model=bert-base-uncased` for the 12-layer original — with a
dropout + linear classification head on the *mask-weighted mean of the token vectors* (`pooling=mean`: the
pooling MiniLM was trained with; `pooling=cls` reads the [CLS] vector instead, BERT's own recipe). Every weight
trains (full fine-tuning): AdamW, weight decay on matrices only, linear warmup then linear decay, gradient
clipping, through the shared engine with dict batches (input_ids, attention_mask, labels) from
genai_roadmap.data.text_batches: length-bucketed, each batch padded only to its own longest text. The epoch is
chosen by early stopping on the validation split's F1 of the positive class (spam; macro F1 with more than two
classes), the learning rate from `lr_grid` the same way; the chosen model is scored once on the test split:
accuracy, spam precision / recall / F1 (scikit-learn), the confusion matrix and the precision-recall curve.
Beside it, on the same split: TF-IDF (word 1-2-grams) + logistic regression, its C chosen on validation.
Speed: training tokens/s (real tokens, and tokens including padding) and, in the same run, a short timed pass of
forward + backward over the same texts padded three ways — to a fixed `max_length`, dynamically per random batch,
and dynamically in length-bucketed batches — whose time ratio is the gain of bucketed dynamic padding
(benchmarks/bert_padding.py measures the same on its own). The fine-tuned weights (all of them: safetensors) and
the tokenizer are saved in the run folder's model/; `roadmap sample 3.3.1 "WINNER!! claim your prize"` (or
`--file messages.txt`) prints each text's label and probability.

Result (cpu preset, seed 0, MiniLM, 4,027 train / 711 validation / 836 test messages, max_length 64): test spam
F1 0.9865 (precision 0.9910, recall 0.9821: 110 of 112 spams found, 1 false alarm in 724 hams), accuracy 0.9964,
spam average precision 0.9993 (target F1 >= 0.95); epoch 3 of 3 chosen on validation (val F1 0.979 / 0.989 /
0.995 after epochs 1 / 2 / 3) at lr 1e-4. TF-IDF + LR on the same split (C = 100 on validation): F1 0.9727
(recall 0.955), accuracy 0.9928. Bucketed dynamic padding ran forward + backward over the same 192 training
texts 3.25x faster than padding to 64 tokens (dynamic padding of random batches alone: 1.37x; padding share 63% ->
18%). Throughput 73 real tokens/s over 4,130 s of training, on 2 cores shared with ~8 other jobs (load ~16-20):
expect several times that on a quiet machine. One miss worth knowing: "WINNER!! claim your prize" alone is ham
(p = 0.98) — SMS spam nearly always carries a number or short code to text; with one it is spam at 0.9999.
IMDB (`--set dataset=imdb --set max_docs=600 --set max_test_docs=400 --set max_length=128 --set epochs=2`): see
the report of that run.
                                                                             roadmap run 3.3.1
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...config import param
from ...data.splits import stratified_split, stratified_subset
from ...data.text import TEXT_CLASSIFICATION, LabelledText, load_imdb, load_text_classification
from ...data.text_batches import TextBatches, pad_collate
from ...errors import UserError
from ...io import atomic_folder
from ...runs import RunContext
from ...text.embeddings import mean_pool
from ...train import Callback, EarlyStopping, Trainer, param_groups, pick_device, predict
from ...viz.plots import confusion_matrix_plot, curves, new_figure, save
from ...viz.tabular import Report

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class Config:
    dataset: str = param("sms_spam", "labelled text set (ignored when csv is given)", choices=TEXT_CLASSIFICATION)
    csv: str = param("", "your own CSV to classify instead (with text_col and label_col)")
    text_col: str = param("text", "CSV column holding the text")
    label_col: str = param("label", "CSV column holding the class")
    max_docs: int = param(0, "stratified random subset of this many documents before splitting (IMDB: of its "
                             "training reviews); 0 = all", min=0)
    max_test_docs: int = param(0, "IMDB only: stratified random subset of its 25k test reviews (0 = all)", min=0)
    test_size: float = param(0.15, "share held out for the one test evaluation (not IMDB: it has its own)",
                             min=0.05, max=0.5)
    val_size: float = param(0.15, "share held out to choose the epoch, learning rate and TF-IDF C", min=0.05,
                            max=0.5)
    model: str = param(DEFAULT_MODEL, "pretrained encoder: a hub name (bert-base-uncased = the full BERT) or a "
                                      "local model folder")
    pooling: str = param("mean", "what the head reads: the mask-weighted mean of the token vectors, or the [CLS] "
                                 "vector", choices=("mean", "cls"))
    max_length: int = param(64, "tokens kept per text, [CLS] and [SEP] included (longer texts are truncated)",
                            min=8, max=512)
    epochs: int = param(3, "epochs of fine-tuning; the best epoch on validation is kept", min=1)
    lr_grid: list[float] = param([1e-4], "peak learning rates tried (AdamW); the best on validation is kept",
                                 gt=0, max=1e-2)
    batch_size: int = param(32, "texts per step", min=1)
    warmup: float = param(0.1, "share of the updates with a linear warmup (then linear decay to 0)", min=0, lt=1)
    weight_decay: float = param(0.01, "AdamW weight decay on weight matrices", min=0)
    dropout: float = param(0.1, "dropout before the classification head", min=0, lt=1)
    bucket: int = param(50, "length bucketing: pool of this many batches sorted by length (0 = off)", min=0)
    padding_batches: int = param(6, "batches timed for the fixed-vs-dynamic padding comparison (0 = skip)", min=0)
    tfidf_C_grid: list[float] = param([1.0, 10.0, 100.0], "TF-IDF baseline: logistic-regression C values", gt=0)
    device: str = param("auto", "auto, cuda, mps or cpu", choices=("auto", "cuda", "mps", "cpu"))


PRESETS = {
    "smoke": {"max_docs": 360, "epochs": 1, "max_length": 32, "batch_size": 8, "lr_grid": [2e-4],
              "padding_batches": 2, "tfidf_C_grid": [10.0]},
    "cpu": {},
    "full": {"model": "bert-base-uncased", "pooling": "cls", "max_length": 128, "epochs": 4,
             "lr_grid": [2e-5, 3e-5, 5e-5]},
}


def dataset_of(cfg: Config) -> str:
    name = f"csv:{cfg.csv}" if cfg.csv else cfg.dataset
    return f"{name} (subset of {cfg.max_docs})" if cfg.max_docs else name


# ---- data ----------------------------------------------------------------------------------------------------

def load_splits(cfg: Config, seed: int) -> tuple[LabelledText, LabelledText, LabelledText]:
    """(train, validation, test), each stratified and seeded."""
    if cfg.dataset == "imdb" and not cfg.csv:
        pool, test = load_imdb("train", seed), load_imdb("test", seed)
        if cfg.max_test_docs and cfg.max_test_docs < len(test):
            test = test.subset(stratified_subset(test.labels, cfg.max_test_docs, seed + 1))
    else:
        pool, test = load_text_classification(cfg.dataset, cfg.csv, cfg.text_col, cfg.label_col, seed=seed), None
    if cfg.max_docs and cfg.max_docs < len(pool):
        pool = pool.subset(stratified_subset(pool.labels, cfg.max_docs, seed))
    if test is None:
        rest, held = stratified_split(pool.labels, round(cfg.test_size * len(pool)), seed)
        pool, test = pool.subset(rest), pool.subset(held)
    rest, held = stratified_split(pool.labels, round(cfg.val_size * len(pool)), seed + 2)
    train, val = pool.subset(rest), pool.subset(held)
    if np.bincount(train.labels, minlength=len(train.classes)).min() < 2 or len(set(val.labels)) < 2:
        raise UserError(f"too few documents per class to train and validate: {pool.counts()} (raise max_docs)")
    return train, val, test


def positive_class(data: LabelledText) -> int | None:
    """The class whose precision / recall / F1 are reported: spam, pos, else the rarer of two; None for more."""
    for name in ("spam", "pos"):
        if name in data.classes:
            return data.classes.index(name)
    return int(np.argmin(np.bincount(data.labels))) if len(data.classes) == 2 else None


def tokenize(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def batches(ids: list[list[int]], labels: np.ndarray | None, cfg: Config, pad_id: int, shuffle: bool,
            seed: int) -> TextBatches:
    return TextBatches(ids, None if labels is None else [int(y) for y in labels], batch_size=cfg.batch_size,
                       pad_id=pad_id, shuffle=shuffle, bucket=cfg.bucket, seed=seed)


def probabilities(model: nn.Module, data: TextBatches, device: torch.device) -> np.ndarray:
    """Class probabilities [N, K] in the texts' own order (bucketing reorders them inside the batches)."""
    order = torch.cat(data.batches(0)).numpy()
    probs = torch.softmax(predict(model, data.epoch(0), device=device), dim=1).numpy()
    out = np.empty_like(probs)
    out[order] = probs
    return out


# ---- model ---------------------------------------------------------------------------------------------------

class BertClassifier(nn.Module):
    """A pretrained encoder + dropout + a linear head on the pooled sentence vector."""

    def __init__(self, encoder: nn.Module, n_classes: int, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        self.encoder, self.pooling = encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, T, H]
        pooled = mean_pool(hidden, attention_mask) if self.pooling == "mean" else hidden[:, 0]  # [B, H]
        return self.head(self.dropout(pooled))  # [B, K]


def build(cfg: Config, n_classes: int, seed: int) -> tuple[BertClassifier, object, str]:
    from ... import hub

    encoder, found = hub.load_language_model(cfg.model)
    tokenizer = hub.load_tokenizer(cfg.model)
    torch.manual_seed(seed)  # the head's initialisation
    return BertClassifier(encoder, n_classes, cfg.pooling, cfg.dropout), tokenizer, found.source


def step(model: nn.Module, batch: dict, trainer=None) -> dict[str, torch.Tensor]:
    logits = model(batch["input_ids"], batch["attention_mask"])  # [B, K]
    loss = F.cross_entropy(logits.float(), batch["labels"])
    return {"loss": loss, "acc": (logits.argmax(1) == batch["labels"]).float().mean()}


def selection_score(y: np.ndarray, pred: np.ndarray, positive: int | None) -> float:
    """What the choices maximise on validation: the positive class's F1, or macro F1 without one."""
    from sklearn.metrics import f1_score

    if positive is None:
        return float(f1_score(y, pred, average="macro"))
    return float(f1_score(y, pred, pos_label=positive, average="binary", zero_division=0))


class ValidationScore(Callback):
    """After each epoch: one pass over the validation texts for the loss, accuracy and selection F1 (the
    engine's own validation would need a second pass for the F1)."""

    def __init__(self, val: TextBatches, y: np.ndarray, positive: int | None):
        self.val, self.y, self.positive = val, y, positive

    def scores(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        probs = probabilities(model, self.val, device)
        pred = probs.argmax(1)
        return {"val_loss": float(-np.log(probs[np.arange(len(self.y)), self.y] + 1e-12).mean()),
                "val_acc": float((pred == self.y).mean()), "val_f1": selection_score(self.y, pred, self.positive)}

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        record.update(self.scores(trainer.model, trainer.device))


def fine_tune(cfg: Config, ctx: RunContext, lr: float, n_classes: int, train: TextBatches, val: TextBatches,
              y_val: np.ndarray, positive: int | None) -> tuple[BertClassifier, dict]:
    model, _, _ = build(cfg, n_classes, ctx.seed)
    fused = {"fused": True} if pick_device(cfg.device).type in ("cpu", "cuda") else {}
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=lr, **fused)
    # patience = all epochs: every epoch runs, and the best one on validation is restored at the end
    stopper = EarlyStopping("val_f1", "max", patience=cfg.epochs, restore_best=True)
    scorer = ValidationScore(val, y_val, positive)
    before = scorer.scores(model, pick_device(cfg.device))  # the untrained head: what fine-tuning must beat
    trainer = Trainer(model, optimizer, ctx, epochs=cfg.epochs, step=step, schedule="linear", warmup=cfg.warmup,
                      grad_clip=1.0, device=cfg.device, name=f"finetune-lr{lr:g}", log_every=20,
                      callbacks=[scorer, stopper])
    history = trainer.fit(train)
    return trainer.model, {"lr": lr, "history": history, "best_epoch": stopper.best_epoch,
                           "val_loss_before": before["val_loss"], "val_f1_before": before["val_f1"],
                           "val_f1": stopper.best, "train_time_s": round(trainer.train_time_s, 2),
                           "epochs_run": len(history)}


# ---- speed: fixed vs dynamic padding -------------------------------------------------------------------------

def padding_speed(model: nn.Module, ids: list[list[int]], labels: np.ndarray, batch_size: int, max_length: int,
                  pad_id: int, n_batches: int, seed: int, device: torch.device) -> dict:
    """Seconds of forward + backward over the same n_batches * batch_size texts, padded three ways: every batch
    to `max_length` (fixed), each random batch to its own longest text (dynamic), and regrouped by length
    before padding to each batch's longest (bucketed, what training uses). The variants take turns batch by
    batch so that a busy neighbour slows them alike; the optimizer step (the same for all) is left out."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ids), size=min(len(ids), n_batches * batch_size), replace=False)
    seqs, ys = [ids[i] for i in pick], [int(labels[i]) for i in pick]
    random_batches = [list(range(s, min(s + batch_size, len(seqs)))) for s in range(0, len(seqs), batch_size)]
    bucketed = list(TextBatches(seqs, ys, batch_size=batch_size, pad_id=pad_id, bucket=len(random_batches)).epoch(0))
    variants = {"fixed": [], "dynamic": [], "bucketed": bucketed}
    for rows in random_batches:
        batch = pad_collate([seqs[i] for i in rows], [ys[i] for i in rows], pad_id=pad_id)
        variants["dynamic"].append(batch)
        width = max_length - batch["input_ids"].shape[1]
        variants["fixed"].append({**batch, "input_ids": F.pad(batch["input_ids"], (0, width), value=pad_id),
                                  "attention_mask": F.pad(batch["attention_mask"], (0, width), value=0)})
    seconds = dict.fromkeys(variants, 0.0)
    model.to(device).train()
    for i in range(len(random_batches)):
        for name, batch_list in variants.items():
            batch = {k: v.to(device) for k, v in batch_list[i].items()}
            start = time.perf_counter()
            step(model, batch)["loss"].backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[name] += time.perf_counter() - start
            model.zero_grad(set_to_none=True)
    real = sum(len(s) for s in seqs)
    out = {"texts": len(seqs), "batches": len(random_batches), "real_tokens": real}
    for name, batch_list in variants.items():
        padded = sum(b["input_ids"].numel() for b in batch_list)
        out[name] = {"seconds": round(seconds[name], 3), "padded_tokens": padded,
                     "padding_share": round(1 - real / padded, 4), "real_tokens_per_s": round(real / seconds[name], 1)}
    out["speedup_bucketed_vs_fixed"] = round(seconds["fixed"] / seconds["bucketed"], 3)
    out["speedup_dynamic_vs_fixed"] = round(seconds["fixed"] / seconds["dynamic"], 3)
    return out


# ---- baseline ------------------------------------------------------------------------------------------------

def tfidf_baseline(train: LabelledText, val: LabelledText, test: LabelledText, cfg: Config,
                   positive: int | None) -> tuple[dict, np.ndarray]:
    """TF-IDF (word 1-2-grams, sublinear tf) + logistic regression, C chosen on validation; test probabilities."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train, x_val, x_test = vec.fit_transform(train.texts), vec.transform(val.texts), vec.transform(test.texts)
    scores, fitted = {}, {}
    with threadpool_limits(1):
        for C in cfg.tfidf_C_grid:
            fitted[C] = LogisticRegression(C=C, max_iter=2000).fit(x_train, train.labels)
            scores[C] = selection_score(val.labels, fitted[C].predict(x_val), positive)
    C = max(scores, key=lambda c: (scores[c], -c))
    info = {"tfidf_C": C, "tfidf_val_f1_by_C": {f"{c:g}": s for c, s in scores.items()}}
    return info, fitted[C].predict_proba(x_test)


def test_scores(y: np.ndarray, probs: np.ndarray, positive: int | None, prefix: str) -> dict:
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_recall_fscore_support

    pred = probs.argmax(1)
    out = {f"{prefix}acc": float(accuracy_score(y, pred)), f"{prefix}macro_f1": float(f1_score(y, pred,
                                                                                               average="macro"))}
    if positive is not None:
        p, r, f, _ = precision_recall_fscore_support(y, pred, pos_label=positive, average="binary", zero_division=0)
        ap = average_precision_score(y == positive, probs[:, positive])
        out |= {f"{prefix}precision": float(p), f"{prefix}recall": float(r), f"{prefix}f1": float(f),
                f"{prefix}average_precision": float(ap)}
    return out


# ---- saving and using the trained model ----------------------------------------------------------------------

def save_model(folder: Path, model: BertClassifier, tokenizer, classes: list[str], cfg: Config,
               positive: int | None) -> None:
    """Every weight (safetensors), the encoder's config and the tokenizer, written into a temporary folder and
    renamed into place: an interrupted save leaves no half-written model/."""
    from safetensors.torch import save_model as save_weights

    with atomic_folder(folder) as tmp:
        save_weights(model, str(tmp / "classifier.safetensors"))
        model.encoder.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "classifier.json").write_text(json.dumps(
            {"model": cfg.model, "pooling": cfg.pooling, "max_length": cfg.max_length, "classes": classes,
             "positive": positive, "n_classes": len(classes)}, indent=2) + "\n")


@dataclass
class TrainedClassifier:
    model: BertClassifier
    tokenizer: object
    classes: list[str]
    positive: int | None
    max_length: int

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        ids = tokenize(self.tokenizer, texts, self.max_length)
        data = TextBatches(ids, batch_size=batch_size, pad_id=self.tokenizer.pad_token_id or 0, bucket=4)
        return probabilities(self.model, data, torch.device("cpu"))


def load_trained(run_dir: Path, cfg: Config | None = None) -> TrainedClassifier:
    """The fine-tuned classifier saved by `run` in run_dir/model (no network, no pretrained download)."""
    from safetensors.torch import load_model as load_weights
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = Path(run_dir) / "model"
    if not (folder / "classifier.safetensors").is_file():
        raise UserError(f"{run_dir} has no fine-tuned model (model/classifier.safetensors): was the run finished?")
    meta = json.loads((folder / "classifier.json").read_text())
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(folder))
    model = BertClassifier(encoder, meta["n_classes"], meta["pooling"])
    load_weights(model, str(folder / "classifier.safetensors"))
    return TrainedClassifier(model.eval(), AutoTokenizer.from_pretrained(folder), meta["classes"], meta["positive"],
                             meta["max_length"])


@dataclass
class SampleOptions:
    threshold: float = param(0.5, "two classes: the probability of the positive class (spam) from which a text "
                                  "gets that label", gt=0, lt=1)


def sample(model: TrainedClassifier, inputs: list[str], opts: SampleOptions, out_dir: Path) -> list[dict]:
    """Each text's label and its probability (and every class's probability)."""
    texts = [t for t in inputs if t.strip()]
    if not texts:
        raise UserError("give a text to classify (roadmap sample 3.3.1 \"your message\") or --file with one per line")
    probs = model.predict_proba(texts)
    out = []
    for text, p in zip(texts, probs, strict=True):
        if model.positive is not None and len(model.classes) == 2:
            label = model.positive if p[model.positive] >= opts.threshold else 1 - model.positive
        else:
            label = int(p.argmax())
        out.append({"text": text, "label": model.classes[label], "probability": round(float(p[label]), 4),
                    "probabilities": {c: round(float(v), 4) for c, v in zip(model.classes, p, strict=True)}})
    return out


# ---- the run -------------------------------------------------------------------------------------------------

def run(cfg: Config, ctx: RunContext) -> dict:
    from sklearn.metrics import confusion_matrix

    train, val, test = load_splits(cfg, ctx.seed)
    positive, k = positive_class(train), len(train.classes)
    pos_name = train.classes[positive] if positive is not None else None
    ctx.say(f"{train.source} — {len(train)} train / {len(val)} validation / {len(test)} test texts, classes "
            f"{train.counts()}; model {cfg.model} ({cfg.pooling} pooling), max_length {cfg.max_length}")
    device = pick_device(cfg.device)

    model, tokenizer, source = build(cfg, k, ctx.seed)
    pad_id = tokenizer.pad_token_id or 0
    ids = {name: tokenize(tokenizer, d.texts, cfg.max_length) for name, d in (("train", train), ("val", val),
                                                                                  ("test", test))}
    lengths = np.array([len(s) for s in ids["train"]])
    truncated = float((np.array([len(s) for s in tokenize(tokenizer, train.texts, 512)]) > cfg.max_length).mean())
    data = {"train": batches(ids["train"], train.labels, cfg, pad_id, True, ctx.seed),
            "val": batches(ids["val"], val.labels, cfg, pad_id, False, ctx.seed),
            "test": batches(ids["test"], test.labels, cfg, pad_id, False, ctx.seed)}
    padded_per_epoch = sum(b["input_ids"].numel() for b in data["train"].epoch(0))

    padding = {}
    if cfg.padding_batches:
        padding = padding_speed(model, ids["train"], train.labels, cfg.batch_size, cfg.max_length, pad_id,
                                cfg.padding_batches, ctx.seed, device)
        ctx.say(f"padding, {padding['texts']} texts, forward + backward: fixed {padding['fixed']['seconds']:.1f} s, "
                f"dynamic {padding['dynamic']['seconds']:.1f} s, bucketed {padding['bucketed']['seconds']:.1f} s "
                f"-> bucketed dynamic padding {padding['speedup_bucketed_vs_fixed']:.2f}x faster than fixed")
    del model

    tried = []
    best_model, best = None, None
    for lr in cfg.lr_grid:
        candidate, info = fine_tune(cfg, ctx, lr, k, data["train"], data["val"], val.labels, positive)
        tried.append(info)
        ctx.say(f"lr {lr:g}: best validation F1 {info['val_f1']:.4f} at epoch {info['best_epoch']}")
        if best is None or info["val_f1"] > best["val_f1"]:
            best_model, best = candidate, info
        else:
            del candidate
    train_time = sum(t["train_time_s"] for t in tried)
    epochs_run = sum(t["epochs_run"] for t in tried)

    probs = probabilities(best_model, data["test"], device)  # the one test evaluation
    metrics = test_scores(test.labels, probs, positive, "test_")
    tfidf_info, tfidf_probs = tfidf_baseline(train, val, test, cfg, positive)
    tfidf = test_scores(test.labels, tfidf_probs, positive, "tfidf_test_")
    ctx.say(f"test: {', '.join(f'{n} {v:.4f}' for n, v in metrics.items())}")
    ctx.say(f"TF-IDF + LR (C={tfidf_info['tfidf_C']:g}): {', '.join(f'{n} {v:.4f}' for n, v in tfidf.items())}")
    save_model(ctx.dir / "model", best_model.cpu(), tokenizer, train.classes, cfg, positive)

    matrix = confusion_matrix(test.labels, probs.argmax(1), labels=range(k))
    plots(ctx, test, probs, tfidf_probs, matrix, positive, tried, best, padding)
    wrong = np.flatnonzero(probs.argmax(1) != test.labels)
    worst = wrong[np.argsort(-probs[wrong].max(1))][:8]
    mistakes = [{"text": test.texts[i][:300], "true": test.classes[test.labels[i]],
                 "predicted": test.classes[probs[i].argmax()], "probability": round(float(probs[i].max()), 4)}
                for i in worst]
    examples = [{"text": test.texts[i], "probabilities": [round(float(v), 6) for v in probs[i]]}
                for i in np.random.default_rng(ctx.seed).choice(len(test), min(5, len(test)), replace=False)]

    headline = {}
    if pos_name is not None:
        headline = {f"{pos_name}_f1": metrics["test_f1"], f"{pos_name}_precision": metrics["test_precision"],
                    f"{pos_name}_recall": metrics["test_recall"]}
    out = {**headline, **metrics, **tfidf, **tfidf_info,
           "positive_class": pos_name, "chosen_lr": best["lr"], "chosen_epoch": best["best_epoch"],
           "val_f1": best["val_f1"], "grid": [{k2: v for k2, v in t.items() if k2 != "history"} for t in tried],
           "history": {f"{t['lr']:g}": t["history"] for t in tried},
           "confusion_matrix": matrix.tolist(), "classes": train.classes, "n_train": len(train), "n_val": len(val),
           "n_test": len(test), "data_source": train.source, "model": cfg.model, "model_source": source,
           "parameters": sum(p.numel() for p in best_model.parameters()),
           "train_time_s": round(train_time, 2), "epochs_trained": epochs_run,
           "train_tokens_per_epoch": int(lengths.sum()), "train_padded_tokens_per_epoch": int(padded_per_epoch),
           "train_tokens_per_s": round(lengths.sum() * epochs_run / train_time, 1),
           "train_padded_tokens_per_s": round(padded_per_epoch * epochs_run / train_time, 1),
           "mean_train_tokens": round(float(lengths.mean()), 2), "truncated_share": round(truncated, 4),
           "padding": padding, "padding_speedup": padding.get("speedup_bucketed_vs_fixed"),
           "most_confident_mistakes": mistakes, "examples": examples,
           "protocol": f"stratified seeded split {len(train)}/{len(val)}/{len(test)}; epoch (early stopping, "
                       f"{cfg.epochs} max) and lr (of {list(cfg.lr_grid)}) chosen on validation "
                       f"{'F1 of ' + pos_name if pos_name else 'macro F1'}; test scored once"}
    write_report(ctx, cfg, out, train, tfidf_info)
    return out


def plots(ctx: RunContext, test: LabelledText, probs: np.ndarray, tfidf_probs: np.ndarray, matrix: np.ndarray,
          positive: int | None, tried: list[dict], best: dict, padding: dict) -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    confusion_matrix_plot(ctx.plots / "confusion_matrix.png", matrix, test.classes,
                          f"fine-tuned encoder, test acc {(probs.argmax(1) == test.labels).mean():.4f}")
    if positive is not None:
        fig, ax = new_figure(size=(5.2, 4.2))
        for name, p in (("fine-tuned encoder", probs), ("TF-IDF + LR", tfidf_probs)):
            prec, rec, _ = precision_recall_curve(test.labels == positive, p[:, positive])
            ap = average_precision_score(test.labels == positive, p[:, positive])
            ax.plot(rec, prec, label=f"{name} (AP {ap:.3f})")
        ax.set(xlabel=f"recall ({test.classes[positive]})", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01),
               title=f"precision-recall on the {len(test)} test texts")
        ax.legend(loc="lower left")
        save(fig, ctx.plots / "precision_recall.png")
    series = {}
    for t in tried:
        series[f"lr {t['lr']:g} train loss"] = [h["train_loss"] for h in t["history"]]
        series[f"lr {t['lr']:g} val loss"] = [h["val_loss"] for h in t["history"]]
        series[f"lr {t['lr']:g} val F1"] = [h["val_f1"] for h in t["history"]]
    curves(ctx.plots / "training_curves.png", series, ylabel="loss / F1",
           title=f"fine-tuning (chosen: lr {best['lr']:g}, epoch {best['best_epoch']})")
    if padding:
        names = ["fixed", "dynamic", "bucketed"]
        fig, ax = new_figure(size=(5.2, 3.4))
        bars = ax.bar([f"{n}\n{padding[n]['padding_share']:.0%} padding" for n in names],
                      [padding[n]["real_tokens_per_s"] for n in names], color=["#9bb0d3", "#6f8fc4", "#2d4f8a"])
        ax.bar_label(bars, labels=[f"{padding['fixed']['seconds'] / padding[n]['seconds']:.2f}x" for n in names])
        ax.set(ylabel="real tokens / s (forward + backward)",
               title=f"padding, same {padding['texts']} texts, {padding['batches']} batches")
        save(fig, ctx.plots / "padding_speed.png")


def write_report(ctx: RunContext, cfg: Config, m: dict, train: LabelledText, tfidf_info: dict) -> None:
    import pandas as pd

    pos = m["positive_class"]
    report = Report(f"Fine-tuning {cfg.model} — {m['data_source']}")
    report.text(f"{m['protocol']}. Encoder from {m['model_source']}, {m['parameters']:,} parameters, all trained; "
                f"{cfg.pooling} pooling, max_length {cfg.max_length} ({m['truncated_share']:.1%} of training texts "
                f"truncated). Classes: {train.counts()} in the training split.")
    keys = ["acc", "macro_f1"] + (["precision", "recall", "f1", "average_precision"] if pos else [])
    table = pd.DataFrame({"fine-tuned encoder": [m[f"test_{k}"] for k in keys],
                          f"TF-IDF + LR (C={tfidf_info['tfidf_C']:g})": [m[f"tfidf_test_{k}"] for k in keys]},
                         index=[f"{k} ({pos})" if k in ("precision", "recall", "f1", "average_precision") else k
                                for k in keys]).rename_axis("test metric")
    report.heading("Test split (evaluated once)").table(table, ".4f").image(ctx.plots / "confusion_matrix.png")
    if pos:
        report.image(ctx.plots / "precision_recall.png")
    report.heading("Choices on the validation split").table(pd.DataFrame(m["grid"]), ".4f", index=False).image(
        ctx.plots / "training_curves.png")
    report.heading("Speed").text(
        f"Training: {m['train_tokens_per_s']:.0f} real tokens/s ({m['train_padded_tokens_per_s']:.0f} with padding) "
        f"over {m['epochs_trained']} epochs, {m['train_time_s']:.0f} s (machine shared with other jobs: compare "
        f"times within this run only).")
    if m["padding"]:
        p = m["padding"]
        report.text(f"Forward + backward over the same {p['texts']} training texts: padded to max_length "
                    f"{p['fixed']['seconds']:.2f} s, dynamic padding {p['dynamic']['seconds']:.2f} s, length-bucketed "
                    f"dynamic padding {p['bucketed']['seconds']:.2f} s: {p['speedup_bucketed_vs_fixed']:.2f}x faster "
                    f"than fixed.").image(ctx.plots / "padding_speed.png")
    if m["most_confident_mistakes"]:
        report.heading("Most confident mistakes on the test split").table(
            pd.DataFrame(m["most_confident_mistakes"]), ".3f", index=False)
    report.write(ctx.dir)


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    pos = m.get("positive_class")
    head = (f"{pos} P/R/F1 {m['test_precision']:.3f}/{m['test_recall']:.3f}/{m['test_f1']:.3f}, " if pos else
            f"macro F1 {m['test_macro_f1']:.3f}, ")
    return (f"{head}acc {m['test_acc']:.4f} (TF-IDF+LR F1 {m.get('tfidf_test_f1', m['tfidf_test_macro_f1']):.3f}); "
            f"lr {m['chosen_lr']:g}, epoch {m['chosen_epoch']} on val; {m['train_tokens_per_s']:.0f} tok/s, "
            f"bucketed padding {m['padding_speedup'] or float('nan'):.2f}x vs fixed")
