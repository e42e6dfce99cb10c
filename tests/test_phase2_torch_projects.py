"""Smoke tests for the PyTorch projects 2.1.2 (MLP on Fashion-MNIST) and 2.2.1 (CIFAR-10 classifier), exact resume
of a real project killed with SIGKILL through the `roadmap` CLI, and (slow tier) their cpu-preset targets."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from genai_roadmap import registry
from genai_roadmap.data.batches import ImageBatches, channel_stats, holdout_split
from genai_roadmap.data.images import load_fashion_mnist
from genai_roadmap.nn.mlp import MLP
from genai_roadmap.runs import execute
from genai_roadmap.train import load_weights, predict


def _epochs(run_dir):
    return [r for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if r["event"] == "epoch"]


def _no_times(metrics):
    return {k: v for k, v in metrics.items() if not k.endswith(("time_s", "_per_s"))}


@pytest.mark.realdata
def test_mlp_fashion_smoke_learns_and_reloads(need_data, tmp_path):
    run_dir, m = execute(registry.get("2.1.2"), preset="smoke", out=tmp_path, quiet=True)
    log = _epochs(run_dir)
    assert m["data_source"].startswith("fashion_mnist:") and "subset 2048/1024" in m["data_source"]
    assert m["test_acc"] > 0.6 and log[-1]["train_loss"] < log[0]["train_loss"]  # chance is 0.1
    assert len(m["per_class_acc"]) == 10 and m["architecture"] == "784-128-10"
    for name in ("loss", "accuracy", "confusion", "misclassified"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 1000
    # the saved weights, loaded into a fresh MLP, reproduce the reported test accuracy
    data = load_fashion_mnist().subset(2048, 1024, seed=0)
    model = load_weights(MLP(784, [128], 10), run_dir / "checkpoints" / "model.safetensors")
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["hidden"] == [128]
    keep, _ = holdout_split(2048, 512, seed=0)  # the project's hold-out, to rebuild its normalisation
    mean, std = channel_stats(data.x_train[keep])
    logits = predict(model, ImageBatches(data.x_test, data.y_test, batch_size=512, mean=mean, std=std),
                     device=torch.device("cpu"))
    assert float((logits.argmax(1).numpy() == data.y_test).mean()) == m["test_acc"]
    _, again = execute(registry.get("2.1.2"), preset="smoke", out=tmp_path, quiet=True)
    assert _no_times(again) == _no_times(m)  # same seed, same numbers


@pytest.mark.realdata
def test_cifar10_smoke_reloaded_model_scores_the_same(need_data, tmp_path):
    run_dir, m = execute(registry.get("2.2.1"), preset="smoke", out=tmp_path, quiet=True)
    log = _epochs(run_dir)
    assert m["data_source"].startswith("cifar10:")
    assert m["reload_matches"] and m["reloaded_test_acc"] == m["inmemory_test_acc"] == m["test_acc"]
    assert m["test_acc"] > 0.2 and log[-1]["train_loss"] < log[0]["train_loss"]  # chance is 0.1
    assert (run_dir / "checkpoints" / "model.safetensors").is_file()
    state = json.loads((run_dir / "checkpoints" / "train.json").read_text())
    assert state["state"]["position"]["done"] and state["step"] == 3 * (2048 // 128)
    for name in ("loss", "accuracy", "confusion", "predictions"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 1000


KILLER = """
    import os, signal, sys
    from genai_roadmap.train import engine

    original = engine.Trainer._train_step

    def guarded(self, batch):  # SIGKILL this process just before optimizer step KILL_AT_STEP + 1
        if self.step == int(os.environ["KILL_AT_STEP"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, batch)

    engine.Trainer._train_step = guarded
    from genai_roadmap.cli import main
    main(sys.argv[1:])
"""


@pytest.mark.realdata
def test_cli_resume_after_sigkill_matches_an_uninterrupted_run(need_data, tmp_path):
    """`roadmap run 2.1.2 --resume RUN_DIR` after a kill -9 mid-epoch ends with the uninterrupted run's metrics."""
    killer = tmp_path / "killer.py"
    killer.write_text(textwrap.dedent(KILLER))
    args = ["run", "2.1.2", "--preset", "smoke", "--set", "checkpoint_every=5", "--quiet"]
    env = {**os.environ, "KILL_AT_STEP": "23"}  # 12 steps per epoch: the last checkpoint is step 20 (epoch 2)
    killed = subprocess.run([sys.executable, killer, *args, "--out", tmp_path / "a"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (tmp_path / "a" / "2.1.2-mlp-fashion").iterdir()
    position = json.loads((run_dir / "checkpoints" / "train.json").read_text())["state"]["position"]
    assert position["step"] == 20 and position["batch"] == 8 and not (run_dir / "metrics.json").exists()

    cli = [sys.executable, "-m", "genai_roadmap.cli"]
    resumed = subprocess.run([*cli, "run", "2.1.2", "--resume", run_dir, "--quiet"], capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    straight = subprocess.run([*cli, *args, "--out", tmp_path / "b"], capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr
    (straight_dir,) = (tmp_path / "b" / "2.1.2-mlp-fashion").iterdir()
    first, second = (_no_times(json.loads((d / "metrics.json").read_text())) for d in (run_dir, straight_dir))
    assert first == second and first["test_acc"] > 0.6


def test_cifar10_whitening_sees_every_class_and_test_is_never_a_validation_set(tmp_path, monkeypatch):
    """On class-sorted data the whitening stem was fitted on x_train[:5000] (one class), and the engine was given
    the test set as `val`. Now: a stratified sample for the whitening; val_* only from a held-out split."""
    from toy_images import sorted_cifar_like

    from genai_roadmap.nn.cnn import CifarCNN
    from genai_roadmap.projects.phase2_deep_learning import cifar10_classifier

    monkeypatch.setattr(cifar10_classifier, "load_cifar10", lambda: sorted_cifar_like(6000, 500))
    seen = []
    original = CifarCNN.init_whitening
    monkeypatch.setattr(CifarCNN, "init_whitening", lambda self, x: (seen.append(x), original(self, x))[1])
    small = ["epochs=1", "widths=8,8,8", "batch_size=250", "whiten_images=5000"]
    run_dir, m = execute(registry.get("2.2.1"), preset="cpu", overrides=small, out=tmp_path, quiet=True)
    colours = {tuple(c) for c in seen[0].mean(dim=(2, 3)).round(decimals=0).tolist()}
    assert len(seen[0]) == 5000 and len(colours) >= 10  # the toy's 10 classes are 10 distinct mean colours
    assert not any(k.startswith("val") for r in _epochs(run_dir) for k in r)  # no validation split: no val_*
    assert m["test_acc"] > 0.2 and not any(k.startswith("val") for k in m)  # chance: 0.1

    run_dir, m = execute(registry.get("2.2.1"), preset="cpu", overrides=[*small, "val_size=1000"], out=tmp_path,
                         quiet=True)
    assert all("val_acc" in r for r in _epochs(run_dir))
    assert m["val_acc"] > 0.2 and not any("test" in k for k in m)  # a comparison run never scores test
