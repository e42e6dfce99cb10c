"""Vector stores: FAISS flat and milvus-lite FLAT give the same top-k; HNSW close to exact; Milvus BM25; fusion."""

import numpy as np
import pytest

from genai_roadmap.retrieval.hybrid import rrf_fuse, weighted_fuse
from genai_roadmap.retrieval.stores import FaissStore


def unit_vectors(n, dim, seed):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_faiss_flat_is_exact_and_saves(tmp_path):
    x, q = unit_vectors(500, 16, 0), unit_vectors(10, 16, 1)
    store = FaissStore(16, "flat")
    store.add(x)
    idx, scores = store.search(q, 5)
    exact = np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :5]
    assert (idx == exact).all() and np.allclose(scores, np.take_along_axis(q @ x.T, exact, axis=1), atol=1e-5)
    store.save(tmp_path / "flat.faiss")
    again = FaissStore.load(tmp_path / "flat.faiss")
    assert again.count() == 500 and (again.search(q, 5)[0] == idx).all()


def test_faiss_hnsw_recall_close_to_exact():
    x, q = unit_vectors(3000, 32, 2), unit_vectors(50, 32, 3)
    hnsw = FaissStore(32, "hnsw")
    hnsw.add(x)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    found = hnsw.search(q, 10)[0]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall > 0.9


def test_faiss_and_milvus_lite_agree(tmp_path):
    pytest.importorskip("pymilvus")
    from genai_roadmap.retrieval.stores import MilvusBM25, MilvusStore

    x, q = unit_vectors(1000, 24, 4), unit_vectors(20, 24, 5)
    faiss = FaissStore(24, "flat")
    faiss.add(x)
    milvus = MilvusStore(tmp_path / "m.db", 24, index="FLAT", metric="IP")
    milvus.add(x)
    assert milvus.count() == 1000
    f_idx, f_scores = faiss.search(q, 10)
    m_idx, m_scores = milvus.search(q, 10)
    assert (f_idx == m_idx).all() and np.allclose(f_scores, m_scores, atol=1e-5)
    milvus.close()
    # Milvus's own BM25 full-text search in the same file: the passage with the rare word comes first
    bm25 = MilvusBM25(tmp_path / "m.db", "texts")
    bm25.add(["the zebra grazes on the plain", "a car drives fast on the road", "the road to the city"])
    idx, scores = bm25.search(["zebra plain", "road city"], 2)
    assert idx[0, 0] == 0 and idx[1, 0] == 2 and scores[0, 0] > 0
    bm25.close()


def test_rrf_and_weighted_fusion():
    a = np.array([[0, 1, 2, -1]])
    b = np.array([[2, 3, 0, 1]])
    idx, val = rrf_fuse([a, b], 4)
    assert set(idx[0, :2]) == {0, 2}  # in both lists near the top
    assert idx[0, 2] == 1 and val[0, 0] == pytest.approx(1 / 61 + 1 / 63)
    sparse = (np.array([[5, 6]]), np.array([[10.0, 0.0]]))
    dense = (np.array([[6, 7]]), np.array([[0.9, 0.1]]))
    assert weighted_fuse(sparse, dense, 0.0, 1)[0][0, 0] == 5  # alpha = 0: BM25 alone
    assert weighted_fuse(sparse, dense, 1.0, 1)[0][0, 0] == 6  # alpha = 1: dense alone
