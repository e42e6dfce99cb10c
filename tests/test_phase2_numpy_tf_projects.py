"""Smoke tests for 2.1.1 (NumPy MLP) and 2.2.2 (TensorFlow digits + TF Serving), plus their cpu-preset targets."""

import json

import pytest

from genai_roadmap import registry
from genai_roadmap.runs import execute


def _epochs(run_dir):
    return [r for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if "epoch" in r]


@pytest.mark.realdata
def test_mlp_numpy_smoke_on_mnist(need_data, tmp_path):
    run_dir, m = execute(registry.get("2.1.1"), preset="smoke", out=tmp_path, quiet=True)
    log = _epochs(run_dir)
    assert m["data_source"].startswith("mnist") and m["architecture"] == "784-64-10"
    assert m["test_acc"] > 0.85 and log[-1]["train_loss"] < log[0]["train_loss"] / 2
    # The PyTorch twin starts from the same weights and sees the same batches: same accuracy after its epoch.
    assert abs(m["torch_test_acc_at_twin_epochs"] - m["numpy_test_acc_at_twin_epochs"]) <= 0.005
    # the ratio is NumPy time over PyTorch time for the same epoch (1 twin epoch in smoke): an inverted or
    # mismatched ratio breaks this; the logged epoch time is the NumPy epoch's
    assert m["twin_epochs"] == 1 and not any("val" in k for r in log for k in r)  # no validation split: no val_*
    assert m["numpy_vs_torch_epoch_time_ratio"] == pytest.approx(log[0]["epoch_time_s"] / m["torch_epoch_time_s"],
                                                                 rel=0.02, abs=0.002)
    for name in ("loss", "accuracy", "misclassified", "first_layer_weights"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 1000
    assert (run_dir / "checkpoints" / "mlp.safetensors").is_file()


def test_mlp_numpy_offline_digits_is_deterministic(tmp_path):
    """The no-mirror fallback (sklearn 8×8 digits) learns, and the same seed gives the same numbers."""
    overrides = ["dataset=digits", "n_train=none", "n_test=none", "epochs=6", "lr=0.003", "torch_epochs=0"]
    runs = [execute(registry.get("2.1.1"), preset="smoke", overrides=overrides, out=tmp_path / str(i), quiet=True)
            for i in range(2)]
    (run_dir, m), (_, m2) = runs
    assert m["data_source"] == "digits:sklearn-8x8" and m["architecture"] == "64-64-10"
    assert m["test_acc"] > 0.9
    assert {k: v for k, v in m.items() if not k.endswith("time_s")} == \
        {k: v for k, v in m2.items() if not k.endswith("time_s")}


def test_mlp_numpy_validation_split_never_scores_test(tmp_path, monkeypatch):
    """Settings are compared on a held-out validation split: val_* every epoch, no test number at all, and the
    held-out images are not trained on (a split that leaked them would score like the training probe)."""
    from genai_roadmap.projects.phase2_deep_learning import mlp_numpy_mnist

    evaluated = []
    original = mlp_numpy_mnist.evaluate
    monkeypatch.setattr(mlp_numpy_mnist, "evaluate", lambda model, x, y: (evaluated.append(len(y)),
                                                                          original(model, x, y))[1])
    overrides = ["dataset=digits", "n_train=none", "n_test=none", "epochs=4", "lr=0.003", "torch_epochs=0",
                 "val_size=300"]
    run_dir, m = execute(registry.get("2.1.1"), preset="smoke", overrides=overrides, out=tmp_path, quiet=True)
    assert m["val_acc"] > 0.85 and not any(k.startswith("test") for k in m)
    assert all("val_acc" in r for r in _epochs(run_dir))
    assert 450 not in evaluated and set(evaluated) <= {300, 1047}  # 1,797 digits: 450 test, 300 val, 1,047 train


@pytest.mark.realdata
def test_tf_digits_smoke_serves_what_it_trained(need_data, tmp_path):
    pytest.importorskip("tensorflow")
    run_dir, m = execute(registry.get("2.2.2"), preset="smoke", out=tmp_path, quiet=True)
    log = _epochs(run_dir)
    assert m["test_acc"] > 0.6 and log[-1]["loss"] < log[0]["loss"]
    assert m["served_matches_inmemory"] == 1.0 and m["served_max_abs_prob_diff"] < 1e-5
    assert m["served_state"] == "AVAILABLE" and m["served_latency_p50_ms"] > 0
    assert (run_dir / m["export_dir"] / "saved_model.pb").is_file() and m["export_dir"] == "export/digits/1"
    for name in ("loss", "accuracy", "confusion", "served_predictions"):
        assert (run_dir / "plots" / f"{name}.png").is_file()
    _, again = execute(registry.get("2.2.2"), preset="smoke", out=tmp_path, quiet=True)  # seeded + op determinism
    assert (again["test_acc"], again["test_loss"]) == (m["test_acc"], m["test_loss"])
