"""Passage-embedding cache: a second run does not re-embed, a subset corpus reuses its superset's vectors, a killed
job resumes from its finished shards. A counting stand-in encoder keeps it fast; the real MiniLM is covered by the
5.1.1 smoke run."""

import numpy as np
import pytest

from genai_roadmap.retrieval import dense
from genai_roadmap.retrieval.corpus import Corpus


class CountingEncoder(dense.BiEncoder):
    name, dim = "test/counting-encoder", 4

    def __init__(self, fail_after: int | None = None):
        self.seen, self.fail_after = [], fail_after

    def encode_passages(self, texts, batch_size=64):
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise KeyboardInterrupt  # the job is killed here
        self.seen += list(texts)
        return np.array([[len(t), t.count("a"), hash(t) % 97, 1.0] for t in texts], dtype=np.float32)

    encode_queries = encode_passages


def corpus(texts):
    n = len(texts)
    return Corpus([f"p{i}" for i in range(n)], ["t"] * n, list(texts), ["s"] * n, ["x"] * n, [0] * n)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADMAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(dense, "SHARD", 4)


def test_second_run_and_subset_reuse():
    texts = [f"passage {i} " + "a" * i for i in range(10)]
    enc = CountingEncoder()
    first, info = dense.passage_embeddings(enc, corpus(texts), progress=False)
    assert len(enc.seen) == 10 and not info["cache_hit"]
    again, info = dense.passage_embeddings(enc, corpus(texts), progress=False)
    assert info["cache_hit"] and len(enc.seen) == 10 and np.array_equal(first, again)
    # a different corpus holding 6 of the same texts and 2 new ones: only the new ones are embedded
    sub = texts[2:8] + ["new one", "new two"]
    vectors, info = dense.passage_embeddings(enc, corpus(sub), progress=False)
    assert enc.seen[10:] == ["new one", "new two"] and info["passages_reused"] == 6
    assert np.array_equal(vectors[:6], first[2:8])


def test_killed_job_resumes_from_its_shards():
    texts = [f"text number {i}" for i in range(12)]
    with pytest.raises(KeyboardInterrupt):
        dense.passage_embeddings(CountingEncoder(fail_after=8), corpus(texts), progress=False)  # 2 of 3 shards
    enc = CountingEncoder()
    vectors, info = dense.passage_embeddings(enc, corpus(texts), progress=False)
    assert len(enc.seen) == 4 and info["passages_reused"] == 8
    assert np.array_equal(vectors, CountingEncoder().encode_passages(texts))
