"""Retrieval for Phase 5 (RAG): passages, sparse and dense retrievers, fusion, vector stores, on-disk indexes.

    squad       SQuAD v1.1 dev questions + `split_articles` (the one train/val/test split of Phase 5)
    corpus      Corpus of ~100-word passages: SQuAD-open over Wikipedia, or a user's folder
    bm25        BM25 written out (SciPy sparse), checked against bm25s
    dense       bi-encoders (all-MiniLM-L6-v2 offline, DPR by name) + cached passage embeddings
    retrievers  the Retriever interface (search / retrieve -> Hit), BM25Retriever, DenseRetriever
    hybrid      reciprocal-rank fusion, weighted scores, cross-encoder re-ranking
    stores      VectorStore: FAISS flat / HNSW, Milvus (milvus-lite file or server URI), Milvus BM25
    index       a built index on disk (`roadmap index build DIR`), manifest written last
Metrics (EM/F1, answer recall, recall@k, MRR) live in genai_roadmap.metrics.qa.
"""

from .corpus import Corpus, corpus_from_folder, squad_open_corpus
from .retrievers import BM25Retriever, DenseRetriever, Hit, Retriever, check_question
from .squad import load_squad_dev, split_articles

__all__ = ["BM25Retriever", "Corpus", "DenseRetriever", "Hit", "Retriever", "check_question",
           "corpus_from_folder", "load_squad_dev", "split_articles", "squad_open_corpus"]
