"""The retriever interface every Phase 5 project uses: a corpus + `search(queries, k)` / `retrieve(question, k)`.

    retriever = BM25Retriever(corpus)                       # sparse, retrieval.bm25
    retriever = DenseRetriever.build(corpus, "sentence-transformers/all-MiniLM-L6-v2")   # cached embeddings
    retriever = HybridRetriever(bm25, dense, method="rrf")  # retrieval.hybrid
    hits = retriever.retrieve("Who won Super Bowl 50?", k=5) # [Hit(rank, index, id, title, text, score, source)]
    idx, scores = retriever.search(questions, k=100)        # (n, k) arrays, best first, for evaluation

Questions are checked once here: an empty question or one longer than `MAX_QUESTION_WORDS` is a UserError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .bm25 import BM25
from .corpus import Corpus

MAX_QUESTION_WORDS = 512  # the encoders read 256 tokens; a longer "question" is a document, not a question


@dataclass(frozen=True)
class Hit:
    rank: int  # 1 = best
    index: int  # position in the corpus
    id: str
    title: str
    text: str
    score: float
    source: str


def check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise UserError("the question is empty: ask something, e.g. \"Who won Super Bowl 50?\"")
    n = len(question.split())
    if n > MAX_QUESTION_WORDS:
        raise UserError(f"the question has {n:,} words; ask in at most {MAX_QUESTION_WORDS} words")
    return question.strip()


class Retriever:
    name = "retriever"
    corpus: Corpus

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each (len(queries), k), best first; -1 pads when fewer than k passages match."""
        raise NotImplementedError

    def retrieve(self, question: str, k: int = 5) -> list[Hit]:
        idx, scores = self.search([check_question(question)], k)
        return self.hits(idx[0], scores[0])

    def hits(self, idx: np.ndarray, scores: np.ndarray) -> list[Hit]:
        c = self.corpus
        return [Hit(r + 1, int(i), c.ids[i], c.titles[i], c.texts[i], float(s), c.sources[i])
                for r, (i, s) in enumerate(zip(idx, scores, strict=True)) if i >= 0]


class BM25Retriever(Retriever):
    name = "bm25"

    def __init__(self, corpus: Corpus, bm25: BM25 | None = None, k1: float = 1.5, b: float = 0.75) -> None:
        self.corpus = corpus
        self.bm25 = bm25 if bm25 is not None else BM25(k1, b).fit(corpus.texts)

    def search(self, queries, k):
        return self.bm25.search(list(queries), k)


class DenseRetriever(Retriever):
    """A bi-encoder over precomputed passage embeddings held in a vector store (FAISS flat by default)."""

    name = "dense"

    def __init__(self, corpus: Corpus, encoder, store) -> None:
        self.corpus, self.encoder, self.store = corpus, encoder, store

    @classmethod
    def build(cls, corpus: Corpus, encoder="sentence-transformers/all-MiniLM-L6-v2", store=None,
              progress: bool = True, say=print) -> DenseRetriever:
        """Embed the corpus (or load the cached embeddings) and put them in `store` (default FAISS flat)."""
        from .dense import load_encoder, passage_embeddings
        from .stores import FaissStore

        encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder
        vectors, info = passage_embeddings(encoder, corpus, progress=progress, say=say)
        store = store if store is not None else FaissStore(encoder.dim, "flat")
        if store.count() == 0:
            store.add(vectors)
        self = cls(corpus, encoder, store)
        self.embedding_info = info
        return self

    def search(self, queries, k):
        return self.store.search(self.encoder.encode_queries(list(queries)), k)
