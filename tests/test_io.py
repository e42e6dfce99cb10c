"""Atomic writes: a folder written through io.atomic_folder replaces the old one whole, or not at all."""

from __future__ import annotations

import pytest

from genai_roadmap.io import atomic_folder


def test_atomic_folder_replaces_the_old_folder_whole(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.bin").write_text("old")
    with atomic_folder(target) as tmp:
        (tmp / "weights.bin").write_text("new")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "tokenizer.json").write_text("{}")
        assert not (target / "weights.bin").exists()  # nothing visible until the block succeeds
    assert sorted(p.name for p in target.rglob("*")) == ["sub", "tokenizer.json", "weights.bin"]
    assert (target / "weights.bin").stat().st_mode & 0o044  # readable like any other result file
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_failed_write_keeps_the_old_folder_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.bin").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(target) as tmp:
        (tmp / "weights.bin").write_text("half")
        raise RuntimeError("killed mid-save")
    assert [p.name for p in target.iterdir()] == ["old.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
