"""Phase 4: generative models on MNIST (autoencoders, denoising, VAE, conditional VAE; GANs).

Shared by the MNIST projects here: the seeded train / validation / test tensors, the engine's batches over them,
the speed record (training and sampling images/s, share of the measured fp32 matmul peak), and small model
files (weights + architecture JSON) that `load_trained` reads back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ... import io
from ...config import param
from ...data.batches import ImageBatches, holdout_split
from ...data.images import ImageData, load_mnist
from ...errors import UserError


@dataclass
class MnistSplits:
    data: ImageData
    keep: np.ndarray  # training indices
    held: np.ndarray  # validation indices (held out of the training split, seeded)

    @property
    def x_train(self) -> np.ndarray:
        return self.data.x_train[self.keep]

    @property
    def y_train(self) -> np.ndarray:
        return self.data.y_train[self.keep]

    @property
    def x_val(self) -> np.ndarray:
        return self.data.x_train[self.held]

    @property
    def y_val(self) -> np.ndarray:
        return self.data.y_train[self.held]

    def protocol(self) -> str:
        return (f"{self.data.source}: train {len(self.keep)}, validation {len(self.held)} (seeded, held out of "
                f"the training split; every choice), test {len(self.data.y_test)} (evaluated once)")


def mnist_splits(n_train: int | None, n_test: int | None, val_size: int, seed: int) -> MnistSplits:
    data = load_mnist()
    if n_train or n_test:
        data = data.subset(n_train, n_test, seed=seed)
    if val_size >= len(data.y_train):
        raise UserError(f"val_size ({val_size}) must be smaller than the training images ({len(data.y_train)})")
    keep, held = holdout_split(len(data.y_train), val_size, seed=seed)
    return MnistSplits(data, keep, held)


def batches(x: np.ndarray, y: np.ndarray | None, batch_size: int, shuffle: bool = False, seed: int = 0,
            device: str | torch.device = "cpu") -> ImageBatches:
    """(x [B,1,28,28] in [0,1], y) batches over uint8 digits (no normalisation: Bernoulli / BCE targets)."""
    return ImageBatches(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=shuffle, seed=seed, device=device)


def unit(x: np.ndarray) -> torch.Tensor:
    """uint8 [N,28,28] -> float [N,1,28,28] in [0,1]."""
    return torch.tensor(np.asarray(x), dtype=torch.float32).div(255)[:, None]  # a copy: idx arrays are read-only


def speed(images: int, seconds: float, flops_per_image: int | None = None, peak_gflops: float | None = None
          ) -> dict:
    """Training throughput; for MLPs also the achieved matmul GFLOP/s and its share of the measured peak."""
    out = {"train_images_per_s": round(images / seconds, 1)}
    if flops_per_image and peak_gflops:
        achieved = images * flops_per_image / seconds / 1e9
        out.update(train_gflops=round(achieved, 1), peak_share=round(achieved / peak_gflops, 3))
    return out


@torch.no_grad()
def sampling_speed(fn, n: int = 1000, repeats: int = 3) -> float:
    """Images/s of `fn(n)` (best of a few calls: sampling is cheap, the first call warms up)."""
    fn(min(n, 64))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return round(n / best, 1)


def save_model(folder: Path, name: str, model: nn.Module, arch: dict) -> None:
    """weights (safetensors) + architecture (JSON), both atomic: what load_model needs."""
    from ...train import save_weights

    save_weights(model, folder / f"{name}.safetensors")
    io.write_json(folder / f"{name}.json", arch)


def load_model(folder: Path, name: str, build) -> tuple[nn.Module, dict]:
    """`build(**arch)` with the saved weights loaded, in eval mode; a missing file is a one-line UserError."""
    from ...train import load_weights

    arch_file = folder / f"{name}.json"
    if not arch_file.is_file():
        raise UserError(f"{arch_file} not found: this run folder has no saved model {name!r}")
    arch = json.loads(arch_file.read_text())
    model = build(**{k: v for k, v in arch.items() if not k.startswith("_")})
    load_weights(model, folder / f"{name}.safetensors")
    return model.eval(), arch


def read_images(paths: list[str]) -> torch.Tensor:
    """Image files -> [N,1,28,28] in [0,1] (grey, resized to 28×28; white-on-black like MNIST expected)."""
    from PIL import Image

    out = []
    for p in paths:
        if not Path(p).is_file():
            raise UserError(f"input image {p} not found")
        img = Image.open(p).convert("L").resize((28, 28), Image.BILINEAR)
        out.append(np.asarray(img, dtype=np.uint8))
    return unit(np.stack(out))


@dataclass
class NoiseGridOptions:
    """`roadmap sample ID --n 64 --set seed=3` for an unconditional generator (4.2.1, 4.2.2): a PNG grid of
    samples drawn from seeded noise."""

    n: int = param(64, "images to generate", min=1, max=10000)
    seed: int = param(0, "noise seed: the same seed gives the same images", min=0)
    ncols: int = param(8, "images per row of the grid", min=1)
