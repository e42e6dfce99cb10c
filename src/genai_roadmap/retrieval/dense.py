"""Dense retrieval: a bi-encoder turns questions and passages into vectors; relevance is their inner product.

Two encoder families, chosen by name:
- sentence-transformers models (default `sentence-transformers/all-MiniLM-L6-v2`, offline through hub.py's
  packaged copy): one encoder for both sides, mean pooling, L2-normalised (inner product = cosine);
- DPR (`facebook/dpr-question_encoder-single-nq-base`, its passage twin `facebook/dpr-ctx_encoder-single-nq-base`
  found by name): two BERT encoders, the [CLS] pooler output, raw inner product — as in Karpukhin et al. 2020.
  They resolve through hub.py (HF cache, or a download when online); offline, hub's UserError says how to get them.

Passage embeddings are the expensive part (~28 passages/s for MiniLM on 2 quiet cores), so `passage_embeddings`
caches them on disk under <cache>/embeddings/, keyed by model + corpus fingerprint: a second run loads them.
It works in shards of 1,024 passages (in order of length, which pads less), each saved as it finishes, so a
killed job resumes where it stopped; the final file is written atomically and the shards removed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

import numpy as np

from .. import io
from ..errors import UserError
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
    return embeddings_dir() / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', encoder.name)}-{key}.npy"


def passage_embeddings(encoder: BiEncoder, corpus: Corpus, batch_size: int = 64, progress: bool = True,
                       cache: bool = True, say=print) -> tuple[np.ndarray, dict]:
    """(embeddings (n, dim) float32 in corpus order, info) — from the cache when this model has embedded this
    exact corpus before. info: cache file, whether it was a hit, passages/s of the embedding done now."""
    target = cache_file(encoder, corpus)
    info = {"embedding_cache": str(target), "encoder": encoder.name}
    if cache and target.is_file():
        vectors = np.load(target)
        if vectors.shape == (len(corpus), encoder.dim):
            return vectors, {**info, "cache_hit": True}
        say(f"ignoring {target.name}: shape {vectors.shape}, expected {(len(corpus), encoder.dim)}")
    texts = passage_texts(encoder, corpus)
    order = np.argsort([len(t) for t in texts], kind="stable")
    parts = target.with_suffix(".parts")
    parts.mkdir(parents=True, exist_ok=True)
    n_shards = (len(texts) + SHARD - 1) // SHARD
    done = sum((parts / f"{i:05d}.npy").is_file() for i in range(n_shards))
    if done:
        say(f"resuming the embedding of {len(texts)} passages: {done}/{n_shards} shards already on disk")
    from tqdm.auto import tqdm

    bar = tqdm(total=len(texts), unit="passage", desc=f"embedding ({encoder.name.split('/')[-1]})",
               disable=not progress, initial=min(done * SHARD, len(texts)))
    start, embedded = time.perf_counter(), 0
    for i in range(n_shards):
        shard = parts / f"{i:05d}.npy"
        idx = order[i * SHARD:(i + 1) * SHARD]
        if shard.is_file():
            continue
        vectors = encoder.encode_passages([texts[j] for j in idx], batch_size)
        io.write_with(shard, lambda tmp, v=vectors: np.save(tmp, v), suffix=".npy")
        embedded += len(idx)
        bar.update(len(idx))
    bar.close()
    seconds = time.perf_counter() - start
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for i in range(n_shards):
        out[order[i * SHARD:(i + 1) * SHARD]] = np.load(parts / f"{i:05d}.npy")
    if cache:
        io.write_with(target, lambda tmp: np.save(tmp, out), suffix=".npy")
    shutil.rmtree(parts, ignore_errors=True)
    info.update(cache_hit=False, passages_embedded_now=embedded, embed_seconds=round(seconds, 1),
                embed_passages_per_s=round(embedded / seconds, 2) if embedded and seconds else None)
    return out, info


def check_encoder_name(name: str) -> None:
    if not name or name.strip() != name:
        raise UserError(f"encoder name {name!r} is empty or has surrounding spaces")
