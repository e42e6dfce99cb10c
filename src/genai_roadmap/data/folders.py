"""Any folder of images with one sub-folder per class, as uint8 arrays (the layout of Keras'
`image_dataset_from_directory` and torchvision's `ImageFolder`):

    root/cat/001.jpg  root/cat/002.png ...  root/dog/xyz.jpeg ...          (split here, stratified), or
    root/train/cat/... root/train/dog/...   root/test/cat/... (or val/)   (the folder's own split)

Every image is decoded with PIL, converted to RGB (greyscale, palette and RGBA images included) and brought to
size × size: `fit="crop"` scales the shorter side to `size` and crops the centre (keeps the aspect ratio),
`fit="squash"` resizes straight to size × size. Class names are the sub-folder names, sorted; files PIL cannot
read are skipped and counted. Images come back as uint8 [N, size, size, 3] and labels as int64 [N];
`load_folder_dataset` hands them out in a fixed seeded order (images.fixed_order), never sorted by class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import UserError
from .images import ImageData, fixed_order

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
TEST_SPLIT_NAMES = ("test", "val", "valid", "validation")


@dataclass
class FolderImages:
    x: np.ndarray  # uint8 [N, size, size, 3]
    y: np.ndarray  # int64 [N]
    classes: tuple[str, ...]
    files: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # files PIL could not decode


def class_folders(root: str | Path) -> tuple[Path, list[Path]]:
    """The root and its class sub-folders (sorted, hidden ones ignored), or one UserError saying what is wrong."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    with_images = [p for p in folders if any(_image_files(p))]
    if len(with_images) < 2:
        raise UserError(f"{root} needs at least 2 class sub-folders with images in them (one per class, e.g. "
                        f"{root}/cat/*.jpg and {root}/dog/*.jpg); found {len(with_images)}")
    return root, with_images


def _image_files(folder: Path):
    return (p for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def read_image(path: Path, size: int, fit: Literal["crop", "squash"] = "crop") -> np.ndarray:
    """One image as uint8 [size, size, 3]."""
    from PIL import Image

    with Image.open(path) as img:
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when the photo is much larger
        img = img.convert("RGB")
        if fit == "crop":
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
        img = img.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def load_image_folder(root: str | Path, size: int, fit: Literal["crop", "squash"] = "crop",
                      max_per_class: int | None = None, seed: int = 0,
                      classes: tuple[str, ...] | None = None) -> FolderImages:
    """All images under root/<class>/ (at most `max_per_class` per class, a seeded random choice).
    `classes` fixes the class list and order (for a test folder that must match its train folder)."""
    from PIL import UnidentifiedImageError

    root, folders = class_folders(root)
    if classes is not None:
        names = {p.name for p in folders}
        if missing := [c for c in classes if c not in names]:
            raise UserError(f"{root} lacks the class folders {missing} that the training folder has")
        folders = [root / c for c in classes]
    rng = np.random.default_rng(seed)
    xs, ys, files, skipped = [], [], [], []
    for label, folder in enumerate(folders):
        paths = list(_image_files(folder))
        if max_per_class and len(paths) > max_per_class:
            paths = [paths[i] for i in np.sort(rng.choice(len(paths), max_per_class, replace=False))]
        for path in paths:
            try:
                xs.append(read_image(path, size, fit))
            except (UnidentifiedImageError, OSError, ValueError):
                skipped.append(path)  # a truncated or mislabelled file (e.g. the famous few in Kaggle PetImages)
                continue
            ys.append(label)
            files.append(path)
    if not xs:
        raise UserError(f"no readable images under {root}")
    return FolderImages(np.stack(xs), np.asarray(ys, dtype=np.int64), tuple(p.name for p in folders), files,
                        skipped)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices (each in a random order, classes mixed) with each class split in the same
    proportion (at least one image per class on each side). Raises a UserError for a class with fewer than 2 images."""
    if not 0 < test_fraction < 1:
        raise UserError(f"test fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < 2:
            raise UserError(f"class {c} has {len(idx)} image; a train/test split needs at least 2 per class")
        n_test = min(max(1, round(len(idx) * test_fraction)), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))  # classes mixed


def balanced_subset(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of up to n images, n // n_classes from each class (all of a class that has fewer)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = max(1, n // len(classes))
    picks = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in classes]
    return np.sort(np.concatenate(picks))


def load_folder_dataset(root: str | Path, size: int, test_fraction: float = 0.2, seed: int = 0,
                        fit: Literal["crop", "squash"] = "crop", max_per_class: int | None = None) -> ImageData:
    """An ImageData from a class-per-folder tree: the folder's own train/test(val) split when it has one,
    else a stratified split of all images."""
    root = Path(root).expanduser()
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()} if root.is_dir() else {}
    test_dir = next((subdirs[n] for n in TEST_SPLIT_NAMES if n in subdirs), None)
    if "train" in subdirs and test_dir is not None:
        train = load_image_folder(subdirs["train"], size, fit, max_per_class, seed)
        test = load_image_folder(test_dir, size, fit, max_per_class, seed, classes=train.classes)
        return ImageData(*fixed_order(train.x, train.y), *fixed_order(test.x, test.y), train.classes,
                         f"folder:{root} (own split, {len(train.skipped) + len(test.skipped)} unreadable skipped)")
    data = load_image_folder(root, size, fit, max_per_class, seed)
    tr, te = stratified_split(data.y, test_fraction, seed)
    return ImageData(data.x[tr], data.y[tr], data.x[te], data.y[te], data.classes,
                     f"folder:{root} (stratified {1 - test_fraction:.0%}/{test_fraction:.0%} split, "
                     f"{len(data.skipped)} unreadable skipped)")
