"""TF-IDF written out: vocabulary with document-frequency limits, sparse counts, idf, sublinear tf, L2 rows.

The definitions are scikit-learn's (TfidfVectorizer), so that the same settings give the same matrix — a test
checks it to 1e-9:

    tf(t, d)  = count of term t in document d            (1 + ln count with sublinear_tf)
    idf(t)    = ln((1 + n) / (1 + df(t))) + 1             (smooth_idf; ln(n / df(t)) + 1 without)
    row(d)    = tf(·, d) * idf / ||tf(·, d) * idf||_2

Terms are kept when min_df <= df <= max_df (ints are document counts, floats fractions of the documents), then
the `max_features` most frequent over the corpus (ties as sklearn breaks them); columns are in alphabetical order.
Counting is vectorised: every token becomes a (document, term id) pair and one sparse COO->CSR conversion sums
the duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from .preprocess import stop_words
from .tokenize import ngrams

SKLEARN_TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


def sklearn_like_analyzer(lowercase: bool = True, stop: bool = False,
                          ngram_range: tuple[int, int] = (1, 1)) -> Callable[[str], list[str]]:
    """The analyzer TfidfVectorizer builds by default: lowercase, tokens of 2+ word characters, optional
    English stop words removed before the n-grams are formed."""
    stops = stop_words() if stop else frozenset()

    def analyze(doc: str) -> list[str]:
        tokens = SKLEARN_TOKEN_PATTERN.findall(doc.lower() if lowercase else doc)
        return ngrams([t for t in tokens if t not in stops], *ngram_range)
    return analyze


class TfidfVectorizer:
    """fit / transform / fit_transform on raw documents with an analyzer (document -> list of terms)."""

    def __init__(self, analyzer: Callable[[str], Sequence[str]] | None = None, min_df: float = 1,
                 max_df: float = 1.0, max_features: int | None = None, sublinear_tf: bool = False,
                 smooth_idf: bool = True, norm: str | None = "l2") -> None:
        self.analyzer = analyzer or sklearn_like_analyzer()
        self.min_df, self.max_df, self.max_features = min_df, max_df, max_features
        self.sublinear_tf, self.smooth_idf, self.norm = sublinear_tf, smooth_idf, norm

    def _counts(self, docs: Sequence[str], vocab: dict[str, int], grow: bool) -> sp.csr_matrix:
        term_ids, doc_ids = [], []
        for i, doc in enumerate(docs):
            terms = self.analyzer(doc)
            ids = [vocab.setdefault(t, len(vocab)) for t in terms] if grow else \
                [j for t in terms if (j := vocab.get(t)) is not None]
            term_ids.extend(ids)
            doc_ids.extend([i] * len(ids))
        data = np.ones(len(term_ids), dtype=np.float64)
        counts = sp.coo_matrix((data, (doc_ids, term_ids)), shape=(len(docs), len(vocab))).tocsr()
        counts.sum_duplicates()
        return counts

    def fit_transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        vocab: dict[str, int] = {}
        counts = self._counts(docs, vocab, grow=True)
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        high = self.max_df if isinstance(self.max_df, int) else self.max_df * n_docs
        low = self.min_df if isinstance(self.min_df, int) else self.min_df * n_docs
        terms = np.array(list(vocab), dtype=object)
        keep = np.flatnonzero((df >= low) & (df <= high))
        keep = keep[np.argsort(terms[keep], kind="stable")]  # alphabetical, as sklearn's columns
        if self.max_features is not None and len(keep) > self.max_features:
            corpus_freq = np.asarray(counts[:, keep].sum(axis=0)).ravel().astype(np.int64)
            # sklearn's own call (default sort kind, int64 counts): equally frequent terms at the cut-off are
            # then chosen exactly as it chooses them.
            top = (-corpus_freq).argsort()[: self.max_features]
            keep = keep[np.sort(top)]
        self.vocabulary_ = {str(t): j for j, t in enumerate(terms[keep])}
        kept_df = df[keep]
        self.idf_ = (np.log((1 + n_docs) / (1 + kept_df)) if self.smooth_idf else np.log(n_docs / kept_df)) + 1
        return self._weigh(counts[:, keep])

    def fit(self, docs: Sequence[str]) -> TfidfVectorizer:
        self.fit_transform(docs)
        return self

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        return self._weigh(self._counts(docs, self.vocabulary_, grow=False))

    def _weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        x = counts.tocsr().astype(np.float64)
        if self.sublinear_tf:
            x.data = 1 + np.log(x.data)
        x = x @ sp.diags(self.idf_)
        if self.norm == "l2":
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
            x = sp.diags(1 / np.where(norms > 0, norms, 1)) @ x  # an empty document stays a zero row
        return x.tocsr()

    def get_feature_names_out(self) -> np.ndarray:
        return np.array(sorted(self.vocabulary_, key=self.vocabulary_.get), dtype=object)
