"""Vector stores behind one interface: add vectors, search top-k, save / load, count.

- `FaissStore("flat")`: exact inner-product search (IndexFlatIP), in process; `FaissStore("hnsw")`: an HNSW graph
  (IndexHNSWFlat, inner product; M links per node, efSearch candidates per query) — approximate, faster at scale.
- `MilvusStore`: Milvus through pymilvus's MilvusClient. By default `uri` is a local file (`*.db`): pymilvus then
  starts milvus-lite, an embedded Milvus, in a child process. Give it a server's URI instead
  (`http://host:19530`, or a Zilliz Cloud endpoint with `token=`) and the very same code talks to a Milvus
  server or cluster — the way to a corpus that outgrows one machine. Index "FLAT" is exact, "HNSW" / "AUTOINDEX"
  approximate. milvus-lite traps (DEPENDENCIES.md): flush() after inserts, load_collection() after reopening,
  always pass output_fields.
- `MilvusBM25`: Milvus's own full-text search (a BM25 function turns a VARCHAR field into a sparse vector at
  insert time) as a second sparse backend beside retrieval.bm25; milvus-lite's analyzer is "standard" only.

Every search returns (indices, scores), each (queries, k), best first; indices are positions in add order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import io
from ..errors import UserError


class VectorStore:
    """add(vectors) -> positions; search(queries, k) -> (indices, scores); save(path) / load(path); count()."""

    kind = "store"

    def add(self, vectors: np.ndarray) -> None:
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError


def _as_matrix(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        raise UserError(f"expected vectors of shape (n, {dim or 'dim'}), got {x.shape}")
    return x


class FaissStore(VectorStore):
    def __init__(self, dim: int, kind: str = "flat", hnsw_m: int = 32, ef_construction: int = 200,
                 ef_search: int = 128) -> None:
        import faiss

        if kind not in ("flat", "hnsw"):
            raise UserError(f"FAISS index kind must be 'flat' or 'hnsw', not {kind!r}")
        self.dim, self.kind = dim, kind
        if kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
        else:
            self.index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search

    def add(self, vectors):
        self.index.add(_as_matrix(vectors, self.dim))

    def search(self, queries, k):
        scores, idx = self.index.search(_as_matrix(queries, self.dim), min(k, max(self.count(), 1)))
        return idx.astype(np.int64), scores

    def count(self):
        return int(self.index.ntotal)

    def save(self, path):
        import faiss

        io.write_with(path, lambda tmp: faiss.write_index(self.index, str(tmp)))

    @classmethod
    def load(cls, path) -> FaissStore:
        import faiss

        index = faiss.read_index(str(path))
        self = cls.__new__(cls)
        self.index, self.dim = index, index.d
        self.kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"
        return self


class MilvusStore(VectorStore):
    """One Milvus collection of (id, vector). `uri`: a local .db file (milvus-lite) or a server URI."""

    def __init__(self, uri: str | Path, dim: int, collection: str = "passages", index: str = "FLAT",
                 metric: str = "IP", token: str = "", overwrite: bool = False, hnsw_m: int = 32,
                 ef_construction: int = 200, ef_search: int = 128) -> None:
        from pymilvus import DataType, MilvusClient

        self.uri, self.dim, self.collection, self.metric = str(uri), dim, collection, metric
        self.index_type, self.ef_search = index, ef_search
        if _is_local(self.uri):
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MilvusClient(uri=self.uri, token=token) if token else MilvusClient(uri=self.uri)
        except Exception as exc:  # an unreachable server, a broken .db file
            raise UserError(f"cannot open Milvus at {self.uri}: {str(exc).splitlines()[0]}") from None
        if overwrite and self.client.has_collection(collection):
            self.client.drop_collection(collection)
        if not self.client.has_collection(collection):
            schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            params = self.client.prepare_index_params()
            extra = {"M": hnsw_m, "efConstruction": ef_construction} if index == "HNSW" else {}
            params.add_index("vector", index_type=index, metric_type=metric, params=extra)
            self.client.create_collection(collection, schema=schema, index_params=params)
        self.client.load_collection(collection)  # needed after reopening an existing file

    def add(self, vectors, batch: int = 5000):
        vectors = _as_matrix(vectors, self.dim)
        start = self.count()
        for s in range(0, len(vectors), batch):
            rows = [{"id": start + s + i, "vector": v} for i, v in enumerate(vectors[s:s + batch])]
            self.client.insert(self.collection, rows)
        self.client.flush(self.collection)  # searches before flush() are ~10x slower on milvus-lite

    def search(self, queries, k, batch: int = 256):
        queries = _as_matrix(queries, self.dim)
        params = {"metric_type": self.metric}
        if self.index_type == "HNSW":
            params["params"] = {"ef": max(self.ef_search, k)}
        idx = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for s in range(0, len(queries), batch):
            res = self.client.search(self.collection, data=queries[s:s + batch].tolist(), limit=k,
                                     search_params=params, output_fields=["id"])
            for j, hits in enumerate(res):
                for r, hit in enumerate(hits):
                    idx[s + j, r], scores[s + j, r] = hit["id"], hit["distance"]
        return idx, scores

    def count(self):
        return int(self.client.get_collection_stats(self.collection)["row_count"])

    def save(self, path):
        """Milvus persists by itself (the .db file or the server); this records how to reopen it."""
        io.write_json(path, {"uri": self.uri, "collection": self.collection, "dim": self.dim,
                             "index": self.index_type, "metric": self.metric})

    @classmethod
    def load(cls, path) -> MilvusStore:
        meta = json.loads(Path(path).read_text())
        return cls(meta["uri"], meta["dim"], meta["collection"], meta["index"], meta["metric"])

    def close(self):
        self.client.close()


def _is_local(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


class MilvusBM25:
    """Milvus full-text search: documents in, BM25 top-k out (scores: Milvus's BM25 relevance, higher first)."""

    def __init__(self, uri: str | Path, collection: str = "passages_bm25", overwrite: bool = False,
                 k1: float = 1.5, b: float = 0.75, token: str = "") -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        self.uri, self.collection = str(uri), collection
        if _is_local(self.uri):
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        self.client = MilvusClient(uri=self.uri, token=token) if token else MilvusClient(uri=self.uri)
        if overwrite and self.client.has_collection(collection):
            self.client.drop_collection(collection)
        if not self.client.has_collection(collection):
            schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                             analyzer_params={"tokenizer": "standard", "filter": ["lowercase"]})
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["text"], output_field_names=["sparse"]))
            params = self.client.prepare_index_params()
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                             params={"bm25_k1": k1, "bm25_b": b})
            self.client.create_collection(collection, schema=schema, index_params=params)
        self.client.load_collection(collection)

    def add(self, texts: list[str], batch: int = 2000) -> None:
        start = self.count()
        for s in range(0, len(texts), batch):
            # VARCHAR max_length counts bytes: cut very long documents (a 100-word passage is far below)
            rows = [{"id": start + s + i, "text": t.encode()[:65000].decode(errors="ignore")}
                    for i, t in enumerate(texts[s:s + batch])]
            self.client.insert(self.collection, rows)
        self.client.flush(self.collection)

    def search(self, queries: list[str], k: int, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        idx = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for s in range(0, len(queries), batch):
            res = self.client.search(self.collection, data=queries[s:s + batch], anns_field="sparse", limit=k,
                                     search_params={"metric_type": "BM25"}, output_fields=["id"])
            for j, hits in enumerate(res):
                for r, hit in enumerate(hits):
                    idx[s + j, r], scores[s + j, r] = hit["id"], abs(hit["distance"])
        return idx, scores

    def count(self) -> int:
        return int(self.client.get_collection_stats(self.collection)["row_count"])

    def close(self):
        self.client.close()
