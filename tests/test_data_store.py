"""The data layer: mirror found and checked, checksum mismatch and missing files give one clear error."""

import gzip
import hashlib

import numpy as np
import pytest

from genai_roadmap.data import store
from genai_roadmap.data.images import read_idx
from genai_roadmap.data.registry import DATASETS, DataFile, Dataset, Variant
from genai_roadmap.errors import UserError


def _fake_dataset(tmp_path, content: bytes, url=None) -> Dataset:
    sha = hashlib.sha256(content).hexdigest()
    return Dataset("fake", "fake", (Variant("v", (DataFile("f.bin", sha, len(content), url),)),), "", "", "", "")


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADMAP_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("ROADMAP_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "mirror" / "fake").mkdir(parents=True)
    return tmp_path / "mirror" / "fake"


def test_mirror_file_is_found_and_checked(mirror, monkeypatch):
    content = b"hello mirror"
    ds = _fake_dataset(mirror, content)
    monkeypatch.setitem(DATASETS, "fake", ds)
    (mirror / "f.bin").write_bytes(content)
    variant, paths = store.resolve_variant("fake")
    assert variant.name == "v" and paths["f.bin"] == mirror / "f.bin"


def test_corrupted_file_names_the_file(mirror, monkeypatch):
    ds = _fake_dataset(mirror, b"the real bytes")
    monkeypatch.setitem(DATASETS, "fake", ds)
    (mirror / "f.bin").write_bytes(b"the fake bytes")  # same size, other content
    with pytest.raises(UserError, match=r"checksum error: .*f\.bin has sha256"):
        store.resolve_variant("fake")


def test_truncated_file_is_a_checksum_error(mirror, monkeypatch):
    monkeypatch.setitem(DATASETS, "fake", _fake_dataset(mirror, b"0123456789"))
    (mirror / "f.bin").write_bytes(b"01234")
    with pytest.raises(UserError, match="5 bytes, expected 10"):
        store.resolve_variant("fake")


def test_missing_offline_names_file_sha_and_place(mirror, monkeypatch):
    ds = _fake_dataset(mirror, b"absent")
    monkeypatch.setitem(DATASETS, "fake", ds)
    with pytest.raises(UserError) as exc:
        store.resolve_variant("fake")
    message = str(exc.value)
    assert "f.bin" in message and ds.variants[0].files[0].sha256 in message and str(mirror) in message


def test_failed_download_is_one_clear_error(mirror, monkeypatch):
    # A URL nothing listens on: the download fails at once, as it does offline.
    monkeypatch.setitem(DATASETS, "fake", _fake_dataset(mirror, b"x", url="http://127.0.0.1:9/f.bin"))
    with pytest.raises(UserError, match="download from http://127.0.0.1:9/f.bin failed"):
        store.resolve_variant("fake")
    assert not list((mirror.parent.parent / "cache").rglob("*f.bin*")), "no half-written download left behind"


def test_every_dataset_has_checksums():
    for ds in DATASETS.values():
        for variant in ds.variants:
            for f in variant.files:
                assert len(f.sha256) == 64 and f.size > 0, (ds.name, f.name)


def test_read_idx_roundtrip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + np.array([2, 3, 4], dtype=">u4").tobytes()
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + images.tobytes()))
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.realdata
def test_mirror_datasets_verify(need_data):
    for name in ("mnist", "fashion_mnist", "cifar10", "boston_housing", "titanic"):
        rows = store.verify_dataset(name)
        assert any(status == "ok" for _, status, _ in rows), name
        assert not any(status == "bad" for _, status, _ in rows), rows


@pytest.mark.realdata
def test_mnist_loads(need_data):
    from genai_roadmap.data.images import load_mnist

    data = load_mnist()
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.x_train.dtype == np.uint8 and np.bincount(data.y_test).min() > 800
