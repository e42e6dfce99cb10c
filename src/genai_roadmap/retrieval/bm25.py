"""BM25, written out: tokenise, count, weigh once, score every query with one sparse matrix product.

For a document d and query q (query words counted with their repeats, as Lucene and bm25s do):

    score(d, q) = sum_t  count(t, q) * idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))      (Lucene's idf: never negative)

Everything that depends only on the corpus is computed at index time into one sparse matrix W (documents x
terms), so scoring a batch of queries is W @ Q (Q = terms x queries counts) followed by a top-k per column —
vectorised in SciPy, no Python loop over documents. `bm25s` (Lucene variant) computes the same weights
without the constant (k1 + 1) factor: the ranking is identical and its scores are ours / (k1 + 1)
(tests/test_retrieval_bm25.py checks both on real passages).

Tokenisation: genai_roadmap.text.tokenize.words (lowercase word tokens), scikit-learn's English stop words
removed and Porter stems by default — what Lucene's English analyzer (DPR's BM25 baseline) does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .. import io


class Analyzer:
    """Text -> BM25 terms: lowercase words, optionally without English stop words, optionally Porter-stemmed."""

    def __init__(self, stop_words: bool = True, stem: bool = True) -> None:
        self.stop_words, self.stem = stop_words, stem

    def __call__(self, text: str) -> list[str]:
        from ..text.preprocess import stemmer, stop_words
        from ..text.tokenize import words

        tokens = words(text)
        if self.stop_words:
            stops = stop_words()
            tokens = [t for t in tokens if t not in stops]
        if self.stem:
            stem = stemmer("porter")  # memoised per word
            tokens = [stem(t) for t in tokens]
        return tokens

    def settings(self) -> dict:
        return {"stop_words": self.stop_words, "stem": "porter" if self.stem else None}


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top k of a (queries, docs) score matrix: (indices, scores), best first; ties go to the lower
    index, so the result does not depend on the partition algorithm."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
        np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(scores, idx, axis=1)


class BM25:
    """fit(texts) then search(queries, k). `weights` is the documents x terms matrix described above."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, analyzer: Analyzer | None = None) -> None:
        self.k1, self.b = k1, b
        self.analyzer = analyzer or Analyzer()
        self.vocab: dict[str, int] = {}
        self.weights: sp.csr_matrix | None = None
        self.idf: np.ndarray | None = None

    # --- index ---
    def fit(self, texts: list[str]) -> BM25:
        return self.fit_tokens([self.analyzer(t) for t in texts])

    def fit_tokens(self, docs: list[list[str]]) -> BM25:
        vocab: dict[str, int] = {}
        rows, cols = [], []
        for i, doc in enumerate(docs):
            ids = [vocab.setdefault(t, len(vocab)) for t in doc]
            rows.extend([i] * len(ids))
            cols.extend(ids)
        n_docs = len(docs)
        # duplicates (i, t) are summed by the COO -> CSR conversion: tf counts
        tf = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_docs, len(vocab)))
        tf.sum_duplicates()
        doc_len = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = doc_len.mean() if n_docs else 1.0
        df = np.bincount(tf.indices, minlength=len(vocab))
        self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = self.k1 * (1 - self.b + self.b * doc_len / max(avgdl, 1e-9))  # per document
        w = tf.copy()
        row_of = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
        w.data = self.idf[tf.indices] * tf.data * (self.k1 + 1) / (tf.data + norm[row_of])
        self.weights, self.vocab = w.tocsc(), vocab  # CSC: the columns of the query terms are contiguous
        self.n_docs, self.avgdl = n_docs, float(avgdl)
        return self

    # --- query ---
    def query_matrix(self, queries: list[list[str]]) -> sp.csc_matrix:
        """terms x queries counts of the query words known to the index (unknown words score nothing)."""
        rows, cols = [], []
        for j, q in enumerate(queries):
            ids = [self.vocab[t] for t in q if t in self.vocab]
            rows.extend(ids)
            cols.extend([j] * len(ids))
        m = sp.csc_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(self.vocab), len(queries)))
        m.sum_duplicates()
        return m

    def scores_tokens(self, queries: list[list[str]]) -> np.ndarray:
        """(queries, docs) dense scores."""
        return np.asarray((self.weights @ self.query_matrix(queries)).T.todense())

    def scores(self, queries: list[str]) -> np.ndarray:
        return self.scores_tokens([self.analyzer(q) for q in queries])

    def search(self, queries: list[str], k: int = 100, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each (queries, k), best first; -1 where fewer than k passages share a word."""
        return self.search_tokens([self.analyzer(q) for q in queries], k, batch)

    def search_tokens(self, queries: list[list[str]], k: int = 100, batch: int = 256):
        idx, val = [], []
        for s in range(0, len(queries), batch):
            i, v = top_k(self.scores_tokens(queries[s:s + batch]), k)
            idx.append(np.where(v > 0, i, -1))  # a passage sharing no word with the query is not a match
            val.append(v)
        if not idx:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
        return np.vstack(idx), np.vstack(val)

    # --- disk ---
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        io.write_with(folder / "bm25_weights.npz", lambda tmp: sp.save_npz(tmp, self.weights), suffix=".npz")
        io.write_json(folder / "bm25.json", {"k1": self.k1, "b": self.b, "analyzer": self.analyzer.settings(),
                                             "n_docs": self.n_docs, "avgdl": self.avgdl,
                                             "vocab": list(self.vocab)})

    @classmethod
    def load(cls, folder: Path) -> BM25:
        folder = Path(folder)
        meta = json.loads((folder / "bm25.json").read_text())
        a = meta["analyzer"]
        self = cls(meta["k1"], meta["b"], Analyzer(a["stop_words"], a["stem"] is not None))
        self.weights = sp.load_npz(folder / "bm25_weights.npz").tocsc()
        self.vocab = {t: i for i, t in enumerate(meta["vocab"])}
        self.n_docs, self.avgdl = meta["n_docs"], meta["avgdl"]
        return self
