"""Text batches: variable-length token sequences padded per batch, batched by length, packed for RNNs.

    batches = TextBatches(token_ids, labels, batch_size=32, pad_id=tok.pad_token_id, shuffle=True, seed=0)
    for batch in batches.epoch(0):   # {"input_ids": [B, T], "attention_mask": [B, T], "lengths": [B], "labels": ...}
        ...

Padding each batch only to its own longest sequence, and putting sequences of similar length in one batch
(length bucketing: shuffle, cut the order into pools of `bucket` batches, sort each pool by length, then
shuffle the batches), keeps most of the compute on real tokens. Like genai_roadmap.data.batches, the order is
a pure function of (seed, epoch), so a run resumed mid-epoch (`epoch(e, start=b)`) sees the batches it would
have seen; the engine needs only `len()` and `epoch(epoch, start)`.

Labels are per sequence (an int: classification) or per token (a sequence: tagging, language modelling),
padded with -100, the index `F.cross_entropy` ignores. A step reports `"weight": batch["attention_mask"].sum()`
(or the count of labels != -100) so that losses average per token across batches (see genai_roadmap.train).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from .batches import batch_generator

IGNORE_INDEX = -100  # the label F.cross_entropy skips: padding positions

TextBatch = dict[str, torch.Tensor]


def pad_collate(sequences: Sequence[Sequence[int]], labels: Sequence[Any] | None = None, *, pad_id: int = 0,
                label_pad: int = IGNORE_INDEX, side: str = "right") -> TextBatch:
    """Pad token sequences to the batch's longest: input_ids [B, T], attention_mask [B, T] (1 = real token),
    lengths [B], and labels [B] (one per sequence) or [B, T] (one per token, padded with `label_pad`).
    `side="left"` pads on the left, as decoder-only generation wants (the last position is the last token)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be left or right, got {side!r}")
    if not sequences:
        raise ValueError("pad_collate needs at least one sequence")
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max())
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        cols = slice(0, len(seq)) if side == "right" else slice(width - len(seq), width)
        ids[i, cols] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[i, cols] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "lengths": lengths}
    if labels is not None:
        if len(labels) != len(sequences):
            raise ValueError(f"{len(labels)} labels for {len(sequences)} sequences")
        if np.ndim(labels[0]) == 0:  # one label per sequence: int, NumPy integer or 0-d tensor
            batch["labels"] = torch.as_tensor([int(y) for y in labels], dtype=torch.long)
        else:
            out = torch.full((len(sequences), width), label_pad, dtype=torch.long)
            for i, y in enumerate(labels):
                if len(y) != len(sequences[i]):
                    raise ValueError(f"sequence {i}: {len(y)} token labels for {len(sequences[i])} tokens")
                cols = slice(0, len(y)) if side == "right" else slice(width - len(y), width)
                out[i, cols] = torch.as_tensor(list(y), dtype=torch.long)
            batch["labels"] = out
    return batch


def pack(embedded: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    """A right-padded batch [B, T, D] as a PackedSequence: an RNN then skips the padding (its final hidden
    state is the one after each sequence's last real token). Unpack with `pad_packed_sequence(...,
    batch_first=True)`; the original batch order is kept."""
    return pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)


class TextBatches:
    """Mini-batches of padded token sequences (see `pad_collate`), optionally length-bucketed.

    sequences: token-id lists; labels: one per sequence (int or per-token list) or None.
    bucket: pool size in batches for length bucketing (0 = off: plain shuffled or in-order batches).
    """

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[Any] | None = None, *,
                 batch_size: int = 32, pad_id: int = 0, shuffle: bool = False, bucket: int = 50,
                 drop_last: bool = False, seed: int = 0, side: str = "right") -> None:
        if labels is not None and len(labels) != len(sequences):
            raise ValueError(f"{len(labels)} labels for {len(sequences)} sequences")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if any(len(s) == 0 for s in sequences):
            raise ValueError("empty sequences cannot be batched: drop them or add a token")
        self.sequences, self.labels = list(sequences), None if labels is None else list(labels)
        self.lengths = torch.tensor([len(s) for s in self.sequences], dtype=torch.long)
        self.batch_size, self.pad_id, self.shuffle, self.bucket = batch_size, pad_id, shuffle, bucket
        self.drop_last, self.seed, self.side = drop_last, seed, side
        self.rank, self.world = 0, 1

    def __len__(self) -> int:
        n = len(self.sequences) // self.world
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def shard(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world

    def batches(self, epoch: int) -> list[torch.Tensor]:
        """The index lists of one epoch's batches, in order."""
        n = len(self.sequences)
        gen = batch_generator(self.seed, epoch)
        idx = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        if self.world > 1:
            idx = idx[self.rank::self.world][: n // self.world]
        if self.bucket:
            pool = self.bucket * self.batch_size
            pools = [p[torch.argsort(self.lengths[p], stable=True)] for p in idx.split(pool)]
            idx = torch.cat(pools)
        out = list(idx.split(self.batch_size))[: len(self)]
        if self.bucket and self.shuffle:  # sorted pools would otherwise give short-to-long batches in turn
            out = [out[i] for i in torch.randperm(len(out), generator=gen).tolist()]
        return out

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[TextBatch]:
        for sel in self.batches(epoch)[start:]:
            rows = sel.tolist()
            labels = None if self.labels is None else [self.labels[i] for i in rows]
            yield pad_collate([self.sequences[i] for i in rows], labels, pad_id=self.pad_id, side=self.side)

    def __iter__(self) -> Iterator[TextBatch]:
        return self.epoch(0)
