"""Question-answering metrics, each with the protocol it follows.

- `exact_match`, `f1`: the official SQuAD v1.1 evaluation script (evaluate-v1.1.py): answers are normalised
  (lowercase, punctuation removed, the articles a/an/the removed, whitespace collapsed), EM is equality and F1
  the bag-of-tokens overlap; each is the maximum over the gold answers. As in v1.1, an empty prediction scores 0.
- `has_answer` / `answer_recall_at_k`: DPR's retrieval protocol (Karpukhin et al. 2020): a retrieved passage
  counts if it contains a gold answer string; here the containment is checked on SQuAD-normalised token
  sequences (so "the Broncos." matches "... Denver Broncos defeated ...", and "art" does not match "party").
- `gold_recall_at_k`, `mrr`: against the passage(s) known to hold the answer (SQuAD's own paragraph).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PROTOCOLS = {
    "em_f1": "SQuAD v1.1 official normalisation (lower, no punctuation, no a/an/the, single spaces); max over "
             "gold answers; percentages",
    "answer_recall": "DPR top-k answer recall: share of questions with a gold answer string (SQuAD-normalised "
                     "token sequence) in at least one of the top-k passages",
    "gold_recall": "share of questions whose gold passage (the piece of the SQuAD paragraph holding the answer) "
                   "is in the top k",
    "mrr": "mean reciprocal rank of the gold passage within the top k (0 when absent)",
}

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """The official SQuAD v1.1 normalisation, step for step."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match(prediction: str, gold_answers: Iterable[str]) -> float:
    norm = normalize_answer(prediction)
    return float(max((norm == normalize_answer(g) for g in gold_answers), default=False))


def _f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, gold_answers: Iterable[str]) -> float:
    return max((_f1(prediction, g) for g in gold_answers), default=0.0)


def squad_scores(predictions: Sequence[str], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    """{"em": %, "f1": %, "n": count} over paired predictions and gold-answer lists, as the official script."""
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} questions")
    em = [exact_match(p, g) for p, g in zip(predictions, gold, strict=True)]
    f = [f1(p, g) for p, g in zip(predictions, gold, strict=True)]
    n = len(em)
    return {"em": 100 * float(np.mean(em)) if n else 0.0, "f1": 100 * float(np.mean(f)) if n else 0.0, "n": n}


# --- retrieval ----------------------------------------------------------------------------------------------

def normalized_passage(text: str) -> str:
    """A passage as " tok tok ... " (SQuAD-normalised): token-sequence containment becomes a substring test."""
    return f" {normalize_answer(text)} "


def has_answer(normalized_text: str, answers: Iterable[str]) -> bool:
    """True if any answer occurs as a whole token sequence in a passage made by `normalized_passage`."""
    return any((a := normalize_answer(ans)) and f" {a} " in normalized_text for ans in answers)


def answer_hits(ranked: np.ndarray, normalized_texts: Sequence[str], answers: Sequence[Sequence[str]]) -> np.ndarray:
    """(n_questions, k) bool: does the passage at each rank (-1 = none) hold one of that question's answers."""
    out = np.zeros(ranked.shape, dtype=bool)
    for r, (row, ans) in enumerate(zip(ranked, answers, strict=True)):
        needles = [f" {a} " for a in {normalize_answer(x) for x in ans} if a]  # normalised once per question
        for c, j in enumerate(row):
            if j >= 0:
                out[r, c] = any(n in normalized_texts[j] for n in needles)
    return out


def recall_at(hits: np.ndarray, ks: Iterable[int]) -> dict[int, float]:
    """Share of rows with a hit within the first k columns, for each k (k beyond the width uses all columns)."""
    return {k: float(hits[:, :k].any(axis=1).mean()) if len(hits) else 0.0 for k in ks}


def answer_recall_at_k(ranked: np.ndarray, normalized_texts: Sequence[str], answers: Sequence[Sequence[str]],
                       ks: Iterable[int] = (1, 5, 20, 100)) -> dict[int, float]:
    return recall_at(answer_hits(ranked, normalized_texts, answers), ks)


def gold_hits(ranked: np.ndarray, gold: Sequence[set[int]]) -> np.ndarray:
    return np.array([[j in g for j in row] for row, g in zip(ranked, gold, strict=True)],
                    dtype=bool).reshape(ranked.shape)


def gold_recall_at_k(ranked: np.ndarray, gold: Sequence[set[int]], ks: Iterable[int] = (1, 5, 20, 100)
                     ) -> dict[int, float]:
    return recall_at(gold_hits(ranked, gold), ks)


def mrr(hits: np.ndarray) -> float:
    """Mean of 1/rank of the first hit per row (0 without one)."""
    if not len(hits):
        return 0.0
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    return float(np.mean(1.0 / first))
