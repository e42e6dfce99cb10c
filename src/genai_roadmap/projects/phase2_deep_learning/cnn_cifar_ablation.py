"""CNN on CIFAR-10: an ablation of depth × data augmentation, then the best configuration trained longer.

The roadmap asks for a CNN on CIFAR-10 and experiments with more layers and data augmentation. This is the
experiment: a grid of plain CNNs (genai_roadmap.nn.plain_cnn: conv-BN-ReLU blocks, max-pooling between
stages, widths doubling per stage) over depth (2 / 4 / 6 conv blocks) × augmentation (none / flip + random
crop / flip + crop + cutout), each cell trained on the same short budget. Protocol:

1. 5,000 training images (a seeded random split, stratified by class) are held out as a validation split;
   the test set is not looked at until step 3.
2. Every grid cell trains `grid_epochs` epochs on `grid_train` of the remaining images at width `width`
   and is scored on the validation split. The best validation cell picks (depth, augmentation).
3. That configuration is trained again from scratch, `final_epochs` epochs at width `final_width`, on the
   full 50,000 training images (validation split included), and scored once on the 10,000 test images
   (with horizontal-flip test-time augmentation: the mean of the logits of an image and its mirror; the
   score without it is reported beside it, `test_acc_no_tta`). Nothing is evaluated on test during training.

Everything runs through the shared engine (genai_roadmap.train.Trainer: SGD + Nesterov, a linear warmup /
linear decay schedule, label smoothing) with batches and augmentation as batched tensor ops
(genai_roadmap.data.batches). On a CPU with native bf16, convolutions run under bf16 autocast (the engine
keeps CPUs in fp32, so `amp_mode` asks for bf16 explicitly). The run writes the grid as results.csv /
results.md, a depth × augmentation heatmap, the final model's training curves and misclassified test images.

What the grid shows depends on its budget, which is the lesson: with 15 epochs per cell (the cpu preset) the
un-augmented nets over-fit (depth 4 and 6: train accuracy 1.00, val 0.62 / 0.63) and flip + crop wins (depth 4:
val 0.698, depth 6: 0.703); cutout on top costs a little at this budget (0.691 / 0.688); depth 2 (20k parameters)
under-fits either way (val 0.52-0.56). With a shorter budget the ordering changes (augmentation slows early
fitting), so read the grid together with its epochs.

Result (cpu preset, `roadmap run 2.3.1`, seed 0, stratified validation split, loader in its fixed seeded order;
2 CPU cores shared with several other jobs, so 2 h 10 min of wall time — the preset is sized for about 15
minutes on 2 free cores): the grid picks depth 6 + flip-crop (val 0.703); retrained at width 48 for 12 epochs on
all 50k images it scores 0.865 test accuracy with flip TTA (0.8575 without), target 0.85.
The mirror's CIFAR-10 is the JPEG (quality ≈ 75) variant, which costs a little accuracy against the pickles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ...config import param
from ...data.batches import Augment, ImageBatches, channel_stats
from ...data.images import ImageData, load_cifar10
from ...data.splits import stratified_order, stratified_split
from ...errors import UserError
from ...io import write_text
from ...nn.plain_cnn import PlainCNN, count_parameters
from ...runs import RunContext
from ...train import Trainer, build_optimizer, classification_step, prefer_cpu_bf16
from ...viz import plots

AUGMENTATIONS = ("none", "flip-crop", "flip-crop-cutout")


@dataclass
class Config:
    depths: list[int] = param([2, 4, 6], "grid: numbers of conv blocks", min=1)
    augmentations: list[str] = param(list(AUGMENTATIONS), f"grid: augmentations, from {', '.join(AUGMENTATIONS)}",
                                     choices=AUGMENTATIONS)
    width: int = param(32, "grid: channels of the first stage (doubling per stage)", min=1)
    grid_train: int = param(5000, "grid: training images per cell (from the 45k left after the validation split)",
                            min=1)
    grid_epochs: int = param(15, "grid: epochs per cell (enough passes for over-fitting, and augmentation, to matter)",
                             min=1)
    grid_batch_size: int = param(128, "grid: mini-batch size (small: a short budget still gets enough steps)", min=1)
    val_size: int = param(5000, "training images held out to choose the configuration", min=1, max=49999)
    final_width: int = param(48, "final model: channels of the first stage", min=1)
    final_epochs: int = param(12, "final model: epochs on the full training set", min=1)
    final_train: int = param(0, "final model: training images (0 = all 50,000)", min=0, max=50000)
    test_size: int = param(0, "test images scored (0 = all 10,000)", min=0, max=10000)
    batch_size: int = param(512, "final model: mini-batch size", min=1)
    lr: float = param(0.2, "peak learning rate at batch size 512, scaled linearly with the batch (SGD, Nesterov)", gt=0)
    weight_decay: float = param(5e-4, "weight decay on conv and linear weights", min=0)
    label_smoothing: float = param(0.2, "label smoothing of the training loss", min=0, lt=1)
    warmup: float = param(0.15, "fraction of steps with a linear learning-rate warmup (then linear decay to 0)",
                          min=0, lt=1)
    crop_pad: int = param(2, "random crop: reflect-pad by this many pixels, then crop 32×32", min=0, max=16)
    cutout: int = param(8, "cutout: side of the square blanked out", min=0, max=32)
    tta: bool = param(True, "test-time augmentation: average the logits of each image and its mirror")
    amp: str = param("auto", "auto (bf16 on CUDA, and on CPUs with native bf16), bf16, fp16 or off",
                     choices=("auto", "bf16", "fp16", "off"))
    device: str = param("auto", "auto, cuda, mps or cpu", choices=("auto", "cuda", "mps", "cpu"))

    def check(self) -> None:
        from ...errors import UserError

        if self.val_size + self.grid_train > 50000:
            raise UserError(f"val_size + grid_train must be at most 50000 (CIFAR-10's training set), "
                            f"got {self.val_size} + {self.grid_train}")


PRESETS = {
    "smoke": {"depths": [1, 2], "augmentations": ["none", "flip-crop"], "width": 8, "grid_train": 2000,
              "grid_epochs": 2, "grid_batch_size": 64, "val_size": 500, "final_width": 8, "final_epochs": 2,
              "final_train": 3000, "test_size": 1000, "batch_size": 64, "lr": 0.4},
    "cpu": {},
    "full": {"depths": [2, 4, 6, 8], "grid_train": 45000, "grid_epochs": 15, "grid_batch_size": 512, "width": 64,
             "final_width": 128, "final_epochs": 40},
}


def augment_for(name: str, cfg: Config) -> Augment:
    if name not in AUGMENTATIONS:
        raise UserError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
    return Augment(crop=cfg.crop_pad if name != "none" else 0, flip=name != "none",
                   cutout=cfg.cutout if name == "flip-crop-cutout" else 0)


def amp_mode(cfg: Config) -> str:
    """bf16 autocast where this CPU has native bf16 kernels (see train.prefer_cpu_bf16)."""
    return prefer_cpu_bf16(cfg.amp, cfg.device)


def split_validation(data: ImageData, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the training set: (rest, validation), a seeded random split stratified by class. `rest`
    keeps its stratified random order, so `rest[:n]` is a stratified random subset of it."""
    if not 0 < val_size < len(data.x_train):
        raise UserError(f"val_size must be between 1 and {len(data.x_train) - 1}, got {val_size}")
    return stratified_split(data.y_train, val_size, seed)


def train_model(cfg: Config, ctx: RunContext, name: str, depth: int, width: int, aug: str, x: np.ndarray,
                y: np.ndarray, epochs: int, batch_size: int, stats, val: ImageBatches | None = None
                ) -> tuple[Trainer, float]:
    """A fresh PlainCNN fitted by the engine; returns the trainer and the training seconds."""
    torch.manual_seed(ctx.seed)  # every cell starts from its own seeded init, whatever ran before (or resumed)
    batches = ImageBatches(x, y, batch_size=batch_size, shuffle=True, drop_last=len(x) > batch_size,
                           seed=ctx.seed, augment=augment_for(aug, cfg), mean=stats[0], std=stats[1],
                           channels_last=True)
    model = PlainCNN(depth, width, num_classes=10).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, "sgd", cfg.lr * batch_size / 512, cfg.weight_decay, momentum=0.9, nesterov=True)
    trainer = Trainer(model, opt, ctx, epochs=epochs, step=classification_step(cfg.label_smoothing),
                      eval_step=classification_step(), schedule="onecycle", warmup=cfg.warmup, amp=amp_mode(cfg),
                      device=cfg.device, name=name, log_every=20)
    start = time.perf_counter()
    trainer.fit(batches, val=val)
    return trainer, time.perf_counter() - start


def run(cfg: Config, ctx: RunContext) -> dict:
    for aug in cfg.augmentations:
        augment_for(aug, cfg)  # reject a typo before minutes of training
    t0 = time.perf_counter()
    data = load_cifar10()
    if cfg.test_size:
        data = data.subset(n_test=cfg.test_size, seed=ctx.seed)
    rest, val_idx = split_validation(data, cfg.val_size, ctx.seed)
    grid_idx = rest[: cfg.grid_train]
    stats = channel_stats(data.x_train[rest])  # normalisation from training images only
    load_s = time.perf_counter() - t0

    def batches(x: np.ndarray, y: np.ndarray) -> ImageBatches:
        return ImageBatches(x, y, batch_size=1000, mean=stats[0], std=stats[1], channels_last=True)

    # --- 1. the grid: every (depth, augmentation) on the same short budget, scored on the validation split
    val = batches(data.x_train[val_idx], data.y_train[val_idx])
    rows = []
    for depth in cfg.depths:
        for aug in cfg.augmentations:
            trainer, seconds = train_model(cfg, ctx, f"grid-d{depth}-{aug}", depth, cfg.width, aug,
                                           data.x_train[grid_idx], data.y_train[grid_idx], cfg.grid_epochs,
                                           cfg.grid_batch_size, stats)
            scores = trainer.evaluate(val)
            rows.append({"depth": depth, "augmentation": aug, "params": count_parameters(trainer.model),
                         "train_acc": round(trainer.history[-1]["train_acc"], 4),
                         "val_acc": round(scores["acc"], 4), "train_time_s": round(seconds, 1)})
            ctx.say(f"grid depth {depth} {aug}: val acc {scores['acc']:.4f} ({seconds:.0f}s)")
            ctx.log(event="grid_cell", **rows[-1])
    grid_s = sum(r["train_time_s"] for r in rows)
    best = max(rows, key=lambda r: r["val_acc"])
    write_tables(ctx, rows)
    heatmap(ctx.plots / "grid_heatmap.png", rows, cfg)

    # --- 2. the chosen configuration, longer, on all training images; the test set is scored only here
    n_final = cfg.final_train or len(data.x_train)
    final_idx = stratified_order(data.y_train, ctx.seed)[:n_final]
    test = batches(data.x_test, data.y_test)
    ctx.say(f"final: depth {best['depth']}, {best['augmentation']}, width {cfg.final_width}, {cfg.final_epochs} "
            f"epochs on {n_final} images")
    final, final_s = train_model(cfg, ctx, "final", best["depth"], cfg.final_width, best["augmentation"],
                                 data.x_train[final_idx], data.y_train[final_idx], cfg.final_epochs,
                                 cfg.batch_size, stats)
    pred = final.predict(test, flip_tta=cfg.tta).argmax(1).numpy()
    test_acc = float((pred == data.y_test).mean())
    test_acc_no_tta = float((final.predict(test).argmax(1).numpy() == data.y_test).mean())
    plot_final(ctx, final.history, data, pred, np.random.default_rng(ctx.seed))

    return {
        "test_acc": round(test_acc, 4),
        "test_acc_no_tta": round(test_acc_no_tta, 4),
        "best_config": {"depth": best["depth"], "augmentation": best["augmentation"], "width": cfg.final_width},
        "best_val_acc": best["val_acc"],
        "grid_val_acc": {f"d{r['depth']}/{r['augmentation']}": r["val_acc"] for r in rows},
        "final_params": count_parameters(final.model),
        "protocol": (f"grid: {len(grid_idx)} train images x {cfg.grid_epochs} epochs per cell at width {cfg.width}, "
                     f"chosen on a {len(val_idx)}-image validation split held out from train; final: "
                     f"{cfg.final_epochs} epochs on {n_final} train images at width {cfg.final_width}, scored "
                     f"once on {len(data.x_test)} test images" + (" with flip TTA" if cfg.tta else "")),
        "amp": amp_mode(cfg),
        "data_source": data.source,
        "load_time_s": round(load_s, 2),
        "grid_time_s": round(grid_s, 1),
        "final_train_time_s": round(final_s, 1),
        "final_images_per_s": round(n_final * cfg.final_epochs / final_s, 1),
    }


def write_tables(ctx: RunContext, rows: list[dict]) -> None:
    cols = list(rows[0])
    csv = ",".join(cols) + "\n" + "".join(",".join(str(r[c]) for c in cols) + "\n" for r in rows)
    write_text(ctx.dir / "results.csv", csv)
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    write_text(ctx.dir / "results.md", "\n".join(md) + "\n")


def heatmap(path, rows: list[dict], cfg: Config) -> None:
    """Validation accuracy per cell: depth down, augmentation across."""
    grid = np.full((len(cfg.depths), len(cfg.augmentations)), np.nan)
    for r in rows:
        grid[cfg.depths.index(r["depth"]), cfg.augmentations.index(r["augmentation"])] = r["val_acc"]
    fig, ax = plots.new_figure(size=(1.7 * len(cfg.augmentations) + 2.2, 0.8 * len(cfg.depths) + 1.6))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cfg.augmentations)), cfg.augmentations)
    ax.set_yticks(range(len(cfg.depths)), [str(d) for d in cfg.depths])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center",
                    color="black" if grid[i, j] > np.nanmean(grid) else "white")
    ax.set(xlabel="augmentation", ylabel="depth (conv blocks)",
           title=f"validation accuracy ({cfg.grid_epochs} epochs, {cfg.grid_train} images)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    plots.save(fig, path)


def plot_final(ctx: RunContext, history: list[dict], data: ImageData, pred: np.ndarray,
               rng: np.random.Generator) -> None:
    plots.curves(ctx.plots / "final_curves.png",
                 {"train acc": [h["train_acc"] for h in history], "train loss": [h["train_loss"] for h in history]},
                 ylabel="accuracy / loss", title="final model on the training images (augmented, smoothed labels)")
    wrong = np.flatnonzero(pred != data.y_test)
    wrong = np.sort(rng.choice(wrong, size=min(30, len(wrong)), replace=False))  # a sample across classes
    titles = [f"{data.classes[data.y_test[i]]}→{data.classes[pred[i]]}" for i in wrong]
    plots.image_grid(ctx.plots / "misclassified.png", data.x_test[wrong], titles, ncols=10,
                     title="misclassified test images (true → predicted)")


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    best = m["best_config"]
    return (f"grid chose depth {best['depth']} + {best['augmentation']} (val {m['best_val_acc']:.3f}); final width "
            f"{best['width']}: test acc {m['test_acc']:.4f} with flip TTA ({m['test_acc_no_tta']:.4f} without)")
