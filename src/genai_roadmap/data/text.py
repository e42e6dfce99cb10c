"""Text datasets, read straight from the registered archives (no unpacking to disk).

Labelled sets come back as a `LabelledText` (texts, integer labels, class names) in a seeded random order —
never grouped by class, so "the first n" of it is not one class. Corpora come back as plain text (tiny-
shakespeare, Gutenberg books, Wikipedia) or as pairs (fra-eng). Parsing the 50k IMDB files takes a few
seconds, so the parsed reviews are cached as JSON beside the dataset cache.

A user's own CSV works wherever a project classifies text: `load_text_classification(csv=PATH, text_col=...,
label_col=...)`; a missing column or an empty file is one UserError.
"""

from __future__ import annotations

import gzip
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import io
from ..errors import UserError
from .store import cache_dir, resolve_file, resolve_variant

TEXT_CLASSIFICATION = ("bbc_news", "sms_spam", "imdb")


@dataclass
class LabelledText:
    """Texts with integer labels; `classes[label]` is the class name."""

    texts: list[str]
    labels: np.ndarray  # (n,) int64
    classes: list[str]
    source: str  # what was loaded, for run logs: "bbc_news:bbc-fulltext.tar.gz", "csv:reviews.csv"

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> LabelledText:
        index = np.asarray(index)
        return LabelledText([self.texts[i] for i in index], self.labels[index], self.classes, self.source)

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def _decode(raw: bytes) -> str:
    # One BBC article and one Gutenberg play are Latin-1, the rest UTF-8 / ASCII.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _labelled(texts: list[str], names: list[str], source: str, seed: int) -> LabelledText:
    classes = sorted(set(names))
    labels = np.array([classes.index(n) for n in names], dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(texts))
    return LabelledText([texts[i] for i in order], labels[order], classes, source)


def load_bbc_news(seed: int = 0) -> LabelledText:
    """2,225 BBC articles in 5 classes (business, entertainment, politics, sport, tech); the first line of
    each article is its headline."""
    path = resolve_file("bbc_news", "bbc-fulltext.tar.gz")
    texts, names = [], []
    with tarfile.open(path) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[2].endswith(".txt"):
                texts.append(_decode(tar.extractfile(member).read()).strip())
                names.append(parts[1])
    return _labelled(texts, names, f"bbc_news:{path.name}", seed)


def load_sms_spam(seed: int = 0) -> LabelledText:
    """5,574 SMS messages, ham or spam (747)."""
    path = resolve_file("sms_spam", "SMSSpamCollection")
    texts, names = [], []
    for line in _decode(path.read_bytes()).splitlines():
        if line.strip():
            label, _, text = line.partition("\t")
            names.append(label)
            texts.append(text)
    return _labelled(texts, names, f"sms_spam:{path.name}", seed)


def _imdb_reviews() -> dict[str, dict[str, list[str]]]:
    """{"train"|"test": {"neg"|"pos": [review, ...]}} in archive order, parsed once and cached."""
    variant, paths = resolve_variant("imdb")
    archive = next(iter(paths.values()))
    cached = cache_dir() / "imdb" / f"parsed-{variant.name}-v1.json.gz"
    if cached.is_file():
        return json.loads(gzip.decompress(cached.read_bytes()))
    reviews: dict[str, dict[str, list[str]]] = {"train": {"neg": [], "pos": []}, "test": {"neg": [], "pos": []}}
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")  # aclImdb/<split>/<neg|pos>/<id>_<stars>.txt
            if member.isfile() and len(parts) == 4 and parts[1] in reviews and parts[2] in ("neg", "pos"):
                text = _decode(tar.extractfile(member).read()).replace("<br />", " ")
                reviews[parts[1]][parts[2]].append(text)
    io.write_with(cached, lambda tmp: tmp.write_bytes(gzip.compress(json.dumps(reviews).encode(), 1)))
    return reviews


def load_imdb(split: str = "train", seed: int = 0) -> LabelledText:
    """The 25k train or 25k test reviews of the Large Movie Review Dataset (12.5k neg / 12.5k pos each);
    the "<br />" line breaks of the raw files become spaces."""
    if split not in ("train", "test"):
        raise UserError(f"IMDB split must be 'train' or 'test', not {split!r}")
    by_class = _imdb_reviews()[split]
    texts = by_class["neg"] + by_class["pos"]
    names = ["neg"] * len(by_class["neg"]) + ["pos"] * len(by_class["pos"])
    return _labelled(texts, names, f"imdb:{split}", seed)


def load_text_csv(path: str | Path, text_col: str = "text", label_col: str = "label",
                  seed: int = 0) -> LabelledText:
    """A user's CSV with a text column and a label column (any label values: they become classes)."""
    from .tabular import read_user_csv

    df = read_user_csv(path)
    missing = [c for c in (text_col, label_col) if c not in df.columns]
    if missing:
        raise UserError(f"{Path(path).name} has no column {missing[0]!r} (set text_col=... label_col=...); "
                        f"its columns: {', '.join(map(str, df.columns))}")
    df = df.dropna(subset=[text_col, label_col])
    df = df[df[text_col].astype(str).str.strip() != ""]
    if df.empty:
        raise UserError(f"{Path(path).name} has no rows with both a {text_col!r} text and a {label_col!r} label")
    names = df[label_col].astype(str).tolist()
    if len(set(names)) < 2:
        raise UserError(f"column {label_col!r} of {Path(path).name} has one class ({names[0]!r}); "
                        "a classifier needs at least two")
    return _labelled(df[text_col].astype(str).tolist(), names, f"csv:{Path(path).name}", seed)


def load_text_classification(dataset: str = "bbc_news", csv: str = "", text_col: str = "text",
                             label_col: str = "label", seed: int = 0, split: str = "train") -> LabelledText:
    """The one entry point of the text classifiers: a registered dataset by name, or the user's CSV."""
    if csv:
        return load_text_csv(csv, text_col, label_col, seed)
    if dataset == "bbc_news":
        return load_bbc_news(seed)
    if dataset == "sms_spam":
        return load_sms_spam(seed)
    if dataset == "imdb":
        return load_imdb(split, seed)
    raise UserError(f"unknown text classification dataset {dataset!r}; choose one of "
                    f"{', '.join(TEXT_CLASSIFICATION)} or give csv=PATH")


def load_tiny_shakespeare() -> str:
    """The 1,115,394-character char-rnn corpus as one string."""
    return resolve_file("tiny_shakespeare", "input.txt").read_text(encoding="utf-8")


def load_gutenberg_books() -> dict[str, str]:
    """The 13 books of NLTK's Gutenberg selection: {"austen-emma": text, ...} (line ends normalised)."""
    path = resolve_file("gutenberg_books", "nltk_gutenberg_selection.tar.gz")
    books = {}
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".txt"):
                text = _decode(tar.extractfile(member).read()).replace("\r\n", "\n")
                books[Path(member.name).stem] = text
    return dict(sorted(books.items()))


def load_fra_eng(seed: int | None = 0) -> pd.DataFrame:
    """English–French sentence pairs (columns `en`, `fr`). The file is sorted by length; `seed` shuffles it
    (None keeps the file's order)."""
    path = resolve_file("fra_eng", "fra-eng.zip")
    with zipfile.ZipFile(path) as zf:
        lines = zf.read("fra-eng/fra.txt").decode("utf-8").splitlines()
    pairs = [line.split("\t")[:2] for line in lines if line.count("\t") >= 1]
    df = pd.DataFrame(pairs, columns=["en", "fr"])
    if seed is not None:
        df = df.iloc[np.random.default_rng(seed).permutation(len(df))].reset_index(drop=True)
    return df


_DOC = re.compile(r'<doc id="(\d+)" url="[^"]*" title="([^"]*)">\n(.*?)</doc>', re.S)


def load_wikipedia_passages(min_words: int = 20) -> pd.DataFrame:
    """Wikipedia paragraphs with their article: columns `doc_id`, `title`, `paragraph` (one row per paragraph
    of at least `min_words` words; headings and stubs drop out), in dump order."""
    path = resolve_file("wikipedia_passages", "wikipedia_passages.tar.gz")
    rows = []
    with tarfile.open(path) as tar:
        for member in sorted((m for m in tar if m.isfile()), key=lambda m: m.name):
            dump = member.name.split("/")[1]  # two dumps reuse article ids: keep them apart
            for doc_id, title, body in _DOC.findall(_decode(tar.extractfile(member).read())):
                lines = body.split("\n")[1:]  # the first line repeats the title
                rows += [(f"{dump}:{doc_id}", title, p.strip()) for p in lines if len(p.split()) >= min_words]
    return pd.DataFrame(rows, columns=["doc_id", "title", "paragraph"])


def wikipedia_corpus(min_words: int = 20) -> str:
    """The Wikipedia paragraphs as one plain-text corpus, one paragraph per line."""
    return "\n".join(load_wikipedia_passages(min_words)["paragraph"])
