"""Metrics computed over a whole corpus of predictions, through the kept libraries (sacreBLEU, rouge-score,
seqeval). Each takes the collected predictions and references once — hand them to the engine's corpus-level
evaluation as `CorpusMetric(predict, score)` (genai_roadmap.train) — and returns {name: value}."""

from .text import bleu, chrf, rouge, span_f1

__all__ = ["bleu", "chrf", "rouge", "span_f1"]
