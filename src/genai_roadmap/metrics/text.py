"""Text metrics as thin adapters over the reference implementations, so numbers match published ones:

- `bleu`, `chrf`: sacreBLEU (Post 2018) on detokenised strings, its default 13a tokenisation; corpus-level,
  not an average of sentence scores. One reference per hypothesis, or several (a list per hypothesis).
- `rouge`: rouge-score (Google's re-implementation of Lin 2004) F-measures of ROUGE-1, ROUGE-2 and ROUGE-Lsum
  (summary-level LCS over newline-separated sentences, the CNN/DailyMail convention), averaged over pairs.
- `span_f1`: seqeval's entity-level micro precision / recall / F1 over IOB tag sequences (CoNLL-2003), where a
  span counts only if its type and both boundaries are right.

Every score is on a 0-100 scale for BLEU / chrF (as sacreBLEU prints them) and 0-1 for ROUGE and span F1.
"""

from __future__ import annotations

from collections.abc import Sequence


def _references(refs: Sequence[str] | Sequence[Sequence[str]], n: int) -> list[list[str | None]]:
    """sacreBLEU wants one list per reference *set*: transpose per-hypothesis reference lists, padding the shorter
    ones with None (sacreBLEU skips those: a sentence may have fewer references than another)."""
    if len(refs) != n:
        raise ValueError(f"{n} hypotheses but {len(refs)} references")
    if all(isinstance(r, str) for r in refs):
        return [list(refs)]
    if any(isinstance(r, str) or not r for r in refs):
        raise ValueError("give one string per hypothesis, or a non-empty list of references for each")
    width = max(len(r) for r in refs)
    return [[r[i] if i < len(r) else None for r in refs] for i in range(width)]


def bleu(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU (sacreBLEU, 13a tokenisation, 0-100)."""
    from sacrebleu.metrics import BLEU

    score = BLEU().corpus_score(list(hypotheses), _references(references, len(hypotheses)))
    return {"bleu": float(score.score)}


def chrf(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus chrF (sacreBLEU's character n-gram F-score, 0-100)."""
    from sacrebleu.metrics import CHRF

    score = CHRF().corpus_score(list(hypotheses), _references(references, len(hypotheses)))
    return {"chrf": float(score.score)}


def rouge(predictions: Sequence[str], references: Sequence[str], stemmer: bool = True) -> dict[str, float]:
    """Mean F-measure of ROUGE-1, ROUGE-2 and ROUGE-Lsum over pairs (0-1). Sentences of a summary are
    separated by newlines for ROUGE-Lsum."""
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("rouge needs at least one prediction")
    keys = ("rouge1", "rouge2", "rougeLsum")
    scorer = rouge_scorer.RougeScorer(list(keys), use_stemmer=stemmer)
    totals = dict.fromkeys(keys, 0.0)
    for pred, ref in zip(predictions, references, strict=True):
        for k, s in scorer.score(ref, pred).items():  # score(target, prediction)
            totals[k] += s.fmeasure
    return {k: v / len(predictions) for k, v in totals.items()}


def span_f1(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level micro precision, recall and F1 over IOB tag sequences (seqeval, CoNLL scheme)."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true sequences but {len(pred_tags)} predicted")
    for i, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"sequence {i}: {len(t)} true tags but {len(p)} predicted")
    y_true, y_pred = [list(t) for t in true_tags], [list(p) for p in pred_tags]
    return {"span_precision": float(precision_score(y_true, y_pred)),
            "span_recall": float(recall_score(y_true, y_pred)), "span_f1": float(f1_score(y_true, y_pred))}
