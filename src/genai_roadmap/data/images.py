"""Image datasets as in-memory uint8 arrays: MNIST, Fashion-MNIST, CIFAR-10 (pickles or JPEG folders), and
scikit-learn's 8×8 digits as the fallback that ships with an installed package.

Images come back as uint8 [N, H, W] (grey) or [N, H, W, 3] (RGB); labels as int64 [N]. Small datasets are
kept whole in memory: batching and augmentation are tensor ops downstream, never a per-item loader.

No loader hands out class-sorted arrays, so that no "first n" slice downstream can be one class: the idx files
and CIFAR pickles come in their published (mixed) order; CIFAR-10's JPEG folders, decoded in file-name order
(i.e. sorted by class), are put in a fixed order by a permutation seeded with DATASET_ORDER_SEED.
Subsets (`ImageData.subset`) are seeded random and stratified by class.
"""

from __future__ import annotations

import gzip
import io as _io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import io
from ..errors import UserError
from .splits import stratified_subset
from .store import cache_dir, resolve_variant

DATASET_ORDER_SEED = 0  # fixed: the order of a loaded dataset must not depend on the run's seed

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class ImageData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str  # which dataset and variant was loaded, for the run's metrics

    def subset(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> ImageData:
        """A seeded random slice, stratified by class (for smoke presets and `n_train` / `n_test` options)."""
        tr = stratified_subset(self.y_train, n_train, seed) if n_train else slice(None)
        te = stratified_subset(self.y_test, n_test, seed + 1) if n_test else slice(None)
        return ImageData(self.x_train[tr], self.y_train[tr], self.x_test[te], self.y_test[te], self.classes,
                         self.source + (f" (subset {n_train or 'all'}/{n_test or 'all'})" if n_train or n_test else ""))


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (gzip or plain): the MNIST family's format. Header: magic (dtype, ndim), then dims."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path} is not an unsigned-byte idx file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _load_idx_family(name: str, classes: tuple[str, ...]) -> ImageData:
    variant, paths = resolve_variant(name)
    x_train = read_idx(paths["train-images-idx3-ubyte.gz"])
    y_train = read_idx(paths["train-labels-idx1-ubyte.gz"]).astype(np.int64)
    x_test = read_idx(paths["t10k-images-idx3-ubyte.gz"])
    y_test = read_idx(paths["t10k-labels-idx1-ubyte.gz"]).astype(np.int64)
    return ImageData(x_train, y_train, x_test, y_test, classes, f"{name}:{variant.name}")


def load_mnist() -> ImageData:
    return _load_idx_family("mnist", MNIST_CLASSES)


def load_fashion_mnist() -> ImageData:
    return _load_idx_family("fashion_mnist", FASHION_CLASSES)


def load_digits_8x8(test_fraction: float = 0.25, seed: int = 0) -> ImageData:
    """scikit-learn's 1,797 8×8 digits (values 0-16, scaled to 0-255): the offline fallback for MNIST."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.clip(digits.images * (255 / 16), 0, 255).astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target.astype(np.int64), test_size=test_fraction,
                                              random_state=seed, stratify=digits.target)
    return ImageData(x_tr, y_tr, x_te, y_te, MNIST_CLASSES, "digits:sklearn-8x8")


def load_cifar10() -> ImageData:
    """CIFAR-10 from the official pickles, or from the mirror's JPEG folders (decoded once, then cached)."""
    variant, paths = resolve_variant("cifar10")
    (archive,) = paths.values()
    if variant.name == "python":
        x_tr, y_tr, x_te, y_te = _read_cifar_pickles(archive)
    else:  # decoded in file-name order, i.e. sorted by class: put in a fixed mixed order
        x_tr, y_tr, x_te, y_te = _read_cifar_jpgs_cached(archive, variant.files[0].sha256)
        (x_tr, y_tr), (x_te, y_te) = fixed_order(x_tr, y_tr), fixed_order(x_te, y_te)
    return ImageData(x_tr, y_tr, x_te, y_te, CIFAR10_CLASSES, f"cifar10:{variant.name}")


def fixed_order(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y in a fixed seeded order (DATASET_ORDER_SEED): the same on every run, never sorted by class."""
    order = np.random.default_rng(DATASET_ORDER_SEED).permutation(len(y))
    return x[order], y[order]


def _read_cifar_pickles(archive: Path):
    train_x, _train_y = [], []
    test = None
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            base = Path(member.name).name
            if not (base.startswith("data_batch_") or base == "test_batch"):
                continue
            batch = pickle.loads(tar.extractfile(member).read(), encoding="bytes")  # noqa: S301 - checksummed
            x = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            y = np.asarray(batch[b"labels"], dtype=np.int64)
            if base == "test_batch":
                test = (x, y)
            else:
                train_x.append((base, x, y))
    train_x.sort(key=lambda t: t[0])
    return (np.concatenate([t[1] for t in train_x]), np.concatenate([t[2] for t in train_x]), *test)


def _read_cifar_jpgs_cached(archive: Path, sha: str):
    cached = cache_dir() / "cifar10" / f"decoded-jpg-{sha[:12]}.npz"
    if cached.exists():
        with np.load(cached) as z:
            return z["x_train"], z["y_train"], z["x_test"], z["y_test"]
    x_tr, y_tr, x_te, y_te = _read_cifar_jpgs(archive)
    io.write_with(cached, lambda p: np.savez(p, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te),
                  suffix=".npz")
    return x_tr, y_tr, x_te, y_te


def _read_cifar_jpgs(archive: Path):
    """Decode `cifar10-jpg/{train,test}/<class>/NNNN.jpg` in a fixed (sorted) order."""
    from PIL import Image

    index = {c: i for i, c in enumerate(CIFAR10_CLASSES)}
    splits: dict[str, list[tuple[str, int, np.ndarray]]] = {"train": [], "test": []}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 4 or not parts[-1].endswith(".jpg"):
                continue
            split, cls = parts[-3], parts[-2]
            img = Image.open(_io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            splits[split].append((member.name, index[cls], np.asarray(img, dtype=np.uint8)))
    out = []
    for split in ("train", "test"):
        items = sorted(splits[split], key=lambda t: t[0])
        out += [np.stack([t[2] for t in items]), np.asarray([t[1] for t in items], dtype=np.int64)]
    return tuple(out)
