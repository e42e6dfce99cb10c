"""CIFAR-10 readers for both accepted variants, on tiny archives built here in the real formats."""

import io
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from genai_roadmap.data.images import CIFAR10_CLASSES, _read_cifar_jpgs, _read_cifar_pickles, load_digits_8x8


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def test_official_pickles_are_read_in_batch_order(tmp_path):
    rng = np.random.default_rng(0)
    batches = {}
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("data_batch_2", "data_batch_1", "test_batch"):  # stored out of order on purpose
            data = rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, size=3).tolist()
            batches[name] = (data, labels)
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps({b"data": data, b"labels": labels}))
    x_tr, y_tr, x_te, y_te = _read_cifar_pickles(path)
    assert x_tr.shape == (6, 32, 32, 3) and x_te.shape == (3, 32, 32, 3)
    first = batches["data_batch_1"][0][0].reshape(3, 32, 32).transpose(1, 2, 0)  # CHW rows -> HWC
    np.testing.assert_array_equal(x_tr[0], first)
    assert y_tr.tolist() == batches["data_batch_1"][1] + batches["data_batch_2"][1]
    assert y_te.tolist() == batches["test_batch"][1]


def test_jpeg_folders_are_read_with_labels_from_folder_names(tmp_path):
    path = tmp_path / "cifar10_jpg.tar.gz"
    colours = {"cat": (200, 30, 30), "ship": (30, 30, 200)}
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for cls, colour in colours.items():
                buf = io.BytesIO()
                Image.new("RGB", (32, 32), colour).save(buf, format="JPEG", quality=95)
                _add(tar, f"cifar10-jpg/{split}/{cls}/0001.jpg", buf.getvalue())
    x_tr, y_tr, x_te, y_te = _read_cifar_jpgs(path)
    assert x_tr.shape == (2, 32, 32, 3) and x_tr.dtype == np.uint8
    assert [CIFAR10_CLASSES[i] for i in y_tr] == ["cat", "ship"]
    assert abs(int(x_tr[0, ..., 0].mean()) - 200) < 5 and abs(int(x_tr[1, ..., 2].mean()) - 200) < 5


def test_digits_fallback_ships_with_sklearn():
    data = load_digits_8x8()
    assert data.x_train.shape[1:] == (8, 8) and data.x_train.max() == 255
    assert len(data.x_train) + len(data.x_test) == 1797 and data.source == "digits:sklearn-8x8"


@pytest.mark.realdata
def test_cifar10_never_comes_sorted_by_class(need_data):
    """The JPEG variant decodes in file-name order (class by class): the first 5,000 were all airplanes."""
    from genai_roadmap.data.images import load_cifar10

    data = load_cifar10()
    assert np.bincount(data.y_train[:1000], minlength=10).min() >= 60
    assert np.bincount(data.y_test[:500], minlength=10).min() >= 25
    again = load_cifar10()
    assert np.array_equal(data.y_train, again.y_train)  # a fixed order, not the run's seed


def test_subset_is_stratified_on_a_class_sorted_dataset():
    from genai_roadmap.data.images import ImageData

    y = np.repeat(np.arange(4), 50)
    data = ImageData(np.zeros((200, 2, 2), np.uint8), y, np.zeros((200, 2, 2), np.uint8), y, ("a", "b", "c", "d"),
                     "toy")
    small = data.subset(40, 20, seed=0)
    assert np.bincount(small.y_train).tolist() == [10] * 4 and np.bincount(small.y_test).tolist() == [5] * 4
