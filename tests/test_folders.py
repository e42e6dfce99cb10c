"""genai_roadmap.data.folders: class-per-folder image trees -> uint8 arrays, splits and balanced subsets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genai_roadmap.data.folders import (
    balanced_subset,
    load_folder_dataset,
    load_image_folder,
    read_image,
    stratified_split,
)
from genai_roadmap.errors import UserError


def write_image(path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def make_tree(root, counts: dict[str, int], size: int = 20, seed: int = 0) -> None:
    """counts[class] RGB images of random sizes around `size`, the class's colour plus noise."""
    rng = np.random.default_rng(seed)
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            h, w = rng.integers(size, 2 * size, 2)
            img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
            img[..., c % 3] += 180
            write_image(root / name / f"{i:03d}.png", img)


def test_folder_loads_rgb_uint8_with_labels_from_folder_names(tmp_path):
    make_tree(tmp_path, {"dog": 4, "cat": 3})
    write_image(tmp_path / "cat" / "grey.jpg", np.full((30, 40), 200, np.uint8))  # greyscale
    write_image(tmp_path / "dog" / "sub" / "rgba.png", np.full((25, 25, 4), 90, np.uint8), mode="RGBA")
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "dog" / "notes.txt").write_text("ignored: not an image suffix")
    (tmp_path / ".thumbs").mkdir()  # hidden folders are not classes
    data = load_image_folder(tmp_path, size=16)
    assert data.classes == ("cat", "dog")  # sorted folder names
    assert data.x.dtype == np.uint8 and data.x.shape == (9, 16, 16, 3)
    assert np.bincount(data.y).tolist() == [4, 5]
    assert [p.name for p in data.skipped] == ["broken.jpg"]
    grey = data.x[[p.name for p in data.files].index("grey.jpg")]
    assert (grey[..., 0] == grey[..., 1]).all() and abs(int(grey.mean()) - 200) <= 2  # grey -> R = G = B
    cats = data.x[data.y == 0][:3]  # cat was written second, so coloured on channel 1 (see make_tree)
    assert cats[..., 1].mean() > cats[..., 0].mean() + 100


def test_crop_keeps_the_centre_and_squash_keeps_everything(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, 10:30] = 255  # white centre square, black side bands
    write_image(tmp_path / "wide.png", img)
    cropped = read_image(tmp_path / "wide.png", 10, fit="crop")
    squashed = read_image(tmp_path / "wide.png", 10, fit="squash")
    assert cropped.min() == 255
    assert squashed[:, 0].max() == 0 and squashed[:, 5].min() == 255


def test_max_per_class_takes_a_seeded_sample(tmp_path):
    make_tree(tmp_path, {"a": 10, "b": 6})
    one = load_image_folder(tmp_path, 8, max_per_class=4, seed=3)
    two = load_image_folder(tmp_path, 8, max_per_class=4, seed=3)
    assert np.bincount(one.y).tolist() == [4, 4]
    assert one.files == two.files and np.array_equal(one.x, two.x)


@pytest.mark.parametrize("layout, message", [
    ({}, "needs at least 2 class sub-folders"),
    ({"only": 3}, "found 1"),
    ({"a": 2, "empty": 0}, "found 1"),
])
def test_bad_folders_are_user_errors(tmp_path, layout, message):
    make_tree(tmp_path, {k: v for k, v in layout.items() if v})
    for name, n in layout.items():
        if n == 0:
            (tmp_path / name).mkdir()
    with pytest.raises(UserError, match=message):
        load_image_folder(tmp_path, 8)


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="image folder not found"):
        load_image_folder(tmp_path / "nope", 8)


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    train, test = stratified_split(y, 0.2, seed=1)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(y)
    assert np.bincount(y[test]).tolist() == [10, 6, 4]
    again = stratified_split(y, 0.2, seed=1)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(stratified_split(y, 0.2, seed=2)[1], test)
    # tiny classes still get one image on each side
    train, test = stratified_split(np.array([0, 0, 1, 1, 1]), 0.1)
    assert np.bincount(np.array([0, 0, 1, 1, 1])[test]).tolist() == [1, 1]
    with pytest.raises(UserError, match="at least 2 per class"):
        stratified_split(np.array([0, 0, 1]), 0.5)
    with pytest.raises(UserError, match="between 0 and 1"):
        stratified_split(y, 1.5)


def test_balanced_subset_draws_equally_from_each_class():
    y = np.repeat([0, 1, 2], [500, 300, 40])
    idx = balanced_subset(y, 120, seed=0)
    assert np.bincount(y[idx]).tolist() == [40, 40, 40]
    assert len(np.unique(idx)) == len(idx)
    assert np.bincount(y[balanced_subset(y, 300)]).tolist() == [100, 100, 40]  # a small class gives all it has


def test_folder_dataset_uses_its_own_split_or_makes_a_stratified_one(tmp_path):
    make_tree(tmp_path / "flat", {"x": 10, "y": 10})
    data = load_folder_dataset(tmp_path / "flat", 12, test_fraction=0.3, seed=0)
    assert len(data.y_train) == 14 and np.bincount(data.y_test).tolist() == [3, 3]
    assert "stratified" in data.source
    make_tree(tmp_path / "split" / "train", {"x": 6, "y": 5})
    make_tree(tmp_path / "split" / "val", {"x": 2, "y": 3}, seed=1)
    data = load_folder_dataset(tmp_path / "split", 12)
    assert data.classes == ("x", "y") and len(data.y_train) == 11 and np.bincount(data.y_test).tolist() == [2, 3]
    assert "own split" in data.source
    make_tree(tmp_path / "odd" / "train", {"x": 3, "y": 3})
    make_tree(tmp_path / "odd" / "test", {"x": 3, "z": 3})
    with pytest.raises(UserError, match=r"lacks the class folders \['y'\]"):
        load_folder_dataset(tmp_path / "odd", 12)
