"""Dense retrieval: a bi-encoder turns questions and passages into vectors; relevance is their inner product.

Two encoder families, chosen by name:
- sentence-transformers models (default `sentence-transformers/all-MiniLM-L6-v2`, offline through hub.py's
  packaged copy): one encoder for both sides, mean pooling, L2-normalised (inner product = cosine);
- DPR (`facebook/dpr-question_encoder-single-nq-base`, its passage twin `facebook/dpr-ctx_encoder-single-nq-base`
  found by name): two BERT encoders, the [CLS] pooler output, raw inner product — as in Karpukhin et al. 2020.
  They resolve through hub.py (HF cache, or a download when online); offline, hub's UserError says how to get them.

Passage embeddings are the expensive part (~28 passages/s for MiniLM on 2 quiet cores), so `passage_embeddings`
caches them on disk under <cache>/embeddings/, keyed by model + corpus fingerprint: a second run loads them.
It works in shards of 1,024 passages (in order of length, which pads less), each saved with the digests of its
texts as it finishes, so a killed job resumes where it stopped, and a passage embedded for one corpus is reused
for any other that holds the same text (the cpu preset's corpus is a subset of the full one); the final file is
written atomically (with its digests) and the shards removed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

import numpy as np

from .. import io
from .corpus import Corpus

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
SHARD = 1024


class BiEncoder:
    """encode_queries / encode_passages -> float32 (n, dim); `metric` is "ip" (inner product)."""

    name: str
    dim: int

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError

    def encode_passages(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError


class SentenceBiEncoder(BiEncoder):
    """One sentence-transformers encoder for both sides (mean pooling, normalised)."""

    def __init__(self, name: str = DEFAULT_ENCODER, max_length: int = 256) -> None:
        from ..text.embeddings import SentenceEncoder

        self.name = name
        self.encoder = SentenceEncoder(name, max_length=max_length)
        self.dim = int(self.encoder.model.config.hidden_size)
        self.source = self.encoder.source

    def encode_queries(self, texts, batch_size=64):
        return self.encoder.encode(list(texts), batch_size)

    def encode_passages(self, texts, batch_size=64):
        return self.encoder.encode(list(texts), batch_size)


class DprBiEncoder(BiEncoder):
    """DPR's question and context encoders ([CLS] pooler output, no normalisation); passages are encoded as
    "title [SEP] text" like DPR's own pipeline."""

    def __init__(self, question_name: str, ctx_name: str | None = None, max_length: int = 256) -> None:
        from transformers import DPRContextEncoder, DPRQuestionEncoder

        from .. import hub

        ctx_name = ctx_name or question_name.replace("question_encoder", "ctx_encoder")
        self.name, self.ctx_name, self.max_length = question_name, ctx_name, max_length
        q, c = hub.resolve(question_name), hub.resolve(ctx_name)
        self.q_model = DPRQuestionEncoder.from_pretrained(q.path).eval()
        self.c_model = DPRContextEncoder.from_pretrained(c.path).eval()
        self.q_tok, self.c_tok = hub.load_tokenizer(question_name), hub.load_tokenizer(ctx_name)
        self.dim = int(self.q_model.config.hidden_size)
        self.source = f"{q.source} / {c.source}"

    def _encode(self, model, tok, texts, batch_size):
        import torch

        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, len(texts), batch_size):
                idx = order[s:s + batch_size]
                batch = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                            return_tensors="pt")
                out[idx] = model(**batch).pooler_output.float().numpy()
        return out

    def encode_queries(self, texts, batch_size=64):
        return self._encode(self.q_model, self.q_tok, list(texts), batch_size)

    def encode_passages(self, texts, batch_size=64):
        return self._encode(self.c_model, self.c_tok, list(texts), batch_size)


def load_encoder(name: str = DEFAULT_ENCODER) -> BiEncoder:
    """A bi-encoder by hub name: DPR names get the DPR pair, anything else the sentence-transformers recipe."""
    if "dpr-question_encoder" in name or "dpr-ctx_encoder" in name:
        return DprBiEncoder(name.replace("ctx_encoder", "question_encoder"))
    return SentenceBiEncoder(name)


def embeddings_dir() -> Path:
    from ..data.store import cache_dir

    return cache_dir() / "embeddings"


def passage_texts(encoder: BiEncoder, corpus: Corpus) -> list[str]:
    if isinstance(encoder, DprBiEncoder):  # DPR's passages are encoded with their title
        return [f"{t} [SEP] {x}" for t, x in zip(corpus.titles, corpus.texts, strict=True)]
    return list(corpus.texts)


def cache_file(encoder: BiEncoder, corpus: Corpus) -> Path:
    key = hashlib.sha256(f"{encoder.name}\x00{corpus.fingerprint()}".encode()).hexdigest()[:16]
    return embeddings_dir() / f"{_slug(encoder.name)}-{key}.npy"


def text_keys(texts: list[str]) -> np.ndarray:
    """A 12-byte digest per text: what identifies an embedded passage across corpora."""
    return np.array([hashlib.sha1(t.encode()).digest()[:12] for t in texts], dtype="S12")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name)


def _harvest(encoder: BiEncoder, keys: np.ndarray, out: np.ndarray, found: np.ndarray) -> None:
    """Fill `out` rows whose text this encoder has embedded before, in any cached corpus or unfinished shard
    (a subset corpus reuses its superset's vectors; a killed job resumes)."""
    slug = _slug(encoder.name)
    folder = embeddings_dir()
    for key_file in sorted(folder.glob(f"{slug}-*.keys.npy")) + sorted(folder.glob(f"{slug}-*.parts/*.keys.npy")):
        if found.all():
            return
        vec_file = key_file.with_name(key_file.name.replace(".keys.npy", ".npy"))
        if not vec_file.is_file():
            continue
        other, vectors = np.load(key_file), np.load(vec_file, mmap_mode="r")
        if len(other) != len(vectors) or vectors.shape[1] != out.shape[1]:
            continue
        row_of = {k: r for r, k in enumerate(other.tolist())}
        for i in np.flatnonzero(~found):
            r = row_of.get(keys[i])
            if r is not None:
                out[i], found[i] = vectors[r], True


def passage_embeddings(encoder: BiEncoder, corpus: Corpus, batch_size: int = 64, progress: bool = True,
                       cache: bool = True, say=print) -> tuple[np.ndarray, dict]:
    """(embeddings (n, dim) float32 in corpus order, info) — from the cache when this model has embedded this
    exact corpus before; passages it embedded for another corpus are reused. info: cache file, hit or not,
    passages reused, passages/s of the embedding done now."""
    target = cache_file(encoder, corpus)
    info = {"embedding_cache": str(target), "encoder": encoder.name}
    if cache and target.is_file():
        vectors = np.load(target)
        if vectors.shape == (len(corpus), encoder.dim):
            return vectors, {**info, "cache_hit": True}
        say(f"ignoring {target.name}: shape {vectors.shape}, expected {(len(corpus), encoder.dim)}")
    texts = passage_texts(encoder, corpus)
    keys = text_keys(texts)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    found = np.zeros(len(texts), dtype=bool)
    if cache:
        _harvest(encoder, keys, out, found)
    reused = int(found.sum())
    if reused:
        say(f"{reused:,} of {len(texts):,} passages were embedded before by {encoder.name}: reused")
    missing = np.flatnonzero(~found)
    order = missing[np.argsort([len(texts[i]) for i in missing], kind="stable")]  # similar lengths pad less
    parts = target.with_suffix(".parts")
    parts.mkdir(parents=True, exist_ok=True)
    first = len(list(parts.glob("*.keys.npy")))
    from tqdm.auto import tqdm

    bar = tqdm(total=len(texts), initial=reused, unit="passage", disable=not progress,
               desc=f"embedding ({encoder.name.split('/')[-1]})")
    start = time.perf_counter()
    for n, s in enumerate(range(0, len(order), SHARD)):
        idx = order[s:s + SHARD]
        vectors = encoder.encode_passages([texts[j] for j in idx], batch_size)
        out[idx] = vectors
        if cache:  # vectors first, keys last: a shard without its keys file is ignored
            shard = parts / f"{first + n:05d}.npy"
            io.write_with(shard, lambda tmp, v=vectors: np.save(tmp, v), suffix=".npy")
            io.write_with(shard.with_suffix(".keys.npy"), lambda tmp, k=keys[idx]: np.save(tmp, k), suffix=".npy")
        bar.update(len(idx))
    bar.close()
    seconds = time.perf_counter() - start
    if cache:
        io.write_with(target, lambda tmp: np.save(tmp, out), suffix=".npy")
        io.write_with(target.with_suffix(".keys.npy"), lambda tmp: np.save(tmp, keys), suffix=".npy")
    shutil.rmtree(parts, ignore_errors=True)
    info.update(cache_hit=False, passages_reused=reused, passages_embedded_now=len(order),
                embed_seconds=round(seconds, 1),
                embed_passages_per_s=round(len(order) / seconds, 2) if len(order) and seconds else None)
    return out, info


def query_embeddings(encoder: BiEncoder, texts: list[str], cache: bool = True) -> tuple[np.ndarray, dict]:
    """Question embeddings, cached like passages (keyed by model + the exact list of texts): an evaluation
    that re-asks the same 10,570 questions does not re-encode them."""
    digest = hashlib.sha256(encoder.name.encode())
    for t in texts:
        digest.update(t.encode() + b"\x00")
    target = embeddings_dir() / f"queries-{re.sub(r'[^A-Za-z0-9.-]+', '_', encoder.name)}-{digest.hexdigest()[:16]}.npy"
    if cache and target.is_file():
        vectors = np.load(target)
        if vectors.shape == (len(texts), encoder.dim):
            return vectors, {"query_cache_hit": True}
    start = time.perf_counter()
    vectors = encoder.encode_queries(list(texts))
    seconds = time.perf_counter() - start
    if cache:
        io.write_with(target, lambda tmp: np.save(tmp, vectors), suffix=".npy")
    return vectors, {"query_cache_hit": False, "query_encode_s": round(seconds, 2),
                     "queries_per_s": round(len(texts) / seconds, 1) if seconds else None}
