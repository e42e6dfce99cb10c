"""2.1.1 — a feedforward network from scratch in NumPy, classifying MNIST digits.

The roadmap asks for a simple feedforward network written with NumPy alone. `genai_roadmap.scratch.mlp` has the
pieces with their forward and backward passes written out: Linear layers with He initialisation, ReLU, softmax
cross-entropy, mini-batch SGD with momentum and Adam; its tests check backprop against finite differences and
against PyTorch on the same weights. This file trains a 784-512-256-10 network with Adam (lr 1e-3, decayed ×0.8
per epoch, batches of 128) for 12 epochs on the 60,000 training images and reports accuracy on the 10,000 test
images (pixels scaled to [0, 1], then standardised with the training set's mean and std). The test set is
scored once, after training; settings are compared on a validation split instead: `--set val_size=5000`
holds out 5,000 stratified random training images, scores them after every epoch (val_* in log.jsonl and
the curves) and reports val_acc without touching the test set.

During the first `torch_epochs` epochs the identical network (same initial weights, same batches, same Adam) is
trained in PyTorch in lockstep, epoch for epoch, so both sides see the same machine load: the ratio of their
epoch times is `numpy_vs_torch_epoch_time_ratio`, and their accuracies after those epochs should agree (on the
scored set: a check of the two implementations, not a choice).

Result, `roadmap run 2.1.1` (cpu preset, seed 0): test accuracy 98.39%, scored once after training (seeds 1
and 2 gave 98.41% and 98.57% in an earlier session); after their 2 lockstep epochs the NumPy and PyTorch twins
reached 97.36% and 97.61%. On 2 free cores one NumPy epoch took 1.08 s against 1.12 s for the PyTorch twin
(ratio 0.97; 0.92-0.98 over four runs, an earlier session). With a PyTorch training holding the other core the
ratio was 6.8 (NumPy epochs 19-61 s): OpenBLAS's threads degrade far more than torch's passive OpenMP threads
when a core is taken, so quote the ratio from an idle machine only.
The reference is 1.6% error (98.4%) for 800 hidden units with cross-entropy (Simard et al. 2003,
LeCun's MNIST table). `--set dataset=digits` trains on scikit-learn's 8×8 digits instead (no download; 64 inputs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...config import param
from ...data.images import ImageData, load_digits_8x8, load_mnist
from ...data.splits import stratified_split
from ...errors import UserError
from ...io import write_with
from ...runs import RunContext
from ...scratch.mlp import MLP, SGD, Adam, torch_twin, train_epoch
from ...viz import curves, image_grid


@dataclass
class Config:
    dataset: Literal["mnist", "digits"] = param("mnist", "mnist (28×28, 60k/10k) or digits (sklearn 8×8, offline)")
    hidden: list[int] = param([512, 256], "hidden layer widths (ReLU after each)", min=1)
    optimizer: Literal["adam", "sgd"] = param("adam", "adam, or sgd with momentum")
    lr: float = param(1e-3, "initial learning rate (try 0.05 for sgd)", gt=0)
    momentum: float = param(0.9, "momentum for sgd (ignored by adam)", min=0, lt=1)
    lr_decay: float = param(0.8, "learning rate multiplied by this after every epoch", gt=0, max=1)
    epochs: int = param(12, "passes over the training set", min=1)
    batch_size: int = param(128, "images per gradient step", min=1)
    n_train: int | None = param(None, "training images to use (None = all)", min=1, max=60000)
    n_test: int | None = param(None, "test images to use (None = all)", min=1, max=10000)
    torch_epochs: int = param(2, "epochs the identical PyTorch network trains alongside, for the timing (0 = off)",
                              min=0)
    val_size: int = param(0, "training images held out (stratified random) to compare settings on; > 0 scores "
                             "that validation split every epoch (val_*) and never the test set", min=0)


PRESETS = {
    "smoke": {"n_train": 3000, "n_test": 1000, "epochs": 3, "hidden": [64], "torch_epochs": 1},
    "cpu": {},
    "full": {"epochs": 20, "hidden": [800], "lr_decay": 0.85},
}


def load(cfg: Config, seed: int) -> tuple[ImageData, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Flattened, standardised (x_train, y_train, x_scored, y_scored) and the scored split's name: the test set,
    or with val_size > 0 a stratified validation split held out of the training images."""
    data = load_mnist() if cfg.dataset == "mnist" else load_digits_8x8(seed=seed)
    if cfg.n_train or cfg.n_test:
        data = data.subset(cfg.n_train, cfg.n_test, seed=seed)
    split = "test"
    if cfg.val_size:
        if cfg.val_size >= len(data.y_train):
            raise UserError(f"val_size must be below the {len(data.y_train)} training images, got {cfg.val_size}")
        rest, val = stratified_split(data.y_train, cfg.val_size, seed)
        data = ImageData(data.x_train[rest], data.y_train[rest], data.x_train[val], data.y_train[val],
                         data.classes, data.source + f" (validation split of {cfg.val_size})")
        split = "val"
    x_train = data.x_train.reshape(len(data.x_train), -1).astype(np.float32) / 255
    x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float32) / 255
    mean, std = x_train.mean(), x_train.std()  # one scalar pair from the training set, applied to both
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std
    return data, x_train, data.y_train, x_test, data.y_test, split


def torch_epoch(net, opt, x, y, perm: np.ndarray, batch: int) -> float:
    """The same epoch in idiomatic PyTorch (x, y are tensors; same batches as the NumPy side)."""
    import torch

    perm_t = torch.from_numpy(perm)
    total = 0.0
    for start in range(0, len(perm), batch):
        idx = perm_t[start:start + batch]
        loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / len(perm)


def evaluate(model: MLP, x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    probs = model.predict_proba(x)
    loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))
    pred = probs.argmax(axis=1)
    return loss, float(np.mean(pred == y)), pred


def run(cfg: Config, ctx: RunContext) -> dict:
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise UserError("epochs and batch_size must be at least 1")
    data, x_train, y_train, x_test, y_test, split = load(cfg, ctx.seed)  # x_test: the scored split
    side = data.x_train.shape[1]
    sizes = [x_train.shape[1], *cfg.hidden, len(data.classes)]
    rng = np.random.default_rng(ctx.seed)
    model = MLP(sizes, rng)
    n_params = sum(p.size for p, _ in model.params_and_grads())
    ctx.say(f"{data.source}: {len(x_train)} train / {len(x_test)} {split}; MLP {'-'.join(map(str, sizes))} "
            f"({n_params:,} parameters), {cfg.optimizer}")
    perms = [rng.permutation(len(x_train)) for _ in range(cfg.epochs)]  # shared with the PyTorch twin
    twin = _torch_side(model, cfg, x_train, y_train) if cfg.torch_epochs else None
    opt = Adam(model.params_and_grads(), lr=cfg.lr) if cfg.optimizer == "adam" else \
        SGD(model.params_and_grads(), lr=cfg.lr, momentum=cfg.momentum)
    train_probe = rng.choice(len(x_train), size=min(10_000, len(x_train)), replace=False)

    hist: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    np_times, torch_times, torch_acc, numpy_acc_at_twin = [], [], None, None
    n_twin = min(cfg.torch_epochs, cfg.epochs) if twin is not None else 0
    for epoch in range(cfg.epochs):
        if epoch < n_twin:  # lockstep: both sides see the same machine load
            start = time.perf_counter()
            torch_epoch(twin["net"], twin["opt"], twin["x"], twin["y"], perms[epoch], cfg.batch_size)
            torch_times.append(time.perf_counter() - start)
            twin["set_lr"](cfg.lr * cfg.lr_decay ** (epoch + 1))
            if epoch == n_twin - 1:
                torch_acc = twin["accuracy"](x_test, y_test)
        start = time.perf_counter()
        train_loss = train_epoch(model, opt, x_train, y_train, perms[epoch], cfg.batch_size)
        np_times.append(time.perf_counter() - start)
        opt.lr = cfg.lr * cfg.lr_decay ** (epoch + 1)
        record = {"train_loss": train_loss, "train_acc": evaluate(model, x_train[train_probe], y_train[train_probe])[1]}
        if split == "val":  # per-epoch scores only on a validation split, never on test
            record["val_loss"], record["val_acc"], _ = evaluate(model, x_test, y_test)
        for key, value in record.items():
            hist[key].append(value)
        ctx.log(epoch=epoch + 1, **record, epoch_time_s=np_times[-1])
        ctx.say(f"epoch {epoch + 1:2d}/{cfg.epochs}  " + "  ".join(f"{k} {v:.4f}" for k, v in record.items())
                + f"  ({np_times[-1]:.2f} s)")
        if epoch == n_twin - 1:  # the twins' agreement check (not a choice)
            numpy_acc_at_twin = evaluate(model, x_test, y_test)[1]
    scored_loss, scored_acc, pred = evaluate(model, x_test, y_test)  # the test set, scored once

    write_with(ctx.checkpoints / "mlp.safetensors", lambda p: _save_weights(model, p))
    _plots(ctx, hist, model, data, pred, side, split)
    metrics = {
        f"{split}_acc": scored_acc,
        f"{split}_loss": scored_loss,
        "train_loss": hist["train_loss"][-1],
        "train_acc_10k_probe": hist["train_acc"][-1],
        "architecture": "-".join(map(str, sizes)),
        "n_params": n_params,
        "data_source": data.source,
        "numpy_epoch_time_s": round(float(np.median(np_times)), 3),
        "train_time_s": round(sum(np_times), 2),
    }
    if torch_times:
        paired = sum(np_times[:len(torch_times)]) / sum(torch_times)
        metrics |= {
            "torch_epoch_time_s": round(float(np.median(torch_times)), 3),
            "numpy_vs_torch_epoch_time_ratio": round(paired, 3),
            "twin_epochs": len(torch_times),
            f"numpy_{split}_acc_at_twin_epochs": numpy_acc_at_twin,
            f"torch_{split}_acc_at_twin_epochs": torch_acc,
        }
    return metrics


def _torch_side(model: MLP, cfg: Config, x_train: np.ndarray, y_train: np.ndarray) -> dict:
    """The PyTorch twin: same initial weights (copied now, before NumPy trains), same optimiser settings."""
    import torch

    net = torch_twin(model)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr) if cfg.optimizer == "adam" else \
        torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)

    def set_lr(lr: float) -> None:
        for group in opt.param_groups:
            group["lr"] = lr

    @torch.no_grad()
    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        return float((net(torch.from_numpy(x)).argmax(1).numpy() == y).mean())

    return {"net": net, "opt": opt, "x": torch.from_numpy(x_train), "y": torch.from_numpy(y_train),
            "set_lr": set_lr, "accuracy": accuracy}


def _save_weights(model: MLP, path) -> None:
    from safetensors.numpy import save_file

    tensors = {}
    for i, lin in enumerate(model.linears):
        tensors[f"linear{i}.W"], tensors[f"linear{i}.b"] = lin.W, lin.b
    save_file(tensors, str(path))


def _plots(ctx: RunContext, hist: dict, model: MLP, data: ImageData, pred: np.ndarray, side: int, split: str) -> None:
    """Curves (train, and validation when there is a validation split), misclassified digits of the scored set
    (a seeded random sample of them: the scored set may come in any order), first-layer weights."""
    held = {"validation": hist["val_loss"]} if hist["val_loss"] else {}
    curves(ctx.plots / "loss.png", {"train": hist["train_loss"], **held}, ylabel="cross-entropy",
           title="NumPy MLP: loss", logy=True)
    held = {"validation": hist["val_acc"]} if hist["val_acc"] else {}
    curves(ctx.plots / "accuracy.png", {"train (10k probe)": hist["train_acc"], **held},
           ylabel="accuracy", title="NumPy MLP: accuracy")
    wrong = np.flatnonzero(pred != data.y_test)
    wrong = np.sort(np.random.default_rng(ctx.seed).choice(wrong, min(40, len(wrong)), replace=False))
    if len(wrong):
        image_grid(ctx.plots / "misclassified.png", data.x_test[wrong],
                   titles=[f"true {data.y_test[i]} / pred {pred[i]}" for i in wrong],
                   title_colors=["firebrick"] * len(wrong), ncols=10,
                   title=f"{int((pred != data.y_test).sum())} misclassified {split} digits ({len(wrong)} shown)")
    first = model.linears[0].W[:, :40].T.reshape(-1, side, side)  # each hidden unit's input weights as an image
    image_grid(ctx.plots / "first_layer_weights.png", first, ncols=10,
               title="first-layer weights of 40 hidden units (light = positive)")


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"test acc {m['test_acc']:.4f} (scored once, after training); NumPy epoch {m['numpy_epoch_time_s']:.2f} s, "
            f"{m['numpy_vs_torch_epoch_time_ratio']:.2f}x PyTorch's for the same network in the same process")
