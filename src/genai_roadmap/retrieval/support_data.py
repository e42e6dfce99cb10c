"""Customer-support data (the `customer_support` dataset): a bank's FAQ as question/answer pairs, and two
intent-labelled utterance sets — Banking77 (77 intents, its own 10,003 train / 3,080 test split) and Bitext's
customer-support sample (27 intents, no split: one is drawn here, seeded and stratified).

    faq = load_bank_faqs()                      # DataFrame question, answer, category (1,778 rows)
    train, test = load_banking77()              # LabelledText each, classes in categories.json order
    train, test = load_bitext(test_size=0.2, seed=0)
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..data.splits import stratified_order, stratified_split
from ..data.store import resolve_file
from ..data.text import LabelledText
from ..errors import UserError

INTENT_SETS = ("banking77", "bitext")


def load_bank_faqs() -> pd.DataFrame:
    """The bank FAQ: columns question, answer, category (5 rows have no category: kept, as 'unknown').
    Whitespace is collapsed; several questions share an answer and a few questions have two answers."""
    df = pd.read_csv(resolve_file("customer_support", "BankFAQs.csv"))
    out = pd.DataFrame({"question": df["Question"].astype(str), "answer": df["Answer"].astype(str),
                        "category": df["Class"].fillna("unknown").astype(str)})
    for col in ("question", "answer"):
        out[col] = out[col].str.split().str.join(" ")
    return out


def load_banking77() -> tuple[LabelledText, LabelledText]:
    """(train, test) as published (10,003 / 3,080 utterances); label i is categories.json's i-th intent."""
    classes = json.loads(resolve_file("customer_support", "banking77/categories.json").read_text())
    parts = []
    for split in ("train", "test"):
        df = pd.read_csv(resolve_file("customer_support", f"banking77/{split}.csv"))
        unknown = sorted(set(df["category"]) - set(classes))
        if unknown:
            raise UserError(f"banking77/{split}.csv has intents missing from categories.json: {unknown[:3]}")
        labels = np.array([classes.index(c) for c in df["category"]], dtype=np.int64)
        parts.append(LabelledText(df["text"].astype(str).tolist(), labels, list(classes),
                                  f"customer_support:banking77/{split}.csv"))
    return parts[0], parts[1]


def load_bitext(test_size: float = 0.2, seed: int = 0, rows: int = 0) -> tuple[LabelledText, LabelledText]:
    """(train, test): Bitext's 21,534 utterances with their 27 intents (or a stratified random subset of `rows`),
    split stratified by intent."""
    df = pd.read_csv(resolve_file("customer_support", "bitext_20k_utterances_intents.csv"), encoding="utf-8-sig")
    classes = sorted(df["intent"].unique())
    labels = np.array([classes.index(c) for c in df["intent"]], dtype=np.int64)
    data = LabelledText(df["utterance"].astype(str).tolist(), labels, classes,
                        "customer_support:bitext_20k_utterances_intents.csv")
    if rows and rows < len(data):
        data = data.subset(np.sort(stratified_order(labels, seed)[:rows]))
    rest, held = stratified_split(data.labels, int(round(test_size * len(data))), seed)
    return data.subset(np.sort(rest)), data.subset(held)


def load_intents(name: str, seed: int = 0, bitext_rows: int = 0) -> tuple[LabelledText, LabelledText]:
    if name == "banking77":
        return load_banking77()
    if name == "bitext":
        return load_bitext(seed=seed, rows=bitext_rows)
    raise UserError(f"unknown intent set {name!r}; choose one of {', '.join(INTENT_SETS)}")
