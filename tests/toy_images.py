"""Synthetic image datasets for tests that must not depend on the mirror."""

from __future__ import annotations

import numpy as np

from genai_roadmap.data.images import ImageData


def sorted_cifar_like(n_train: int = 1200, n_test: int = 300) -> ImageData:
    """A CIFAR-shaped dataset sorted by class (as the JPEG folders decode): class c is a noisy colour c."""
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (10, 3))

    def make(n):
        y = np.repeat(np.arange(10), n // 10)
        x = np.clip(palette[y][:, None, None, :] + rng.normal(0, 40, (n, 32, 32, 3)), 0, 255).astype(np.uint8)
        return x, y.astype(np.int64)

    return ImageData(*make(n_train), *make(n_test), tuple(str(c) for c in range(10)), "sorted-toy")
