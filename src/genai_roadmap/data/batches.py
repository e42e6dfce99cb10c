"""Fast small-data path: a whole dataset as one tensor, batches and augmentation as batched tensor ops.

MNIST, Fashion-MNIST and CIFAR-10 fit in memory as uint8 (47 MB / 47 MB / 150 MB), so there is no per-item
Python loader: each batch is one index into the uint8 tensor, converted to float in [0, 1], augmented as a
whole (random crop with padding, horizontal flip, cutout) with a few tensor ops, then normalised.

Randomness is a pure function of (seed, epoch, batch index): the epoch's permutation comes from a
`torch.Generator` seeded with (seed, epoch) and each batch's augmentation from one seeded with
(seed, epoch, batch). So the same seed gives the same batches, and a run resumed mid-epoch rebuilds exactly
the batches it would have seen (`epoch(e, start=b)`) from three integers the checkpoint stores.

The training engine (`genai_roadmap.train`) needs only `len(batches)` and `batches.epoch(epoch, start)`;
any object with those two works (tabular rows, token windows, ...). Variable-length text — padded per
batch, length-bucketed, dict batches with attention masks — is genai_roadmap.data.text_batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

Batch = tuple[torch.Tensor, ...]


def batch_generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded from integer keys; distinct (seed, epoch, batch) give unrelated streams."""
    seed = 0x9E3779B97F4A7C15
    for k in keys:
        seed = (seed * 6364136223846793005 + int(k) + 1442695040888963407) % (1 << 63)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Augment:
    """Batched image augmentation, applied to float images in [0, 1], [B, C, H, W], before normalisation."""

    crop: int = 0  # random translation: pad by `crop` pixels, then take a random H×W window
    pad_mode: str = "reflect"  # "reflect" (CIFAR) or "zeros" (black: MNIST-style images on a black ground)
    flip: bool = False  # random horizontal flip with probability 1/2
    cutout: int = 0  # side of a black square at a random centre (DeVries & Taylor 2017); 0 = off

    @property
    def active(self) -> bool:
        return bool(self.crop or self.flip or self.cutout)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # Every random draw comes from `gen` on CPU in a fixed order: identical on any device.
        if self.flip:
            x = random_flip(x, gen)
        if self.crop:
            x = random_crop(x, self.crop, gen, self.pad_mode)
        if self.cutout:
            x = cutout(x, self.cutout, gen)
        return x


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2.  x: [B, C, H, W]."""
    mask = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device)
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator, mode: str = "reflect") -> torch.Tensor:
    """Pad by `pad`, then cut a random window of the original size per image (a shift by up to ±pad)."""
    if mode not in ("reflect", "zeros"):
        raise ValueError(f"pad mode must be reflect or zeros, got {mode!r}")
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect" if mode == "reflect" else "constant")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # [B, 1, H, 1]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # [B, 1, 1, W]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]  # one gather: [B, C, H, W]


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero a size×size square per image; its centre is uniform over the image, so it may be clipped."""
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b,), generator=gen).to(x.device)
    cx = torch.randint(0, w, (b,), generator=gen).to(x.device)
    top, left = cy - size // 2, cx - size // 2
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys >= top[:, None]) & (ys < top[:, None] + size)  # [B, H]
    in_x = (xs >= left[:, None]) & (xs < left[:, None] + size)  # [B, W]
    mask = (in_y[:, :, None] & in_x[:, None, :])[:, None]  # [B, 1, H, W]
    return x.masked_fill(mask, 0.0)


def channel_stats(images: np.ndarray | torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N,H,W] or [N,H,W,C], on the 0-1 scale."""
    arr = torch.as_tensor(np.asarray(images))
    arr = arr.reshape(arr.shape[0], -1, 1) if arr.ndim == 3 else arr.reshape(arr.shape[0], -1, arr.shape[-1])
    arr = arr.double() / 255  # float64: 150M CIFAR values summed in float32 would drift
    return arr.mean(dim=(0, 1)).tolist(), arr.std(dim=(0, 1)).tolist()


def holdout_split(n: int, size: int | float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) of a seeded random hold-out: `size` samples, or a fraction when < 1."""
    k = int(round(size * n)) if size < 1 else int(size)
    if not 0 <= k < n:
        raise ValueError(f"hold-out of {size} leaves nothing to train on ({n} samples)")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


class ImageBatches:
    """Mini-batches over in-memory uint8 images, normalised (and optionally augmented) on the fly.

    images: uint8 [N, H, W] or [N, H, W, C] (NumPy or torch); labels: int [N] or None.
    Yields (x float32 [B, C, H, W], y int64 [B]) — or (x,) without labels — on `device`.
    """

    def __init__(self, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor | None = None, *,
                 batch_size: int = 256, shuffle: bool = False, drop_last: bool = False, seed: int = 0,
                 augment: Augment | None = None, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, device: str | torch.device = "cpu",
                 channels_last: bool = False) -> None:
        arr = np.asarray(images)
        imgs = torch.as_tensor(arr if arr.flags.writeable else arr.copy())  # idx files load read-only
        if imgs.dtype != torch.uint8:
            raise TypeError(f"ImageBatches expects uint8 images, got {imgs.dtype}")
        imgs = imgs[:, None] if imgs.ndim == 3 else imgs.permute(0, 3, 1, 2)
        self.device = torch.device(device)
        self.images = imgs.contiguous().to(self.device)  # uint8 [N, C, H, W], kept whole
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels)).long().to(self.device)
        channels = self.images.shape[1]
        self.mean = [0.0] * channels if mean is None else list(mean)
        self.std = [1.0] * channels if std is None else list(std)
        self._mean = torch.tensor(self.mean, device=self.device).view(1, -1, 1, 1)
        self._inv_std = 1.0 / torch.tensor(self.std, device=self.device).view(1, -1, 1, 1)
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.augment = augment if augment is not None and augment.active else None
        self.channels_last = channels_last
        self.rank, self.world = 0, 1

    @property
    def num_samples(self) -> int:
        return self.images.shape[0]

    def __len__(self) -> int:
        n = self.num_samples // self.world
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def shard(self, rank: int, world: int) -> None:
        """Multi-process training: this process takes every `world`-th sample of each epoch's order."""
        self.rank, self.world = rank, world

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of an epoch: a seeded permutation (shuffle) or 0..N-1, then this rank's share."""
        n = self.num_samples
        idx = torch.randperm(n, generator=batch_generator(self.seed, epoch)) if self.shuffle else torch.arange(n)
        return idx[self.rank::self.world][: n // self.world] if self.world > 1 else idx

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        """The batches of one epoch, beginning at batch `start` (a run resumed mid-epoch)."""
        idx = self.order(epoch).to(self.device)
        for b in range(start, len(self)):
            sel = idx[b * self.batch_size:(b + 1) * self.batch_size]
            x = self.images[sel].float() * (1 / 255)  # [B, C, H, W] in [0, 1]
            if self.augment is not None:
                x = self.augment(x, batch_generator(self.seed, epoch, b))
            x = (x - self._mean) * self._inv_std
            if self.channels_last:  # the fast memory layout for conv kernels on CPU and GPU
                x = x.contiguous(memory_format=torch.channels_last)
            yield (x,) if self.labels is None else (x, self.labels[sel])

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)

    def normalise(self, raw: torch.Tensor) -> torch.Tensor:
        """uint8 [B, C, H, W] -> float32 (x/255 - mean) / std (what the model sees, without augmentation)."""
        return (raw.float() * (1 / 255) - self._mean) * self._inv_std


class TensorBatches:
    """Mini-batches over equal-length tensors kept whole (tabular rows, token windows, latent codes)."""

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 256, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatches needs one or more tensors of equal length")
        self.tensors = tensors
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.rank, self.world = 0, 1

    def __len__(self) -> int:
        n = len(self.tensors[0]) // self.world
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def shard(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        n = len(self.tensors[0])
        idx = torch.randperm(n, generator=batch_generator(self.seed, epoch)) if self.shuffle else torch.arange(n)
        if self.world > 1:
            idx = idx[self.rank::self.world][: n // self.world]
        for b in range(start, len(self)):
            sel = idx[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(t[sel.to(t.device)] for t in self.tensors)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
