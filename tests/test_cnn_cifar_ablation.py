"""2.3.1 cnn-cifar-ablation: the plain CNN's shapes and sizes, and a smoke run of the depth × augmentation grid."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn
from toy_images import sorted_cifar_like

from genai_roadmap import registry, runs
from genai_roadmap.errors import UserError
from genai_roadmap.nn.plain_cnn import PlainCNN, blocks_per_stage, count_parameters
from genai_roadmap.projects.phase2_deep_learning import cnn_cifar_ablation


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6, 8])
def test_plain_cnn_has_depth_conv_blocks_and_classifies(depth):
    model = PlainCNN(depth=depth, width=8)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == depth
    assert sum(blocks_per_stage(depth)) == depth
    assert len(model.stages) == min(depth, 3)
    x = torch.randn(5, 3, 32, 32)
    assert model(x).shape == (5, 10)
    # each stage halves the resolution and doubles the width
    features = model.stages(x)
    n_stages = len(model.stages)
    assert features.shape == (5, 8 * 2 ** (n_stages - 1), 32 // 2**n_stages, 32 // 2**n_stages)


def test_plain_cnn_parameters_grow_with_depth():
    counts = [count_parameters(PlainCNN(depth=d, width=16)) for d in (2, 4, 6)]
    assert counts[0] < counts[1] < counts[2]
    # depth 2 = conv 3->16, conv 16->32 (no bias), two BNs (weight+bias), linear 32->10
    assert counts[0] == 27 * 16 + 144 * 32 + 2 * (16 + 32) + 32 * 10 + 10
    with pytest.raises(ValueError):
        PlainCNN(depth=0)


def test_plain_cnn_trains_on_a_separable_toy_batch():
    torch.manual_seed(0)
    x = torch.randn(32, 3, 16, 16)
    y = (x[:, 0].mean(dim=(1, 2)) > 0).long()  # label = sign of the red channel's mean
    model = PlainCNN(depth=2, width=8, num_classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(25):
        loss = nn.functional.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_unknown_augmentation_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="augmentation"):
        runs.execute(registry.get("2.3.1"), preset="smoke", overrides=["augmentations=none,mixup"], out=tmp_path,
                     quiet=True)


def test_validation_split_and_grid_subset_are_stratified_even_on_class_sorted_data():
    data = sorted_cifar_like()
    rest, val = cnn_cifar_ablation.split_validation(data, 500, seed=0)
    assert not set(rest) & set(val) and len(rest) + len(val) == 1200
    assert np.bincount(data.y_train[val], minlength=10).tolist() == [50] * 10
    assert np.bincount(data.y_train[rest[:300]], minlength=10).tolist() == [30] * 10  # the grid's training slice


def test_smoke_run_never_evaluates_test_during_training_and_names_test_metrics(tmp_path, monkeypatch):
    """The final model used to be fitted with val=test: its log called test accuracy val_acc."""
    monkeypatch.setattr(cnn_cifar_ablation, "load_cifar10", sorted_cifar_like)
    run_dir, metrics = runs.execute(registry.get("2.3.1"), preset="smoke", out=tmp_path, quiet=True,
                                    overrides=["grid_train=600", "val_size=300", "final_train=900",
                                               "test_size=200"])
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    final_epochs = [e for e in events if e.get("event") == "epoch" and e.get("fit") == "final"]
    assert len(final_epochs) == 2 and not any(k.startswith("val_") for e in final_epochs for k in e)
    assert "best_test_acc" not in metrics and metrics["test_acc"] > 0.5  # 10 separable colours: chance is 0.1
    with open(run_dir / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    best = max(rows, key=lambda r: float(r["val_acc"]))
    assert (metrics["best_config"]["depth"], metrics["best_config"]["augmentation"]) == \
        (int(best["depth"]), best["augmentation"])
    assert registry.get("2.3.1").target.metric in metrics


@pytest.mark.realdata
def test_smoke_run_writes_the_grid_and_beats_chance(tmp_path, need_data):
    run_dir, metrics = runs.execute(registry.get("2.3.1"), preset="smoke", out=tmp_path, quiet=True)
    with open(run_dir / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    cells = {(int(r["depth"]), r["augmentation"]) for r in rows}
    assert cells == {(1, "none"), (1, "flip-crop"), (2, "none"), (2, "flip-crop")}
    val_accs = [float(r["val_acc"]) for r in rows]
    assert max(val_accs) > 0.15  # 10 classes: chance is 0.10
    assert metrics["best_val_acc"] == max(val_accs)
    assert metrics["test_acc"] > 0.15 and metrics["data_source"].startswith("cifar10:")
    assert (run_dir / "results.md").read_text().count("\n") == 2 + len(rows)
    for name in ("grid_heatmap.png", "final_curves.png", "misclassified.png"):
        assert (run_dir / "plots" / name).stat().st_size > 5000
    assert json.loads((run_dir / "metrics.json").read_text())["test_acc"] == metrics["test_acc"]
