"""The engine features later phases rely on (issue 8, and issue 7's engine side): GAN-safe manual steps, dict and
token-weighted batches, per-key meters, gradient accumulation, max_steps, step-level evaluation, trainable-only
checkpoints, early stopping without a second copy, corpus-level evaluation, generic predict, EMA across a
resume, non-finite losses, damaged checkpoints, orphan temporary files, training time across a resume."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from engine_fixtures import make_ctx, toy_images
from safetensors.torch import load_file
from torch import nn

from genai_roadmap.data.batches import TensorBatches
from genai_roadmap.data.text_batches import IGNORE_INDEX, TextBatches
from genai_roadmap.errors import RunFailed, UserError
from genai_roadmap.nn.mlp import MLP
from genai_roadmap.runs import seed_everything
from genai_roadmap.train import (
    EMA,
    Callback,
    CorpusMetric,
    EarlyStopping,
    TrainConfig,
    Trainer,
    build_optimizer,
    evaluate,
    load_checkpoint,
    predict,
)
from genai_roadmap.train import engine as engine_mod

_ctx = make_ctx
_images = toy_images


class CrashAt(Callback):
    """An in-process stand-in for a kill: raise after update `step` (checkpoints before it are committed)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, metrics):
        if trainer.step == self.step:
            raise KeyboardInterrupt


def _fit_mlp(path, resume=False, callbacks=(), **kw):
    seed_everything(0)
    train, test = _images()
    model = MLP(64, [32], 4, dropout=0.1)
    trainer = Trainer(model, build_optimizer(model, "adamw", 3e-3, 1e-2), _ctx(path, resume), epochs=3,
                      schedule="cosine", warmup=0.1, checkpoint_every=5, callbacks=list(callbacks), **kw)
    return trainer, train, test


# ---- 1. GAN-safe manual steps ------------------------------------------------------------------------------

class _GAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.g = nn.Linear(2, 2)
        self.d = nn.Linear(2, 1)


def _gan_step(leaks, n_critic=5):
    """WGAN-style: a critic update every batch, a generator update every n_critic-th; G's loss runs through D
    (one shared graph), so its backward pass puts gradients on D's weights too."""

    def step(model, batch, trainer):
        (real,) = batch
        z = torch.randn_like(real)
        d_loss = model.d(model.g(z).detach()).mean() - model.d(real).mean()
        trainer.backward(d_loss)
        trainer.optimizer_step("d")
        out = {"d_loss": d_loss}
        if trainer.step % n_critic == n_critic - 1:
            g_loss = -model.d(model.g(z)).mean()
            trainer.backward(g_loss)
            trainer.optimizer_step("g")
            leaks.append([p.grad for p in model.d.parameters()])
            out["g_loss"] = g_loss
        return out

    return step


def test_generator_step_leaves_no_gradient_on_the_discriminator_and_n_critic_counts_updates(tmp_path):
    torch.manual_seed(0)
    gan, leaks = _GAN(), []
    opts = {"d": torch.optim.SGD(gan.d.parameters(), lr=0.01), "g": torch.optim.SGD(gan.g.parameters(), lr=0.01)}
    trainer = Trainer(gan, opts, _ctx(tmp_path), epochs=2, step=_gan_step(leaks), manual=True)
    history = trainer.fit(TensorBatches(torch.randn(320, 2) + 3, batch_size=16, shuffle=True))
    assert trainer.step == 40 and trainer.updates == {"d": 40, "g": 8}
    assert len(leaks) == 8 and all(g is None or not g.any() for grads in leaks for g in grads)
    # g_loss was reported on 4 of 20 steps per epoch: averaged over those, not diluted by the others
    assert "train_g_loss" in history[0] and "train_d_loss" in history[0]


def test_the_discriminator_update_after_a_generator_step_is_its_own_loss_only():
    torch.manual_seed(0)
    gan = _GAN()
    opts = {"d": torch.optim.SGD(gan.d.parameters(), lr=0.1), "g": torch.optim.SGD(gan.g.parameters(), lr=0.1)}
    trainer = Trainer(gan, opts, None, epochs=1, manual=True, progress=False)
    real, z = torch.randn(8, 2), torch.randn(8, 2)
    trainer.backward(-gan.d(gan.g(z)).mean())  # generator loss: leaks into D
    trainer.optimizer_step("g")
    w = gan.d.weight.detach().clone()
    d_loss = gan.d(gan.g(z).detach()).mean() - gan.d(real).mean()
    (grad,) = torch.autograd.grad(d_loss, gan.d.weight, retain_graph=True)
    trainer.backward(d_loss)
    trainer.optimizer_step("d")
    assert torch.allclose(gan.d.weight, w - 0.1 * grad)


def test_grad_scaler_updates_once_per_iteration(tmp_path):
    torch.manual_seed(0)
    gan, calls = _GAN(), []
    opts = {"d": torch.optim.SGD(gan.d.parameters(), lr=0.01), "g": torch.optim.SGD(gan.g.parameters(), lr=0.01)}
    trainer = Trainer(gan, opts, None, epochs=1, step=_gan_step([], n_critic=1), manual=True, progress=False)
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    real_update = trainer.scaler.update
    trainer.scaler.update = lambda *a: (calls.append(1), real_update(*a))
    trainer.fit(TensorBatches(torch.randn(64, 2), batch_size=16))
    assert trainer.updates == {"d": 4, "g": 4} and len(calls) == 4


# ---- 2. dict batches, token weights ------------------------------------------------------------------------

class _TinyLM(nn.Module):
    def __init__(self, vocab=12, dim=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, input_ids, attention_mask=None, lengths=None):
        return self.out(self.emb(input_ids))  # [B, T, V]


def _lm_step(model, batch, trainer=None):
    assert isinstance(batch, dict), "dict batches must reach the step as dicts"
    logits = model(batch["input_ids"][:, :-1])
    targets = batch["input_ids"][:, 1:].masked_fill(batch["attention_mask"][:, 1:] == 0, IGNORE_INDEX)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)
    return {"loss": loss, "weight": (targets != IGNORE_INDEX).sum()}


def _sentences(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(1, 12, rng.integers(2, 15))) for _ in range(n)]


def test_dict_batches_reach_the_step_whole_on_the_device(tmp_path):
    seen = []

    def step(model, batch, trainer):
        seen.append({k: v.device for k, v in batch.items()})
        return _lm_step(model, batch, trainer)

    torch.manual_seed(0)
    model = _TinyLM()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), None, epochs=1, step=step, progress=False)
    trainer.fit(TextBatches(_sentences(), batch_size=8))
    assert seen and all(set(s) == {"input_ids", "attention_mask", "lengths"} for s in seen)
    assert all(d == trainer.device for s in seen for d in s.values())


def test_token_weighted_loss_is_the_mean_over_all_tokens():
    torch.manual_seed(0)
    model, seqs = _TinyLM(), _sentences(37)
    scores = evaluate(model, TextBatches(seqs, batch_size=8), _lm_step)
    total, tokens = 0.0, 0
    with torch.no_grad():
        for s in seqs:  # one sequence at a time, no padding: the hand-computed per-token mean
            ids = torch.tensor([s])
            total += F.cross_entropy(model(ids[:, :-1])[0], ids[0, 1:], reduction="sum").item()
            tokens += len(s) - 1
    assert scores == {"loss": pytest.approx(total / tokens, rel=1e-5)}  # "weight" is not a metric


# ---- 3. meters ----------------------------------------------------------------------------------------------

def test_each_scalar_is_averaged_over_the_steps_that_reported_it():
    def step(model, batch, trainer):
        out = {"loss": model(batch[0]).pow(2).mean(), "a": torch.tensor(1.0)}
        if trainer.step % 2 == 1:
            out["b"] = torch.tensor(float(trainer.step))  # steps 1, 3, 5, 7
        if trainer.step == 0:
            del out["a"]
        return out

    model = nn.Linear(2, 1)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), None, epochs=1, step=step,
                      progress=False)
    (record,) = trainer.fit(TensorBatches(torch.randn(64, 2), batch_size=8))
    assert record["train_b"] == pytest.approx(4.0) and record["train_a"] == 1.0


# ---- 4. accumulation, max_steps, step-level evaluation, checkpoints --------------------------------------------

def _linear_fit(batch_size, accumulate):
    torch.manual_seed(0)
    x, y = torch.randn(96, 5), torch.randint(0, 3, (96,))
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9), None, epochs=2,
                      accumulate=accumulate, progress=False)
    trainer.fit(TensorBatches(x, y, batch_size=batch_size))
    return trainer, model


def test_accumulating_k_micro_batches_equals_one_batch_k_times_larger():
    big, model_big = _linear_fit(32, 1)
    small, model_small = _linear_fit(8, 4)
    assert big.step == small.step == 6
    for a, b in zip(model_big.parameters(), model_small.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    _, model_plain = _linear_fit(8, 1)  # the same micro-batches without accumulation: a different model
    assert not torch.allclose(next(model_plain.parameters()), next(model_small.parameters()), atol=1e-3)


def test_max_steps_stops_mid_epoch_and_evaluates_every_n_steps(tmp_path):
    trainer, train, test = _fit_mlp(tmp_path, max_steps=22, eval_every_steps=10)
    history = trainer.fit(train, val=test)
    assert trainer.step == 22 and [h["step"] for h in history] == [15, 22]
    assert "val_acc" in history[-1]  # the last (partial) epoch is validated
    assert [e["step"] for e in trainer.evals] == [10, 20] and all("val_loss" in e for e in trainer.evals)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["event"] == "eval"] == [10, 20]
    assert all(h["peak_mem_mb"] > 10 for h in history)


def test_a_frozen_base_checkpoint_holds_only_trainable_tensors_and_reloads(tmp_path):
    def build():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.Linear(64, 4))
        for p in [*model[0].parameters(), *model[1].parameters()]:
            p.requires_grad_(False)
        return model

    x, y = torch.randn(256, 64), torch.randint(0, 4, (256,))
    model = build()
    trainer = Trainer(model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2),
                      _ctx(tmp_path), epochs=2)
    trainer.fit(TensorBatches(x, y, batch_size=32, shuffle=True))
    pointer = json.loads((tmp_path / "checkpoints" / "train.json").read_text())
    stored = load_file(str(tmp_path / "checkpoints" / pointer["tensors"]))
    assert {k for k in stored if k.startswith("/model/")} == {
        "/model/2.weight", "/model/2.bias", "/model/1.running_mean", "/model/1.running_var",
        "/model/1.num_batches_tracked"}
    again = build()
    restored = Trainer(again, torch.optim.AdamW([p for p in again.parameters() if p.requires_grad], lr=1e-2),
                       _ctx(tmp_path, resume=True), epochs=2)
    restored.fit(TensorBatches(x, y, batch_size=32, shuffle=True))
    assert restored.done
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_early_stopping_keeps_its_best_weights_in_one_file_not_in_every_checkpoint(tmp_path):
    stopper = EarlyStopping("val_acc", "max", patience=5)
    trainer, train, test = _fit_mlp(tmp_path, callbacks=[stopper])
    trainer.fit(train, val=test)
    state = load_checkpoint(tmp_path / "checkpoints", "train")
    assert state["callbacks"][0]["best_weights"] is None and stopper.best_weights is None
    assert (tmp_path / "checkpoints" / "train-best.safetensors").is_file()


# ---- 5. corpus-level evaluation, generic predict ------------------------------------------------------------

def test_corpus_metric_sees_every_prediction_once_per_validation(tmp_path):
    calls = []

    def predict_batch(model, batch):
        x, y = batch
        return model(x).argmax(1).tolist(), y.tolist()

    def score(preds, refs):
        calls.append(len(preds))
        return {"exact": float(np.mean([p == r for p, r in zip(preds, refs, strict=True)]))}

    trainer, train, test = _fit_mlp(tmp_path, corpus_metric=CorpusMetric(predict_batch, score))
    history = trainer.fit(train, val=test)
    assert calls == [200, 200, 200]
    assert all(h["val_exact"] == pytest.approx(h["val_acc"]) for h in history)  # same thing, computed once


def test_predict_takes_dict_batches_and_any_output_and_keeps_flip_for_images():
    torch.manual_seed(0)
    model = _TinyLM()
    logits = predict(model, TextBatches([[1, 2, 3], [4, 5, 6], [7, 8, 9]], batch_size=2))
    assert logits.shape == (3, 3, 12)
    with torch.no_grad():
        torch.testing.assert_close(logits[2], model(torch.tensor([[7, 8, 9]]))[0])
    means = predict(model, TensorBatches(torch.randint(0, 12, (5, 4)), batch_size=2), lambda m, b: m(b[0]).mean(1))
    assert means.shape == (5, 12)
    with pytest.raises(ValueError, match="flip_tta"):
        predict(model, TensorBatches(torch.randint(0, 12, (5, 4)), batch_size=2), flip_tta=True)


# ---- 6. EMA -------------------------------------------------------------------------------------------------

def test_ema_weights_survive_a_resume(tmp_path):
    ema = EMA(decay=0.9)
    trainer, train, test = _fit_mlp(tmp_path / "straight", callbacks=[ema])
    trainer.fit(train, val=test)
    assert not torch.equal(ema.shadow["head.weight"], trainer.model.state_dict()["head.weight"].float())

    crashed, train, test = _fit_mlp(tmp_path / "crashed", callbacks=[EMA(decay=0.9), CrashAt(23)])
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(train, val=test)
    resumed_ema = EMA(decay=0.9)
    resumed, train, test = _fit_mlp(tmp_path / "crashed", resume=True, callbacks=[resumed_ema, CrashAt(-1)])
    resumed.fit(train, val=test)
    assert resumed_ema.updates == ema.updates == 45
    for k, v in ema.shadow.items():
        assert torch.equal(v, resumed_ema.shadow[k]), k
    before = resumed.evaluate(test)
    with resumed_ema.applied(resumed.model):
        assert resumed.evaluate(test) != before
    assert resumed.evaluate(test) == before  # the trained weights are back


# ---- issue 7: non-finite loss, damaged checkpoints, orphans, time across resumes -------------------------------

def test_a_loss_that_becomes_nan_stops_the_fit_naming_epoch_and_step(tmp_path):
    def step(model, batch, trainer):
        loss = model(batch[0]).pow(2).mean()
        return {"loss": loss * float("nan") if trainer.step == 6 else loss}

    model = nn.Linear(2, 1)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), _ctx(tmp_path), epochs=3, step=step,
                      log_every=2)
    with pytest.raises(RunFailed, match=r"^train: loss became nan at epoch 2, step 7; lower lr"):
        trainer.fit(TensorBatches(torch.randn(40, 2), batch_size=8))
    assert load_checkpoint(tmp_path / "checkpoints", "train")["position"]["step"] == 5  # no diverged checkpoint


@pytest.mark.parametrize("damage", ["json", "tensors", "missing"])
def test_resume_from_a_damaged_checkpoint_is_a_user_error_naming_the_file(tmp_path, damage):
    trainer, train, test = _fit_mlp(tmp_path, max_steps=7)
    trainer.fit(train)
    folder = tmp_path / "checkpoints"
    pointer = folder / "train.json"
    tensors = folder / json.loads(pointer.read_text())["tensors"]
    if damage == "json":
        pointer.write_text(pointer.read_text()[:200])
        named = pointer
    elif damage == "tensors":
        tensors.write_bytes(tensors.read_bytes()[:100])
        named = tensors
    else:
        tensors.unlink()
        named = tensors
    again, train, test = _fit_mlp(tmp_path, resume=True, max_steps=7)
    with pytest.raises(UserError, match=str(named.name)) as err:
        again.fit(train)
    assert "\n" not in str(err.value)


def test_orphan_temporary_files_are_removed_when_a_fit_starts(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir(parents=True)
    orphans = [folder / ".train.json.k2j3h4.tmp", folder / ".train-step000000020.safetensors.x1.safetensors"]
    keep = [folder / ".other.json.abc.tmp", folder / "notes.txt"]
    for p in orphans + keep:
        p.write_bytes(b"x" * 100)
    trainer, train, test = _fit_mlp(tmp_path, max_steps=3)
    trainer.fit(train)
    assert not any(p.exists() for p in orphans) and all(p.exists() for p in keep)


def test_train_time_counts_the_whole_training_across_a_resume(tmp_path, monkeypatch):
    clock = [0.0]

    class Tick(Callback):  # a fake clock: every update takes exactly one "second"
        def on_step_end(self, trainer, metrics):
            clock[0] += 1.0

    monkeypatch.setattr(engine_mod.time, "perf_counter", lambda: clock[0])
    crashed, train, test = _fit_mlp(tmp_path, callbacks=[Tick(), CrashAt(23)])
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(train)
    assert load_checkpoint(tmp_path / "checkpoints", "train")["train_time_s"] == 20.0  # the step-20 checkpoint
    resumed, train, test = _fit_mlp(tmp_path, resume=True, callbacks=[Tick(), CrashAt(-1)])
    history = resumed.fit(train)
    assert resumed.train_time_s == 45.0 and history[-1]["train_time_s"] == 45.0


def test_trainer_accepts_a_config_and_old_keywords_alike():
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    a = Trainer(model, opt, None, TrainConfig(epochs=4, grad_clip=1.0), log_every=7)
    assert (a.epochs, a.grad_clip, a.log_every, a.config.accumulate) == (4, 1.0, 7, 1)
    with pytest.raises(TypeError, match="epoch"):
        Trainer(model, opt, None, epoch=3)
