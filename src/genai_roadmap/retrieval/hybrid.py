"""Hybrid retrieval: BM25 and a dense retriever fused into one ranking, and an optional re-ranking step.

- Reciprocal-rank fusion (Cormack et al. 2009): score(d) = sum over retrievers of 1 / (c + rank(d)), c = 60,
  over each retriever's top `depth` candidates. Needs no score calibration and no tuning.
- Weighted scores: each retriever's scores min-max normalised over its own top `depth` for that query, then
  alpha * dense + (1 - alpha) * bm25 (a passage missing from one list gets 0 there). `alpha` should be chosen
  on validation questions (`choose_alpha`), never on the questions it is scored on.
- `CrossEncoderReranker`: a cross-encoder (question and passage read together, e.g.
  `cross-encoder/ms-marco-MiniLM-L-6-v2`) re-scores the fused top candidates. No cross-encoder ships offline
  here: the model resolves through hub.py by name when online, and offline hub's UserError says so.
"""

from __future__ import annotations

import numpy as np

from .retrievers import Retriever

RRF_C = 60


def rrf_fuse(rankings: list[np.ndarray], k: int, c: int = RRF_C) -> tuple[np.ndarray, np.ndarray]:
    """Fuse (queries, depth) index arrays (-1 = no passage) by reciprocal rank; (indices, scores) top k."""
    n = len(rankings[0])
    out_idx = np.full((n, k), -1, dtype=np.int64)
    out_val = np.zeros((n, k), dtype=np.float32)
    for q in range(n):
        fused: dict[int, float] = {}
        for ranking in rankings:
            for r, d in enumerate(ranking[q]):
                if d >= 0:
                    fused[int(d)] = fused.get(int(d), 0.0) + 1.0 / (c + r + 1)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        out_idx[q, :len(best)] = [d for d, _ in best]
        out_val[q, :len(best)] = [s for _, s in best]
    return out_idx, out_val


def _minmax(scores: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(scores), scores, np.nan)
    lo, hi = np.nanmin(finite, axis=1, keepdims=True), np.nanmax(finite, axis=1, keepdims=True)
    return np.nan_to_num((finite - lo) / np.where(hi > lo, hi - lo, 1.0), nan=0.0)


def weighted_fuse(sparse: tuple[np.ndarray, np.ndarray], dense: tuple[np.ndarray, np.ndarray], alpha: float,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """alpha * normalised dense + (1 - alpha) * normalised BM25 over the union of both candidate lists."""
    (s_idx, s_val), (d_idx, d_val) = sparse, dense
    s_norm, d_norm = _minmax(s_val), _minmax(d_val)
    n = len(s_idx)
    out_idx = np.full((n, k), -1, dtype=np.int64)
    out_val = np.zeros((n, k), dtype=np.float32)
    for q in range(n):
        fused: dict[int, float] = {}
        for idx, val, w in ((s_idx[q], s_norm[q], 1 - alpha), (d_idx[q], d_norm[q], alpha)):
            for d, v in zip(idx, val, strict=True):
                if d >= 0:
                    fused[int(d)] = fused.get(int(d), 0.0) + w * float(v)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        out_idx[q, :len(best)] = [d for d, _ in best]
        out_val[q, :len(best)] = [s for _, s in best]
    return out_idx, out_val


class HybridRetriever(Retriever):
    """BM25 + dense, fused by "rrf" or "weighted" (alpha = weight of the dense scores)."""

    def __init__(self, sparse: Retriever, dense: Retriever, method: str = "rrf", alpha: float = 0.5,
                 depth: int = 100, reranker=None, rerank_depth: int = 20) -> None:
        if method not in ("rrf", "weighted"):
            raise ValueError(f"fusion method must be 'rrf' or 'weighted', not {method!r}")
        self.sparse, self.dense, self.method, self.alpha, self.depth = sparse, dense, method, alpha, depth
        self.corpus, self.name = sparse.corpus, f"hybrid-{method}"
        self.reranker, self.rerank_depth = reranker, rerank_depth

    def search(self, queries, k):
        queries = list(queries)
        depth = max(k, self.depth)
        return self.fuse(self.sparse.search(queries, depth), self.dense.search(queries, depth), k, queries)

    def fuse(self, sparse, dense, k, queries=None):
        """Fuse precomputed (indices, scores) of both retrievers: evaluation searches once and fuses many ways."""
        if self.method == "rrf":
            idx, val = rrf_fuse([sparse[0], dense[0]], max(k, self.rerank_depth if self.reranker else k))
        else:
            idx, val = weighted_fuse(sparse, dense, self.alpha, max(k, self.rerank_depth if self.reranker else k))
        if self.reranker is not None and queries is not None:
            idx, val = self.reranker.rerank(queries, idx[:, :self.rerank_depth], self.corpus)
        return idx[:, :k], val[:, :k]


def choose_alpha(sparse, dense, score_fn, grid=tuple(np.round(np.linspace(0, 1, 11), 2)), k: int = 20
                 ) -> tuple[float, dict[float, float]]:
    """The alpha of `weighted_fuse` that maximises score_fn(indices) on validation questions (ties: the
    smaller alpha); returns (alpha, {alpha: score})."""
    table = {float(a): float(score_fn(weighted_fuse(sparse, dense, float(a), k)[0])) for a in grid}
    best = max(table.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return best, table


class CrossEncoderReranker:
    """Re-scores (question, passage) pairs with a sequence-classification cross-encoder, by hub name."""

    def __init__(self, name: str = "cross-encoder/ms-marco-MiniLM-L-6-v2", max_length: int = 320) -> None:
        from .. import hub

        self.name, self.max_length = name, max_length
        self.model, self.source = hub.load_language_model(name, task="sequence-classification")
        self.model.eval()
        self.tokenizer = hub.load_tokenizer(name)

    def rerank(self, queries: list[str], idx: np.ndarray, corpus) -> tuple[np.ndarray, np.ndarray]:
        import torch

        out_idx, out_val = np.full_like(idx, -1), np.zeros(idx.shape, dtype=np.float32)
        with torch.inference_mode():
            for q, (question, row) in enumerate(zip(queries, idx, strict=True)):
                cand = [int(d) for d in row if d >= 0]
                if not cand:
                    continue
                batch = self.tokenizer([question] * len(cand), [corpus.texts[d] for d in cand], padding=True,
                                       truncation=True, max_length=self.max_length, return_tensors="pt")
                logits = self.model(**batch).logits
                score = (logits[:, -1] if logits.shape[-1] > 1 else logits[:, 0]).float().numpy()
                order = np.argsort(-score, kind="stable")
                out_idx[q, :len(cand)] = np.array(cand)[order]
                out_val[q, :len(cand)] = score[order]
        return out_idx, out_val
