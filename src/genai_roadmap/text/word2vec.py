"""Skip-gram with negative sampling (SGNS, Mikolov et al. 2013) written out in PyTorch, step for step as
word2vec.c / gensim do it, but in large vectorised batches instead of one word pair at a time.

The pieces, in the order a corpus meets them:
- `Corpus`: every token as an int32 id (ids numbered by descending frequency) with document boundaries; saved
  as one .npz so a 14M-word corpus is tokenised once.
- `keep_probabilities`: frequent-word subsampling with gensim's formula (`sample=1e-3`): a word of corpus
  frequency f is kept with probability (sqrt(f / sample) + 1) * sample / f, capped at 1.
- `noise_table`: the unigram^0.75 noise distribution as a large table of word ids (word2vec.c's
  `InitUnigramTable`): a uniform random slot is a noise draw.
- `skipgram_windows`: after subsampling, every word with its contexts within a "reduced window" — each word draws
  its reach uniformly from 1..window, as gensim does, so near contexts count more — never across documents.
- `sgns_step`: one SGD step on a batch of pairs, gradients in closed form (no autograd): with s = v_ctx . u_t,
  the update of u_t is lr (label - sigmoid(s)) v_ctx and of v_ctx the sum over its true word and K noise words.
  The touched rows are updated in place with `index_add_`, so a step costs O(batch), not O(vocabulary) —
  the sparse update the method needs. Roles as in gensim: the context word's input vector (`input_vectors`,
  the vectors kept afterwards) predicts the centre word and the K noise words through `output_vectors`.
- `SkipGram.train`: linear learning-rate decay from `lr` to `min_lr` over all epochs (by raw words seen, as
  gensim); a producer thread builds batches with NumPy while `threads` worker threads run steps on shared
  tensors without locks ("Hogwild", like gensim's worker threads). Each worker runs its torch ops on one
  intra-op thread: two workers on two cores outran one worker with two intra-op threads, whose barrier per op
  stalls whenever the machine is busy. threads=1 trains in the calling thread and is bit-for-bit repeatable.
- Why windows and not single pairs: a first version stepped on (word, context) pairs with K noise words each
  (B x (1+K) rows gathered and scattered per B pairs); on one epoch of the Wikipedia passages (1.17M effective
  words, 2 threads, a heavily shared 2-core machine) it ran at 8k words/s against gensim's 20k in the same
  process (0.4x). Sharing each window's noise draw cut the gathered rows about 3x and gave 16-17k against
  gensim's 17-20k (0.8-1.0x) at the same final loss (2.749 vs 2.750 per pair). index_add_ and the batched
  matrix products dominate a step (profile of the pair version: scatter 35%, bmm 28%, gather 22%).
- `WordVectors`: the trained vectors with nearest neighbours and "a - b + c" analogies (3CosAdd), saved as
  safetensors + a vocabulary JSON.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import io


@dataclass
class Corpus:
    """Tokens as ids: `words[i]` has `counts[i]` occurrences (most frequent first); document d is
    `ids[starts[d]:starts[d + 1]]`."""

    words: list[str]
    counts: np.ndarray  # (V,) int64
    ids: np.ndarray  # (N,) int32
    starts: np.ndarray  # (D + 1,) int64

    @classmethod
    def from_token_lists(cls, docs: Sequence[Sequence[str]]) -> Corpus:
        counter: Counter = Counter()
        for doc in docs:
            counter.update(doc)
        first_seen = list(counter)  # Counter keeps insertion order: ties are broken by first occurrence
        counts = np.array([counter[w] for w in first_seen], dtype=np.int64)
        order = np.argsort(-counts, kind="stable")
        words = [first_seen[i] for i in order]
        index = {w: i for i, w in enumerate(words)}
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        ids = np.fromiter((index[w] for doc in docs for w in doc), dtype=np.int32, count=int(lengths.sum()))
        return cls(words, counts[order], ids, np.concatenate([[0], np.cumsum(lengths)]))

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def n_docs(self) -> int:
        return len(self.starts) - 1

    def doc_of_tokens(self) -> np.ndarray:
        """(N,) the document number of every token."""
        return np.repeat(np.arange(self.n_docs, dtype=np.int32), np.diff(self.starts))

    def restricted(self, min_count: int) -> Corpus:
        """Only words seen at least `min_count` times (as gensim's min_count): rarer tokens are dropped from
        their documents before any window is formed, as gensim drops out-of-vocabulary words."""
        keep = self.counts >= min_count
        new_id = np.where(keep, np.cumsum(keep) - 1, -1).astype(np.int32)
        mapped = new_id[self.ids]
        kept = mapped >= 0
        lengths = np.bincount(self.doc_of_tokens()[kept], minlength=self.n_docs)
        return Corpus([w for w, k in zip(self.words, keep, strict=True) if k], self.counts[keep], mapped[kept],
                      np.concatenate([[0], np.cumsum(lengths)]))

    def subset_docs(self, doc_index: np.ndarray) -> Corpus:
        """The given documents (in that order), vocabulary recounted and renumbered."""
        vocab = np.array(self.words, dtype=object)
        return Corpus.from_token_lists([list(vocab[self.ids[self.starts[d]:self.starts[d + 1]]])
                                        for d in doc_index])

    def token_lists(self) -> list[list[str]]:
        """The documents as lists of word strings (what gensim trains on); the strings are shared objects."""
        words = self.words
        return [[words[i] for i in self.ids[a:b].tolist()] for a, b in zip(self.starts[:-1], self.starts[1:],
                                                                            strict=True)]

    def save(self, path: Path) -> Path:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, counts=self.counts, ids=self.ids, starts=self.starts,
                         words=np.frombuffer("\n".join(self.words).encode(), dtype=np.uint8))
        return io.write_with(path, write, suffix=".npz")

    @classmethod
    def load(cls, path: Path) -> Corpus:
        with np.load(path) as z:
            return cls(z["words"].tobytes().decode().split("\n"), z["counts"], z["ids"], z["starts"])


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word (gensim's `prepare_vocab`, sample < 1: threshold =
    sample x total words; 0 = keep everything)."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum((np.sqrt(counts / threshold) + 1) * threshold / counts, 1.0)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def noise_table(counts: np.ndarray, power: float = 0.75, size: int = 10_000_000) -> np.ndarray:
    """(size,) int32 word ids, each word filling a share of slots proportional to count^power (rounded
    cumulatively, so the shares are exact to 1/size)."""
    edges = np.round(np.cumsum(noise_distribution(counts, power)) * size).astype(np.int64)
    return np.repeat(np.arange(len(counts), dtype=np.int32), np.diff(np.concatenate([[0], edges])))


def skipgram_windows(ids: np.ndarray, doc: np.ndarray, window: int, rng: np.random.Generator):
    """Yield (reach, words, contexts, mask) for a token sequence: each word draws its reach r uniformly from
    1..window (gensim's reduced window, so near contexts count more); the words of reach r come together with
    their 2r context ids (B, 2r) and a mask that is False where a context would fall outside the sequence or
    in another document (the id there is 0)."""
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    for r in range(1, window + 1):
        centre = np.flatnonzero(reach == r)
        pos = centre[:, None] + np.concatenate([np.arange(-r, 0), np.arange(1, r + 1)])[None, :]
        clipped = np.clip(pos, 0, max(n - 1, 0))
        mask = (pos >= 0) & (pos < n) & (doc[clipped] == doc[centre][:, None])
        has_context = mask.any(1)
        centre, clipped, mask = centre[has_context], clipped[has_context], mask[has_context]
        if len(centre):
            yield r, ids[centre], np.where(mask, ids[clipped], 0), mask


def sgns_step(input_vectors: torch.Tensor, output_vectors: torch.Tensor, contexts: torch.Tensor,
              mask: torch.Tensor, targets: torch.Tensor, lr: float) -> float:
    """One SGD step, in place, on B windows; returns the summed loss over all (context, word) pairs,
    -log s(v_ctx . u_word) - sum_noise log s(-v_ctx . u_noise).

    contexts (B, C) ids whose input vectors predict, mask (B, C) float 1 for a real context; targets (B, 1 + K):
    the centre word, then K noise words shared by the C contexts of its window. Each pair thus sees its true
    word and K noise words, as in word2vec.c, but the noise draw is shared within a window (Ji et al. 2016,
    "Parallelizing Word2Vec in Shared and Distributed Memory"): a window is then one small matrix product,
    and it gathers C + 1 + K rows instead of C (2 + K). A noise word equal to the centre word is skipped."""
    b, c = contexts.shape
    k1 = targets.shape[1]
    dim = input_vectors.shape[1]
    v = input_vectors.index_select(0, contexts.reshape(-1)).view(b, c, dim)  # (B, C, D)
    u = output_vectors.index_select(0, targets.reshape(-1)).view(b, k1, dim)  # (B, 1+K, D)
    scores = torch.bmm(v, u.transpose(1, 2))  # (B, C, 1+K)
    label = torch.zeros(1, 1, k1)
    label[..., 0] = 1.0
    noise_ok = torch.ones(b, k1)
    noise_ok[:, 1:] = (targets[:, 1:] != targets[:, :1]).float()
    weight = mask.unsqueeze(2) * noise_ok.unsqueeze(1)  # (B, C, 1+K)
    loss = -(torch.nn.functional.logsigmoid(scores * (2 * label - 1)) * weight).sum()
    # d(-loss)/d(score) = label - sigmoid(score); the SGD step is lr times that, for both vectors of a pair.
    g = (label - torch.sigmoid(scores)).mul_(weight).mul_(lr)  # (B, C, 1+K)
    grad_v = torch.bmm(g, u)  # (B, C, D), from the output vectors before this step
    grad_u = torch.bmm(g.transpose(1, 2), v)  # (B, 1+K, D)
    output_vectors.index_add_(0, targets.reshape(-1), grad_u.view(-1, dim))
    input_vectors.index_add_(0, contexts.reshape(-1), grad_v.view(-1, dim))
    return float(loss)


@dataclass
class TrainStats:
    effective_words: int  # tokens that survived subsampling, summed over epochs (gensim's "effective words")
    raw_words: int
    pairs: int
    seconds: float
    loss_curve: list[tuple[float, float]]  # (fraction of training done, mean loss per pair)

    @property
    def words_per_s(self) -> float:
        return self.effective_words / max(self.seconds, 1e-9)


class SkipGram:
    """Input vectors uniform in [-0.5/D, 0.5/D] and output vectors zero, as word2vec.c and gensim."""

    def __init__(self, vocab_size: int, dim: int = 100, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.input_vectors = (torch.rand(vocab_size, dim, generator=gen) - 0.5) / dim
        self.output_vectors = torch.zeros(vocab_size, dim)
        self.seed = seed

    def batches(self, corpus: Corpus, epochs: int, window: int, negative: int, sample: float, lr: float,
                min_lr: float, batch_size: int, chunk_tokens: int, rng: np.random.Generator):
        """Yield (contexts, mask, targets, lr) batches, then a float progress marker after every chunk of
        documents; also yields ("chunk", effective words, pairs) to count them. Within a chunk the windows are
        shuffled; windows of reach r come in batches of about batch_size / 2r windows (~batch_size pairs)."""
        keep = keep_probabilities(corpus.counts, sample)
        table = noise_table(corpus.counts)
        doc = corpus.doc_of_tokens()
        total_raw = epochs * corpus.n_tokens
        seen = 0
        for _ in range(epochs):
            for a, b in chunk_bounds(corpus.starts, chunk_tokens):
                kept = a + np.flatnonzero(rng.random(b - a) < keep[corpus.ids[a:b]])
                jobs, pairs = [], 0
                for r, words, contexts, mask in skipgram_windows(corpus.ids[kept], doc[kept], window, rng):
                    order = rng.permutation(len(words))
                    noise = table[rng.integers(0, len(table), size=(len(words), negative))]
                    targets = torch.from_numpy(np.concatenate([words[order, None], noise], 1).astype(np.int64))
                    contexts = torch.from_numpy(contexts[order].astype(np.int64))
                    mask = torch.from_numpy(mask[order].astype(np.float32))
                    pairs += int(mask.sum())
                    step = max(1, batch_size // (2 * r))
                    jobs += [(contexts[i:i + step], mask[i:i + step], targets[i:i + step])
                             for i in range(0, len(words), step)]
                for j, i in enumerate(rng.permutation(len(jobs))):
                    done = (seen + (b - a) * j / len(jobs)) / total_raw
                    yield (*jobs[i], lr - (lr - min_lr) * done)
                seen += b - a
                yield ("chunk", len(kept), pairs)
                yield seen / total_raw

    def train(self, corpus: Corpus, epochs: int = 5, window: int = 5, negative: int = 5, sample: float = 1e-3,
              lr: float = 0.025, min_lr: float = 1e-4, batch_size: int = 4096, chunk_tokens: int = 250_000,
              threads: int = 2, progress=None) -> TrainStats:
        """SGD over `epochs` passes, the learning rate falling linearly from lr to min_lr by raw words seen
        (as gensim); `progress(fraction_done, mean_loss)` is called after every chunk of documents."""
        rng = np.random.default_rng(self.seed)
        jobs: queue.Queue = queue.Queue(maxsize=256)
        counts = {"effective": 0, "pairs": 0}
        losses: list[tuple[float, float]] = []
        running = [0.0, 0]  # loss sum, pairs since the last progress marker
        lock = threading.Lock()

        def produce() -> None:
            for job in self.batches(corpus, epochs, window, negative, sample, lr, min_lr, batch_size,
                                    chunk_tokens, rng):
                if isinstance(job, tuple) and job[0] == "chunk":
                    counts["effective"] += job[1]
                    counts["pairs"] += job[2]
                else:
                    jobs.put(job)
            for _ in range(max(threads, 1)):
                jobs.put(None)

        def work() -> None:
            while (job := jobs.get()) is not None:
                if isinstance(job, float):
                    with lock:
                        if running[1]:
                            losses.append((job, running[0] / running[1]))
                            if progress is not None:
                                progress(job, running[0] / running[1])
                        running[:] = [0.0, 0]
                    continue
                contexts, mask, targets, rate = job
                loss = sgns_step(self.input_vectors, self.output_vectors, contexts, mask, targets, rate)
                with lock:
                    running[0] += loss
                    running[1] += int(mask.sum())

        start = time.perf_counter()
        old_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            producer = threading.Thread(target=produce, daemon=True)
            producer.start()
            workers = [threading.Thread(target=work, daemon=True) for _ in range(max(threads, 1) - 1)]
            for w in workers:
                w.start()
            work()  # the calling thread is one of the workers
            for w in workers:
                w.join()
            producer.join()
        finally:
            torch.set_num_threads(old_threads)
        return TrainStats(counts["effective"], epochs * corpus.n_tokens, counts["pairs"],
                          time.perf_counter() - start, losses)


def chunk_bounds(starts: np.ndarray, chunk_tokens: int) -> Iterable[tuple[int, int]]:
    """Token ranges of about `chunk_tokens` that end at document boundaries."""
    n = int(starts[-1])
    a = 0
    while a < n:
        b = int(starts[min(np.searchsorted(starts, a + chunk_tokens), len(starts) - 1)])
        b = max(b, int(starts[np.searchsorted(starts, a, side="right")]))  # at least one whole document
        yield a, b
        a = b


class WordVectors:
    """Word vectors with cosine nearest neighbours and 3CosAdd analogies (gensim's `most_similar`)."""

    def __init__(self, words: list[str], vectors: np.ndarray):
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def most_similar(self, positive: Sequence[str], negative: Sequence[str] = (), topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Words closest (cosine) to the mean of the unit vectors of `positive` minus those of `negative`,
        the query words themselves excluded."""
        missing = [w for w in [*positive, *negative] if w not in self.index]
        if missing:
            raise KeyError(f"not in the vocabulary: {', '.join(missing)}")
        query = (sum(self.unit[self.index[w]] for w in positive)
                 - sum((self.unit[self.index[w]] for w in negative), np.zeros(self.unit.shape[1], np.float32)))
        query /= max(float(np.linalg.norm(query)), 1e-12)
        unit = self.unit[:restrict_vocab] if restrict_vocab else self.unit
        sims = unit @ query
        for w in [*positive, *negative]:
            if self.index[w] < len(sims):
                sims[self.index[w]] = -np.inf
        best = np.argpartition(-sims, min(topn, len(sims) - 1))[:topn]
        best = best[np.argsort(-sims[best])]
        return [(self.words[i], float(sims[i])) for i in best if np.isfinite(sims[i])]

    def save(self, folder: Path) -> Path:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        io.write_with(folder / "vectors.safetensors",
                      lambda tmp: save_file({"vectors": self.vectors}, str(tmp)), suffix=".safetensors")
        io.write_json(folder / "vocab.json", {"words": self.words})
        return folder

    @classmethod
    def load(cls, folder: Path) -> WordVectors:
        from safetensors.numpy import load_file

        words = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["words"]
        return cls(words, load_file(str(folder / "vectors.safetensors"))["vectors"])
