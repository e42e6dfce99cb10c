"""Shared by the engine tests: a run context in a temp folder and a small learnable image set."""

import numpy as np

from genai_roadmap import registry
from genai_roadmap.data.batches import Augment, ImageBatches
from genai_roadmap.runs import RunContext


def make_ctx(path, resume=False):
    path.mkdir(parents=True, exist_ok=True)
    return RunContext(dir=path, seed=0, preset="smoke", project=registry.get("2.1.2"), resume=resume, quiet=True)


def toy_images(seed=0, n=1200):
    """4 classes whose mean brightness differs: learnable by a tiny MLP, not trivially."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = (rng.integers(0, 120, (n, 8, 8)) + y[:, None, None] * 40).astype(np.uint8)
    train = ImageBatches(x[:1000], y[:1000], batch_size=64, shuffle=True, drop_last=True, seed=seed,
                         augment=Augment(crop=1, flip=True), mean=[0.5], std=[0.3])
    test = ImageBatches(x[1000:], y[1000:], batch_size=64, mean=[0.5], std=[0.3])
    return train, test
