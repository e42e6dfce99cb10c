"""Text batches: padding collation, length bucketing (every sequence once, less padding, resumable order) and
packed sequences for RNNs."""

import numpy as np
import pytest
import torch
from torch import nn

from genai_roadmap.data.text_batches import IGNORE_INDEX, TextBatches, pack, pad_collate


def _corpus(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(1, 50, rng.integers(1, 60))) for _ in range(n)]


def test_pad_collate_right_and_left():
    b = pad_collate([[5, 6, 7], [8]], [[1, 2, 3], [4]], pad_id=0)
    assert b["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]] and b["lengths"].tolist() == [3, 1]
    assert b["labels"].tolist() == [[1, 2, 3], [4, IGNORE_INDEX, IGNORE_INDEX]]
    left = pad_collate([[5, 6, 7], [8]], [1, 0], pad_id=9, side="left")
    assert left["input_ids"].tolist() == [[5, 6, 7], [9, 9, 8]] and left["labels"].tolist() == [1, 0]
    assert left["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError, match="token labels"):
        pad_collate([[1, 2]], [[1]])


def test_bucketed_batches_cover_every_sequence_once_with_less_padding():
    seqs = _corpus()
    labels = list(range(len(seqs)))

    def padding(batches):
        return sum(int((b["attention_mask"] == 0).sum()) for b in batches.epoch(3))

    bucketed = TextBatches(seqs, labels, batch_size=16, shuffle=True, bucket=10, seed=1)
    plain = TextBatches(seqs, labels, batch_size=16, shuffle=True, bucket=0, seed=1)
    seen = sorted(i for b in bucketed.epoch(3) for i in b["labels"].tolist())
    assert seen == labels and len(bucketed) == 32
    for b in bucketed.epoch(3):  # each row is its sequence, padded
        for row, n, i in zip(b["input_ids"], b["lengths"], b["labels"], strict=True):
            assert row[:n].tolist() == seqs[i] and not row[n:].any()
    assert padding(bucketed) < 0.3 * padding(plain)


def test_epoch_order_is_seeded_and_resumable():
    seqs = _corpus(200)
    a = TextBatches(seqs, batch_size=8, shuffle=True, seed=4)
    first = [b["input_ids"] for b in a.epoch(2)]
    again = [b["input_ids"] for b in TextBatches(seqs, batch_size=8, shuffle=True, seed=4).epoch(2)]
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    tail = [b["input_ids"] for b in a.epoch(2, start=10)]
    assert len(tail) == len(first) - 10 and all(torch.equal(x, y) for x, y in zip(first[10:], tail, strict=True))
    other = [b["input_ids"] for b in a.epoch(3)]
    assert any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(first, other, strict=True))


def test_packed_rnn_skips_padding():
    torch.manual_seed(0)
    emb, gru = nn.Embedding(50, 6), nn.GRU(6, 5, batch_first=True)
    batch = pad_collate([[3, 4, 5, 6], [7, 8], [9]])
    _, h = gru(pack(emb(batch["input_ids"]), batch["lengths"]))  # h: [1, B, 5]
    for i, seq in enumerate([[3, 4, 5, 6], [7, 8], [9]]):
        _, alone = gru(emb(torch.tensor([seq])))
        torch.testing.assert_close(h[0, i], alone[0, 0])
    _, unpacked = gru(emb(batch["input_ids"]))  # without packing the padding changes the short ones' state
    assert not torch.allclose(unpacked[0, 2], h[0, 2])


def test_pad_collate_takes_numpy_and_tensor_labels_like_ints():
    """Labels straight from a NumPy column (np.int64) or a tensor's items batch the same as Python ints."""
    seqs = [[5, 6, 7], [8]]
    expected = pad_collate(seqs, [1, 0])["labels"]
    for labels in (np.array([1, 0]), list(np.array([1, 0])), list(torch.tensor([1, 0]))):
        assert torch.equal(pad_collate(seqs, labels)["labels"], expected)
    per_token = pad_collate(seqs, [np.array([1, 2, 3]), np.array([4])])["labels"]
    assert per_token.tolist() == [[1, 2, 3], [4, IGNORE_INDEX, IGNORE_INDEX]]
