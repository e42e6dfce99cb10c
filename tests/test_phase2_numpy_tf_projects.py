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
    assert m["numpy_vs_torch_epoch_time_ratio"] > 0 and m["numpy_epoch_time_s"] > 0
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
