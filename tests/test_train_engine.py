"""The training engine: schedules, checkpoint encoding, weights, the fit loop, callbacks, and exact resume after
SIGKILL (a subprocess killed mid-epoch, resumed, compared with an uninterrupted run)."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import make_ctx, toy_images
from torch import nn

from genai_roadmap.data.batches import TensorBatches
from genai_roadmap.errors import UserError
from genai_roadmap.nn.mlp import MLP
from genai_roadmap.runs import seed_everything
from genai_roadmap.train import (
    Callback,
    EarlyStopping,
    Trainer,
    build_optimizer,
    classification_step,
    evaluate,
    load_checkpoint,
    load_weights,
    lr_factor,
    save_checkpoint,
    save_weights,
)
from genai_roadmap.train.checkpoint import decode, encode

_ctx = make_ctx
_data = toy_images


def _fit(tmp_path, epochs=3, callbacks=(), resume=False, **kw):
    seed_everything(0)
    train, test = _data()
    model = MLP(64, [32], 4, dropout=0.1)
    trainer = Trainer(model, build_optimizer(model, "adamw", 3e-3, 1e-2), _ctx(tmp_path, resume), epochs=epochs,
                      schedule="cosine", warmup=0.1, callbacks=callbacks, **kw)
    return trainer, trainer.fit(train, val=test), test


VOLATILE = ("epoch_time_s", "train_time_s", "peak_mem_mb")  # measured, not computed: differ between runs


def _strip(history):
    return [{k: v for k, v in h.items() if k not in VOLATILE} for h in history]


# ---- schedules ------------------------------------------------------------------------------------------

def test_schedules_warm_up_then_decay():
    total, warm = 100, 10
    assert lr_factor("cosine", 0, total, warm) == pytest.approx(0.1)
    assert lr_factor("cosine", 9, total, warm) == pytest.approx(1.0)
    assert lr_factor("cosine", 10, total, warm) == pytest.approx(1.0)
    assert lr_factor("cosine", 55, total, warm) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, total, warm, final=0.1) == pytest.approx(0.1)
    assert lr_factor("onecycle", 55, total, warm) == pytest.approx(0.5)
    assert lr_factor("step", 35, total, 0, step_every=10, gamma=0.5) == pytest.approx(0.125)
    assert lr_factor("none", 99, total) == 1.0
    with pytest.raises(UserError):
        lr_factor("exponential", 0, total)


# ---- checkpoint encoding, weights -----------------------------------------------------------------------

def test_encode_decode_round_trip():
    state = {"t": torch.arange(6.0).reshape(2, 3), "tuple": (1, 2.5, None, "x"), "ints": {0: {"m": torch.ones(2)},
             3: [True, 1e-300]}, "np": np.arange(4, dtype=np.uint32), "nested": [(np.int64(3), math.inf)]}
    tensors = {}
    encoded = encode(state, tensors)
    json.dumps(encoded)  # JSON-able
    back = decode(json.loads(json.dumps(encoded)), tensors)
    assert torch.equal(back["t"], state["t"]) and back["tuple"] == (1, 2.5, None, "x")
    assert torch.equal(back["ints"][0]["m"], torch.ones(2)) and back["ints"][3] == [True, 1e-300]
    assert back["np"].dtype == np.uint32 and np.array_equal(back["np"], state["np"])
    assert back["nested"] == [(3, math.inf)]
    with pytest.raises(TypeError):
        encode({"f": lambda: 0}, {})


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.conv = nn.Conv2d(4, 4, 3)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.emb.weight  # tied, like GPT's embedding and lm_head


def test_weights_round_trip_with_tied_and_channels_last(tmp_path):
    torch.manual_seed(0)
    model = _Tied().to(memory_format=torch.channels_last)
    save_weights(model, tmp_path / "w.safetensors")
    fresh = _Tied()
    load_weights(fresh, tmp_path / "w.safetensors")
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert fresh.out.weight is fresh.emb.weight


def test_checkpoint_commit_point_survives_a_torn_write(tmp_path):
    save_checkpoint(tmp_path, "fit", {"w": torch.ones(3), "step": 1}, step=1)
    (tmp_path / "fit-step000000002.safetensors").write_bytes(b"half a file")  # killed before the JSON
    state = load_checkpoint(tmp_path, "fit")
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    save_checkpoint(tmp_path, "fit", {"w": torch.zeros(3), "step": 3}, step=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit-step000000003.safetensors", "fit.json"]
    assert load_checkpoint(tmp_path, "other") is None


# ---- the fit loop -----------------------------------------------------------------------------------------

def test_fit_learns_logs_and_is_deterministic(tmp_path):
    trainer, history, test = _fit(tmp_path / "a", log_every=5)
    assert [h["epoch"] for h in history] == [1, 2, 3] and trainer.step == 3 * 15
    assert history[-1]["train_loss"] < history[0]["train_loss"] and history[-1]["val_acc"] > 0.45  # chance 0.25
    assert trainer.lr < 0.01 * 3e-3  # cosine to ~0
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert {r["event"] for r in log} == {"train", "epoch"} and "samples_per_s" in log[0]
    _, again, _ = _fit(tmp_path / "b", log_every=5)
    assert _strip(again) == _strip(history)


def test_evaluate_is_weighted_by_samples():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
    scores = evaluate(model, TensorBatches(x, y, batch_size=4), device=torch.device("cpu"))  # 4 + 4 + 2
    with torch.no_grad():
        assert scores["acc"] == pytest.approx((model(x).argmax(1) == y).float().mean().item())


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path):
    class Worsen(Callback):  # fake a validation curve that peaks at epoch 2
        def on_epoch_end(self, trainer, record):
            record["val_acc"] = {1: 0.5, 2: 0.9}.get(record["epoch"], 0.1)
            if record["epoch"] == 2:
                self.best = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    worsen, stopper = Worsen(), EarlyStopping("val_acc", "max", patience=2)
    trainer, history, _ = _fit(tmp_path, epochs=10, callbacks=[worsen, stopper])
    assert len(history) == 4 and stopper.best_epoch == 2
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, worsen.best[k]), k


def test_manual_step_with_two_optimizers(tmp_path):
    """The GAN-style hook: the step runs its own backward passes and optimizer steps."""
    torch.manual_seed(0)
    models = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)})
    opts = {"a": torch.optim.SGD(models["a"].parameters(), lr=0.1), "b": torch.optim.SGD(models["b"].parameters(),
                                                                                          lr=0.05)}
    x = torch.randn(256, 2)
    y = x @ torch.tensor([[2.0], [-1.0]])

    def step(model, batch, trainer):
        xb, yb = batch
        out = {}
        for name in ("a", "b"):
            with trainer.autocast():
                loss = ((model[name](xb) - yb) ** 2).mean()
            trainer.backward(loss)
            trainer.optimizer_step(name)
            out[f"loss_{name}"] = loss
        return out

    trainer = Trainer(models, opts, _ctx(tmp_path), epochs=20, step=step, manual=True, schedule="linear",
                      final_lr=0.1)
    history = trainer.fit(TensorBatches(x, y, batch_size=32, shuffle=True))
    assert history[-1]["train_loss_a"] < 1e-3 and history[-1]["train_loss_b"] < 0.05
    # linear from the base lr down to 0.1 × base: the last of 160 steps is 1/160 short of the end
    assert opts["a"].param_groups[0]["lr"] == pytest.approx(0.1 * (0.1 + 0.9 / 160))
    assert opts["b"].param_groups[0]["lr"] == pytest.approx(0.05 * (0.1 + 0.9 / 160))
    with pytest.raises(ValueError):
        Trainer(models, opts, None, epochs=1)  # several optimizers need manual=True


def test_resuming_a_finished_fit_restores_without_training(tmp_path):
    trainer, history, test = _fit(tmp_path, epochs=2)
    expected = trainer.evaluate(test)

    def boom(*_):
        raise AssertionError("a finished fit must not train again")

    again, history2, _ = _fit(tmp_path, epochs=2, resume=True, step=boom, eval_step=classification_step())
    assert again.done and _strip(history2) == _strip(history)
    assert again.evaluate(test) == expected


def test_several_processes_without_accelerate_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "accelerate", None)  # import fails
    with pytest.raises(UserError, match="accelerate"):
        Trainer(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), None, epochs=1)


# ---- exact resume after SIGKILL ------------------------------------------------------------------------

SYNTH_PROJECT = '''
import os, signal
from dataclasses import dataclass
import numpy as np, torch
from genai_roadmap.config import param
from genai_roadmap.data.batches import Augment, ImageBatches
from genai_roadmap.nn.mlp import MLP
from genai_roadmap.train import Callback, EarlyStopping, Trainer, build_optimizer, classification_step

@dataclass
class Config:
    epochs: int = param(3, "epochs")
    checkpoint_every: int = param(5, "steps between checkpoints")

PRESETS = {"smoke": {}, "cpu": {}, "full": {}}

class KillAt(Callback):
    def on_step_end(self, trainer, out):
        if trainer.step == int(os.environ.get("KILL_AT_STEP", "-1")):
            os.kill(os.getpid(), signal.SIGKILL)

def run(cfg, ctx):
    rng = np.random.default_rng(ctx.seed)
    y = rng.integers(0, 4, 1200)
    x = (rng.integers(0, 120, (1200, 8, 8)) + y[:, None, None] * 40).astype(np.uint8)
    train = ImageBatches(x[:1000], y[:1000], batch_size=64, shuffle=True, drop_last=True, seed=ctx.seed,
                         augment=Augment(crop=1, flip=True, cutout=3), mean=[0.5], std=[0.3])
    test = ImageBatches(x[1000:], y[1000:], batch_size=64, mean=[0.5], std=[0.3])
    model = MLP(64, [32], 4, dropout=0.2)  # dropout draws from torch's global RNG: it must be restored too
    trainer = Trainer(model, build_optimizer(model, "adamw", 3e-3, 1e-2), ctx, epochs=cfg.epochs,
                      step=classification_step(0.1), schedule="cosine", warmup=0.1, grad_clip=1.0,
                      checkpoint_every=cfg.checkpoint_every, log_every=4, max_steps=int(os.environ.get("MAX_STEPS", 0)),
                      callbacks=[EarlyStopping("val_acc", "max", patience=10), KillAt()])
    history = trainer.fit(train, val=test)
    volatile = ("epoch_time_s", "train_time_s", "peak_mem_mb")
    return {"history": [{k: v for k, v in h.items() if k not in volatile} for h in history],
            "test": trainer.evaluate(test), "torch_after": torch.rand(3).tolist(),
            "numpy_after": float(np.random.rand())}
'''

DRIVER = '''
import importlib.util, sys
from pathlib import Path
from genai_roadmap import registry
from genai_roadmap.runs import execute
spec = importlib.util.spec_from_file_location("synth_project", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
resume = Path(sys.argv[3]) if len(sys.argv) > 3 else None
execute(registry.get("2.1.2"), preset="smoke", out=Path(sys.argv[2]), resume=resume, quiet=True, module=module)
'''


def _python(args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


def _metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("wall_time_s")
    return metrics


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    project, driver = tmp_path / "synth_project.py", tmp_path / "driver.py"
    project.write_text(textwrap.dedent(SYNTH_PROJECT))
    driver.write_text(textwrap.dedent(DRIVER))
    # 15 steps per epoch, checkpoints every 5 steps: killed at step 23, the last checkpoint is step 20 (epoch 2,
    # batch 5), so the resumed run redoes steps 21-23 and must land on exactly the same numbers.
    killed = _python([driver, project, tmp_path / "a"], {"KILL_AT_STEP": "23"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (tmp_path / "a" / "2.1.2-mlp-fashion").iterdir()
    assert not (run_dir / "metrics.json").exists()
    pointer = json.loads((run_dir / "checkpoints" / "train.json").read_text())
    assert pointer["step"] == 20 and pointer["state"]["position"] == {"epoch": 1, "batch": 5, "step": 20,
                                                                       "stop": False, "done": False}
    resumed = _python([driver, project, tmp_path / "a", run_dir])
    assert resumed.returncode == 0, resumed.stderr
    assert any(json.loads(line)["event"] == "resumed" for line in (run_dir / "log.jsonl").read_text().splitlines())

    straight = _python([driver, project, tmp_path / "b"])
    assert straight.returncode == 0, straight.stderr
    (straight_dir,) = (tmp_path / "b" / "2.1.2-mlp-fashion").iterdir()
    assert _metrics(run_dir) == _metrics(straight_dir)
    assert _metrics(run_dir)["history"][-1]["val_acc"] > 0.45  # chance 0.25


def test_max_steps_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    project, driver = tmp_path / "synth_project.py", tmp_path / "driver.py"
    project.write_text(textwrap.dedent(SYNTH_PROJECT))
    driver.write_text(textwrap.dedent(DRIVER))
    # max_steps 37 ends the fit in epoch 3 at batch 7; killed at step 36, the last checkpoint is step 35
    # (epoch 3, batch 5): the resumed run redoes step 36, trains step 37 and stops mid-epoch like the straight one.
    killed = _python([driver, project, tmp_path / "a"], {"KILL_AT_STEP": "36", "MAX_STEPS": "37"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (tmp_path / "a" / "2.1.2-mlp-fashion").iterdir()
    position = json.loads((run_dir / "checkpoints" / "train.json").read_text())["state"]["position"]
    assert position == {"epoch": 2, "batch": 5, "step": 35, "stop": False, "done": False}
    resumed = _python([driver, project, tmp_path / "a", run_dir], {"MAX_STEPS": "37"})
    assert resumed.returncode == 0, resumed.stderr
    straight = _python([driver, project, tmp_path / "b"], {"MAX_STEPS": "37"})
    assert straight.returncode == 0, straight.stderr
    (straight_dir,) = (tmp_path / "b" / "2.1.2-mlp-fashion").iterdir()
    assert _metrics(run_dir) == _metrics(straight_dir)
    assert [h["step"] for h in _metrics(run_dir)["history"]] == [15, 30, 37]


def test_two_process_launch_shards_and_resumes_exactly(tmp_path):
    """Under a 2-process launch (torchrun, as `accelerate launch --multi_gpu` does; CPU + gloo here) each rank
    trains on half of every epoch, only rank 0 writes the run folder, and kill -9 + resume still ends exactly
    like an uninterrupted 2-process run."""
    pytest.importorskip("accelerate")
    project, driver = tmp_path / "synth_project.py", tmp_path / "driver.py"
    project.write_text(textwrap.dedent(SYNTH_PROJECT))
    driver.write_text(textwrap.dedent(DRIVER))
    launch = ["-m", "torch.distributed.run", "--nproc_per_node", "2", driver, project]
    env = {"ACCELERATE_USE_CPU": "1"}
    straight = _python([*launch, tmp_path / "b"], env)
    assert straight.returncode == 0, straight.stderr
    (straight_dir,) = (tmp_path / "b" / "2.1.2-mlp-fashion").iterdir()  # one run folder, written by rank 0
    assert [h["step"] for h in _metrics(straight_dir)["history"]] == [7, 14, 21]  # 500 images each, batch 64

    killed = _python([*launch, tmp_path / "a"], {**env, "KILL_AT_STEP": "12"})
    assert killed.returncode != 0
    (run_dir,) = (tmp_path / "a" / "2.1.2-mlp-fashion").iterdir()
    assert json.loads((run_dir / "checkpoints" / "train.json").read_text())["step"] == 10
    resumed = _python([*launch, tmp_path / "a", run_dir], env)
    assert resumed.returncode == 0, resumed.stderr
    assert _metrics(run_dir) == _metrics(straight_dir)
