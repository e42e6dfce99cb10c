"""Retrieval at scale: index build throughput and query latency on the real corpus, and approximate search on
random vectors — FAISS (flat, HNSW) and Milvus (milvus-lite) side by side. Not a test: timings depend on the
machine and on whatever else runs on it (on a shared 2-core machine they are inflated; compare within one run).

    PYTHONPATH=src ROADMAP_DATA_DIR=... python benchmarks/retrieval_scale.py \
        [--distractor-fraction 0.1] [--queries 500] [--random-n 1000000] [--random-queries 1000] [--out FILE]
    ... --milvus-uri http://host:19530     # the same client code against a Milvus server instead of milvus-lite

Part 1, real corpus (SQuAD-open, retrieval.corpus): embedding throughput (passages/s; from the embedding cache's
record when the passages were embedded earlier, re-measured on a 256-passage sample otherwise), index build time
of BM25 / FAISS flat / FAISS HNSW / Milvus FLAT, and single-query latency p50/p99 (query embedding separate from
search) on a seeded sample of SQuAD questions.
Part 2, `--random-n` random unit vectors of dimension 384 (no embedding needed): recall@10 of FAISS HNSW and
Milvus HNSW against exact search, build time, and queries/s in batches — where each backend stands before a
corpus moves to a Milvus cluster. Prints one JSON object (and writes it with --out).

Pointing at a Milvus server (for the README): every Milvus code path here goes through pymilvus's MilvusClient,
which opens milvus-lite when the URI is a local file (`./milvus.db`) and a server when it is `http://host:19530`
(add a token for Zilliz Cloud). So `roadmap run 5.1.1 --set store=milvus --set milvus_uri=http://host:19530`
(or `--milvus-uri` here) runs the same code against a Milvus server or cluster: start one with Milvus's
docker-compose file (milvus-standalone) or Helm chart, and the index lives there instead of in the run folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

import genai_roadmap  # noqa: F401  (first: sets OMP_WAIT_POLICY=PASSIVE before torch / faiss load OpenMP)


def percentiles(seconds: list[float]) -> dict:
    ms = 1000 * np.asarray(seconds)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def say(*parts) -> None:
    import sys

    print(*parts, file=sys.stderr, flush=True)  # stage progress: a killed benchmark still shows what it measured


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def real_corpus(args, tmp: Path) -> dict:
    from genai_roadmap.retrieval.bm25 import BM25
    from genai_roadmap.retrieval.corpus import squad_open_corpus
    from genai_roadmap.retrieval.dense import cache_file, load_encoder, passage_embeddings
    from genai_roadmap.retrieval.squad import load_squad_dev
    from genai_roadmap.retrieval.stores import FaissStore, MilvusStore

    corpus = squad_open_corpus(args.distractor_fraction, 0)
    encoder = load_encoder()
    out = {"corpus_passages": len(corpus), "distractor_fraction": args.distractor_fraction}
    cached = cache_file(encoder, corpus).is_file()
    vectors, info = passage_embeddings(encoder, corpus, progress=False)
    if info.get("embed_passages_per_s"):
        out["embed_passages_per_s"] = info["embed_passages_per_s"]
    else:  # from the cache: re-measure on a seeded sample (sorted by length inside encode, as in the full job)
        sample = np.random.default_rng(0).choice(len(corpus), min(256, len(corpus)), replace=False)
        _, s = timed(lambda: encoder.encode_passages([corpus.texts[i] for i in sample]))
        out["embed_passages_per_s"] = round(len(sample) / s, 2)
        out["embed_measured_on"] = f"{len(sample)} sampled passages (embeddings cached: {cached})"

    bm25 = BM25()
    bm25.analyzer("warm up")
    _, s = timed(lambda: bm25.fit(corpus.texts))
    out["bm25_index_passages_per_s"] = round(len(corpus) / s, 1)
    say("real corpus so far:", out)
    stores = {"faiss_flat": FaissStore(encoder.dim, "flat"), "faiss_hnsw": FaissStore(encoder.dim, "hnsw"),
              "milvus_flat": MilvusStore(args.milvus_uri or str(tmp / "real.db"), encoder.dim, "real", "FLAT",
                                         overwrite=True)}
    for name, store in stores.items():
        _, s = timed(lambda st=store: st.add(vectors))
        out[f"{name}_index_vectors_per_s"] = round(len(corpus) / s, 1)
        say(name, "index vectors/s", out[f"{name}_index_vectors_per_s"])

    questions = load_squad_dev().questions
    pick = np.random.default_rng(0).choice(len(questions), args.queries, replace=False)
    texts = [questions[i].question for i in pick]
    embed_s, bm25_s, search_s = [], [], {name: [] for name in stores}
    exact = stores["faiss_flat"]
    agree = {name: [] for name in stores}
    for text in texts:  # one query at a time: the latency a user sees
        q, s = timed(lambda t=text: encoder.encode_queries([t]))
        embed_s.append(s)
        bm25_s.append(timed(lambda t=text: bm25.search([t], 10))[1])
        truth = exact.search(q, 10)[0][0]
        for name, store in stores.items():
            (idx, _), s = timed(lambda st=store, v=q: st.search(v, 10))
            search_s[name].append(s)
            agree[name].append(len(set(idx[0]) & set(truth)) / 10)
    out["query_embed"] = percentiles(embed_s)
    out["bm25_query"] = percentiles(bm25_s)
    for name in stores:
        out[f"{name}_query"] = {**percentiles(search_s[name]), "recall@10_vs_exact": float(np.mean(agree[name]))}
    stores["milvus_flat"].close()
    out["queries"] = args.queries
    return out


def random_vectors(args, tmp: Path) -> dict:
    import faiss

    from genai_roadmap.retrieval.stores import FaissStore, MilvusStore

    rng = np.random.default_rng(0)
    dim, n = 384, args.random_n
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.standard_normal((args.random_queries, dim), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out = {"n": n, "dim": dim, "queries": args.random_queries}

    flat = faiss.IndexFlatIP(dim)
    flat.add(x)
    (_, truth), s = timed(lambda: flat.search(q, 10))
    out["faiss_flat"] = {"queries_per_s": round(len(q) / s, 1), "recall@10": 1.0}
    say("random: faiss flat", out["faiss_flat"])

    def recall(idx):
        return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, truth, strict=True)]))

    hnsw = FaissStore(dim, "hnsw", hnsw_m=args.hnsw_m, ef_construction=args.ef_construction, ef_search=args.ef_search)
    _, build = timed(lambda: hnsw.add(x))
    (idx, _), s = timed(lambda: hnsw.search(q, 10))
    out["faiss_hnsw"] = {"build_s": round(build, 1), "build_vectors_per_s": round(n / build, 1),
                         "queries_per_s": round(len(q) / s, 1), "recall@10": recall(idx),
                         "M": args.hnsw_m, "efConstruction": args.ef_construction, "efSearch": args.ef_search}
    say("random: faiss hnsw", out["faiss_hnsw"])
    hnsw = None  # free its memory before Milvus loads the same vectors

    milvus = MilvusStore(args.milvus_uri or str(tmp / "random.db"), dim, "random", "HNSW", overwrite=True,
                         hnsw_m=args.hnsw_m, ef_construction=args.ef_construction, ef_search=args.ef_search)
    _, build = timed(lambda: milvus.add(x))
    # the first search waits for the index to be built / loaded: time it apart from the steady state
    _, first = timed(lambda: milvus.search(q[:1], 10))
    (idx, _), s = timed(lambda: milvus.search(q, 10))
    out["milvus_hnsw"] = {"insert_s": round(build, 1), "insert_vectors_per_s": round(n / build, 1),
                          "first_query_s": round(first, 2), "queries_per_s": round(len(q) / s, 1),
                          "recall@10": recall(idx), "uri": "milvus-lite (local file)" if not args.milvus_uri
                          else args.milvus_uri}
    milvus.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--distractor-fraction", type=float, default=0.1)
    ap.add_argument("--queries", type=int, default=500, help="single-query latency sample on the real corpus")
    ap.add_argument("--random-n", type=int, default=1_000_000, help="random unit vectors (0 = skip part 2)")
    ap.add_argument("--random-queries", type=int, default=1000)
    # M=32 / efConstruction=200 had FAISS still building the 1M-vector graph after 18 min on 2 cores
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--ef-search", type=int, default=128)
    ap.add_argument("--milvus-uri", default="", help="a Milvus server instead of milvus-lite files")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch

    result = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
              "note": "timings on a shared machine are inflated; compare within one run"}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_real:
            result["real_corpus"] = real_corpus(args, Path(tmp))
            print(json.dumps(result, indent=1), flush=True)
        if args.random_n:
            result["random_vectors"] = random_vectors(args, Path(tmp))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        from genai_roadmap import io

        io.write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
