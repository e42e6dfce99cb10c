"""The small-data path: whole-tensor batching, seeded order, batched augmentation checked against per-image loops."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genai_roadmap.data.batches import (
    Augment,
    ImageBatches,
    TensorBatches,
    batch_generator,
    channel_stats,
    cutout,
    holdout_split,
    random_crop,
    random_flip,
)


def _images(n=50, h=8, w=8, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, h, w, c), dtype=np.uint8), rng.integers(0, 10, n)


def test_batches_normalise_and_cover_every_sample_once():
    x, y = _images(50)
    mean, std = [0.2, 0.5, 0.7], [0.3, 0.2, 0.1]
    b = ImageBatches(x, y, batch_size=16, shuffle=True, seed=3, mean=mean, std=std)
    assert len(b) == 4  # 16 + 16 + 16 + 2
    seen_x, seen_y = zip(*b.epoch(0), strict=True)
    xs, ys = torch.cat(seen_x), torch.cat(seen_y)
    assert xs.shape == (50, 3, 8, 8) and xs.dtype == torch.float32
    order = b.order(0).numpy()
    assert sorted(order.tolist()) == list(range(50))
    expected = (x[order].transpose(0, 3, 1, 2) / 255 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(xs.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ys.numpy(), y[order])


def test_order_is_seeded_per_epoch_and_resume_rebuilds_the_same_batches():
    x, y = _images(40)
    make = lambda seed: ImageBatches(x, y, batch_size=8, shuffle=True, drop_last=True, seed=seed,  # noqa: E731
                                     augment=Augment(crop=2, flip=True, cutout=3))
    a, b = make(1), make(1)
    assert torch.equal(a.order(0), b.order(0)) and not torch.equal(a.order(0), a.order(1))
    assert not torch.equal(make(2).order(0), a.order(0))
    full = list(a.epoch(2))
    tail = list(b.epoch(2, start=3))  # a run resumed after batch 3 of epoch 2
    assert len(tail) == len(full) - 3
    for (x1, y1), (x2, y2) in zip(full[3:], tail, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_grey_images_and_unlabelled_batches():
    x = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    (batch,) = list(ImageBatches(x, batch_size=8).epoch(0))
    assert len(batch) == 1 and batch[0].shape == (3, 1, 4, 4)
    torch.testing.assert_close(batch[0][:, 0], torch.as_tensor(x).float() / 255)
    with pytest.raises(TypeError):
        ImageBatches(x.astype(np.float32))


def test_channels_last_layout():
    x, y = _images(8)
    (xb, _), = ImageBatches(x, y, batch_size=8, channels_last=True, augment=Augment(crop=1)).epoch(0)
    assert xb.is_contiguous(memory_format=torch.channels_last)


def test_flip_matches_reference():
    x = torch.randn(64, 3, 5, 7)
    out = random_flip(x, batch_generator(5))
    mask = torch.rand(64, generator=batch_generator(5)) < 0.5  # the same draw
    for i in range(64):
        assert torch.equal(out[i], x[i].flip(2) if mask[i] else x[i])
    assert 15 < int(mask.sum()) < 49


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
def test_crop_matches_per_image_reference(mode):
    x = torch.randn(16, 3, 6, 6)
    pad = 2
    out = random_crop(x, pad, batch_generator(7), mode)
    gen = batch_generator(7)
    dy = torch.randint(0, 2 * pad + 1, (16,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (16,), generator=gen)
    for i in range(16):
        padded = F.pad(x[i:i + 1], (pad,) * 4, mode="reflect" if mode == "reflect" else "constant")[0]
        assert torch.equal(out[i], padded[:, dy[i]:dy[i] + 6, dx[i]:dx[i] + 6])
    assert out.shape == x.shape


def test_cutout_zeroes_a_clipped_square():
    x = torch.ones(200, 1, 10, 10)
    out = cutout(x, 4, batch_generator(0))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # a 4×4 square, at worst clipped to 2×2 in a corner
    gen = batch_generator(0)
    cy, cx = torch.randint(0, 10, (200,), generator=gen), torch.randint(0, 10, (200,), generator=gen)
    for i in range(200):
        ref = torch.ones(10, 10)
        ref[max(cy[i] - 2, 0):cy[i] + 2, max(cx[i] - 2, 0):cx[i] + 2] = 0
        assert torch.equal(out[i, 0], ref)


def test_augmentation_is_black_padding_before_normalisation():
    x = np.full((4, 6, 6), 255, dtype=np.uint8)  # white images: a zero-padded shift brings in black pixels
    b = ImageBatches(x, batch_size=4, augment=Augment(crop=3, pad_mode="zeros"), mean=[0.5], std=[0.5], seed=1)
    (xb,) = next(b.epoch(0))
    assert set(torch.unique(xb).tolist()) <= {-1.0, 1.0} and (xb == -1).any()


def test_channel_stats_match_numpy():
    x, _ = _images(30)
    mean, std = channel_stats(x)
    np.testing.assert_allclose(mean, (x / 255).mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(std, (x / 255).std(axis=(0, 1, 2), ddof=1), rtol=1e-6)


def test_holdout_split_is_a_seeded_partition():
    keep, held = holdout_split(100, 0.2, seed=3)
    assert len(held) == 20 and len(keep) == 80 and not set(keep) & set(held)
    assert np.array_equal(holdout_split(100, 20, seed=3)[1], held)
    with pytest.raises(ValueError):
        holdout_split(10, 10)


def test_shards_partition_an_epoch():
    x, y = _images(40)
    shards = []
    for rank in range(2):
        b = ImageBatches(x, y, batch_size=5, shuffle=True, seed=4)
        b.shard(rank, 2)
        assert len(b) == 4
        shards.append(b.order(0))
    assert sorted(torch.cat(shards).tolist()) == list(range(40))


def test_tensor_batches():
    a, b = torch.arange(10), torch.arange(10) * 2
    batches = TensorBatches(a, b, batch_size=4, shuffle=True, seed=0)
    got = list(batches.epoch(1))
    assert len(got) == len(batches) == 3
    assert sorted(torch.cat([g[0] for g in got]).tolist()) == list(range(10))
    assert all(torch.equal(g[1], g[0] * 2) for g in got)
    with pytest.raises(ValueError):
        TensorBatches(a, torch.arange(3))
