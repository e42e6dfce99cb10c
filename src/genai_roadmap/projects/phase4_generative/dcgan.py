"""4.2.2 — a DCGAN on CIFAR-10, and which hyper-parameters make its images better.

The roadmap asks for a DCGAN generating CIFAR-10 images, improved by tweaking hyper-parameters. The networks
are Radford et al. 2016's at 32×32 (`nn.gan.DCGenerator` / `DCDiscriminator`: transposed / strided 4×4 convs,
batch norm, ReLU / LeakyReLU(0.2), N(0, 0.02) init), trained with the shared engine's GAN step (`train.gan`,
non-saturating loss) and Adam.

The study: a base setting (lr 2e-4, β1 0.5, batch 64, no label smoothing: the paper's) and variants that change
one of learning rate / β1 / batch size / one-sided label smoothing, each trained for the same budget (the same
number of epochs, i.e. images seen) from the same seed. They are compared by FID (EfficientNet-Lite0 features)
between their samples and a seeded sample of TRAINING images — training-set statistics, so the choice never
looks at the test split. The best variant is re-run with two more seeds so the table shows seed noise beside
the differences. Then, once, that best model's samples are scored against the TEST split: FID and KID
(EfficientNet-Lite0 features), the real-vs-real floor (two halves of the test set), and an Inception-score
style "IS (EfficientNet-Lite0)" from EfficientNet-Lite0's ImageNet softmax — not the standard Inception Score,
whose network is not available offline; with the pt_inception weights file (`inception_weights=PATH`) the
standard numbers are computed as well.

The cpu preset is small on purpose (a seeded stratified subset of the training images, half-width networks, a
few epochs per variant, FID features at 128 px on 1,000 samples): it shows the differences early in training,
not converged DCGAN quality. The full preset (all 50k images, width 64, 30 epochs, 10k samples at 224 px) aims
at the DCGAN reference: Inception Score 6.16 (WGAN-GP paper, Table 3).

Result, `roadmap run 4.2.2` (cpu preset, seed 0, 1,152 s wall on an idle 2-core machine, 708 s of it computing
EfficientNet-Lite0 features): every variant 4 epochs over a stratified 10,000 training images (624 updates at
batch 64), width 32. FID (EfficientNet-Lite0 features, 1,000 samples vs 1,000 training images):
    base (lr 2e-4, β1 0.5, batch 64)   875.5    seeds 0/1/2: 875.5, 822.3, 876.5 (mean 858.1, std 31.0)
    lr 5e-4                            899.7    within one seed-std of base
    batch 128 (312 updates)            958.8    worse: half the updates for the same images
    β1 0.9                             994.3    worse: D wins (final D loss 0.03, G loss 6.5)
    label smoothing 0.1                1011.9   worse at this budget
The chosen base model against the TEST split (1,000 samples vs 1,000 test images, stratified): FID 856.6, the
untrained generator 1030.5, two halves of the test set 175.9 — the scale of "good" with 1,000 images and
1,280-d features, whose FID carries a large small-sample bias; KID 0.936; IS (EfficientNet-Lite0) 2.17 ± 0.08
against 35.0 for real test images. Training 688 images/s; sampling 6,471 images/s. The first cpu preset (2
epochs of 3,000 images, 92 updates) left the trained generator at the untrained one's FID (1041.6 vs 1029.6):
too few updates to mean anything, hence this budget. The DCGAN reference (IS 6.16 on standard Inception) is the
full preset's aim and needs the pt_inception weights file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ... import io
from ...config import param
from ...data.batches import ImageBatches
from ...data.images import load_cifar10
from ...data.splits import stratified_subset
from ...errors import UserError
from ...nn.gan import DCDiscriminator, DCGenerator
from ...runs import RunContext, seed_everything
from ...train import Trainer, load_weights, save_weights
from ...train.gan import (
    GAN,
    GANLoss,
    GeneratorEMA,
    gan_step,
    generate,
    renderer,
    sampling_speed,
    spectral_norm,
    to_uint8,
)
from ...viz import curves
from ...viz.generative import SampleGrids, save_grid
from ...viz.tabular import Report
from . import NoiseGridOptions

STUDIED = {"lr": float, "beta1": float, "batch_size": int, "label_smoothing": float}


@dataclass
class Config:
    z_dim: int = param(100, "noise dimension", min=1)
    width: int = param(32, "channels of the first D layer / last G layer (DCGAN: 64)", min=4)
    epochs: int = param(4, "passes over the training images, per variant", min=1, resumable=True)
    batch_size: int = param(64, "base setting: images per step", min=2)
    lr: float = param(2e-4, "base setting: Adam learning rate of both networks", gt=0)
    beta1: float = param(0.5, "base setting: Adam β1", min=0, lt=1)
    label_smoothing: float = param(0.0, "base setting: one-sided label smoothing (real label 1 - s)", min=0, lt=0.5)
    spectral_norm: bool = param(False, "spectral normalisation of the discriminator's layers")
    ema_decay: float = param(0.0, "EMA of the generator's weights, sampled from (0 = off)", min=0, lt=1)
    variants: list[str] = param(["base", "lr=0.0005", "beta1=0.9", "batch_size=128", "label_smoothing=0.1"],
                                "the study: 'base' and one-change variants key=value (lr, beta1, batch_size, "
                                "label_smoothing)")
    seeds: int = param(3, "seeds of the best variant (its study run counts as one)", min=1, max=10)
    n_train: int | None = param(10000, "training images (None = all 50k; stratified subset)", min=100, max=50000)
    n_fid: int = param(1000, "samples (and as many real images) per FID in the study", min=50)
    n_final: int = param(1000, "samples (and test images) for the final test-set scores", min=50, max=10000)
    fid_size: int = param(128, "EfficientNet-Lite0 input size for the features (images are resized)", min=32)
    inception_weights: str | None = param(None, "pt_inception-2015-12-05 weights file: also standard FID / IS")
    device: str = param("auto", "auto | cuda | mps | cpu", choices=("auto", "cuda", "mps", "cpu"))
    amp: str = param("auto", "mixed precision: auto (bf16/fp16 on CUDA, off on CPU) | bf16 | fp16 | off",
                     choices=("auto", "bf16", "fp16", "off"))

    def check(self) -> None:
        for v in self.variants:
            parse_variant(v)
        if not self.variants:
            raise UserError("variants: give at least one setting ('base')")


PRESETS = {
    "smoke": {"n_train": 2000, "width": 16, "epochs": 3, "variants": ["base", "lr=0.001"], "seeds": 2, "n_fid": 200,
              "n_final": 200, "fid_size": 64, "batch_size": 32},
    "cpu": {},  # the Config defaults: a study on a 10k-image stratified subset
    "full": {"n_train": None, "width": 64, "epochs": 30, "n_fid": 10000, "n_final": 10000, "fid_size": 224},
}


SampleOptions = NoiseGridOptions  # `roadmap sample` settings: --n, seed, ncols


def dataset_of(cfg: Config) -> str:
    return "cifar10"


def parse_variant(text: str) -> dict:
    """'base' -> {}; 'lr=0.0005' -> {'lr': 0.0005}: one change from the base setting."""
    if text == "base":
        return {}
    key, sep, value = text.partition("=")
    if not sep or key not in STUDIED:
        raise UserError(f"variant {text!r}: write 'base' or key=value with key one of {', '.join(STUDIED)}")
    try:
        return {key: STUDIED[key](value)}
    except ValueError:
        raise UserError(f"variant {text!r}: {value!r} is not a {STUDIED[key].__name__}") from None


def train_variant(cfg: Config, ctx: RunContext, data, name: str, seed: int, grids: bool = False
                  ) -> tuple[GAN, list[dict], Trainer]:
    """Train one setting from `seed`; its own checkpoints (`name`), so an interrupted study resumes per fit."""
    seed_everything(seed)
    gan = GAN(DCGenerator(cfg.z_dim, cfg.width), DCDiscriminator(cfg.width), cfg.z_dim)
    if cfg.spectral_norm:
        spectral_norm(gan.discriminator)
    opts = {k: torch.optim.Adam(net.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
            for k, net in (("d", gan.discriminator), ("g", gan.generator))}
    ema = GeneratorEMA(cfg.ema_decay) if cfg.ema_decay else None
    callbacks = [c for c in (ema,) if c]
    if grids:  # plots/samples/<name>-epochNNN.png and <name>.gif: the same noise for every variant
        callbacks.append(SampleGrids(ctx.plots / "samples", gan.fixed_noise(64, seed=10_000), renderer(ema), name))
    train = ImageBatches(data, batch_size=cfg.batch_size, shuffle=True, drop_last=True, seed=seed,
                         mean=[0.5] * 3, std=[0.5] * 3, channels_last=True)
    trainer = Trainer(gan, opts, ctx, epochs=cfg.epochs, manual=True, step=gan_step(GANLoss(
        label_smoothing=cfg.label_smoothing)), callbacks=callbacks, amp=cfg.amp,
        device=cfg.device, cudnn_benchmark=True, name=name)
    history = trainer.fit(train)
    gan.generator.cpu()
    if ema is not None:
        ema.copy_to(gan)
    return gan, history, trainer


def samples_of(generator: torch.nn.Module, n: int, seed: int, z_dim: int) -> torch.Tensor:
    """uint8 [n, 3, 32, 32] from seeded noise (the features network takes uint8 NCHW)."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    return torch.from_numpy(to_uint8(generate(generator, z))).permute(0, 3, 1, 2).contiguous()


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).contiguous()  # a copy: loaded arrays are read-only


def run(cfg: Config, ctx: RunContext) -> dict:
    from ...metrics import generative as gm

    data = load_cifar10()
    if cfg.n_train:
        data = data.subset(cfg.n_train, None, seed=ctx.seed)
    start = time.perf_counter()
    features = gm.efficientnet_features(size=cfg.fid_size)
    ref_idx = stratified_subset(data.y_train, min(cfg.n_fid, len(data.y_train)), ctx.seed + 7)
    train_ref = nchw(data.x_train[ref_idx])  # training-set statistics: what the study compares against
    eval_time = time.perf_counter() - start

    rows, fits = [], {}
    for i, text in enumerate(cfg.variants):
        vcfg = replace(cfg, **parse_variant(text))
        gan, history, trainer = train_variant(vcfg, ctx, data.x_train, f"variant{i}", ctx.seed, grids=True)
        t0 = time.perf_counter()
        fake = samples_of(gan.generator, cfg.n_fid, ctx.seed + 1, cfg.z_dim)
        score = gm.fid(train_ref, fake, features)
        eval_time += time.perf_counter() - t0
        images = len(history) * (len(data.x_train) // vcfg.batch_size) * vcfg.batch_size
        rows.append({"variant": text, "seed": ctx.seed, "fid_train": round(score["fid"], 2),
                     "final_d_loss": round(history[-1]["train_d_loss"], 4),
                     "final_g_loss": round(history[-1]["train_g_loss"], 4),
                     "updates": trainer.updates["d"], "train_time_s": round(trainer.train_time_s, 1),
                     "train_images_per_s": round(images / max(trainer.train_time_s, 1e-9), 1)})
        fits[text] = (gan, history, vcfg)
        ctx.say(f"variant {text}: FID (EfficientNet-Lite0 features, vs training images) {score['fid']:.2f}")
    study_protocol = score["protocol"] + f" (seeded sample of the training images), features at {cfg.fid_size} px"

    best = min(rows, key=lambda r: r["fid_train"])["variant"]
    seed_rows = [next(r for r in rows if r["variant"] == best)]
    for k in range(1, cfg.seeds):
        vcfg = fits[best][2]
        gan_k, history_k, trainer_k = train_variant(vcfg, ctx, data.x_train, f"best-seed{k}", ctx.seed + k)
        t0 = time.perf_counter()
        score = gm.fid(train_ref, samples_of(gan_k.generator, cfg.n_fid, ctx.seed + 1, cfg.z_dim), features)
        eval_time += time.perf_counter() - t0
        seed_rows.append({"variant": best, "seed": ctx.seed + k, "fid_train": round(score["fid"], 2),
                          "final_d_loss": round(history_k[-1]["train_d_loss"], 4),
                          "final_g_loss": round(history_k[-1]["train_g_loss"], 4),
                          "updates": trainer_k.updates["d"], "train_time_s": round(trainer_k.train_time_s, 1)})
    seed_fids = np.array([r["fid_train"] for r in seed_rows])

    # ---- the chosen model, scored once against the test split ----------------------------------------------
    gan, history, vcfg = fits[best]
    save_model(ctx.dir / "model", gan.generator, cfg, best)
    t0 = time.perf_counter()
    test = load_cifar10()
    test_idx = stratified_subset(test.y_test, min(cfg.n_final, len(test.y_test)), ctx.seed + 3)
    test_real = nchw(test.x_test[test_idx])
    fake = samples_of(gan.generator, cfg.n_final, ctx.seed + 2, cfg.z_dim)
    final = gm.fid(test_real, fake, features)
    final_kid = gm.kid(test_real, fake, features, subset_size=min(1000, cfg.n_final))
    floor = gm.real_vs_real(nchw(test.x_test), features, seed=ctx.seed, n=2 * min(cfg.n_final, 5000))
    logits = efficientnet_logits(cfg.fid_size)
    is_lite = gm.inception_score(fake, logits, splits=10)
    is_real = gm.inception_score(test_real, logits, splits=10)  # the same score of real images: its scale
    untrained = gm.fid(test_real, samples_of(DCGenerator(cfg.z_dim, cfg.width), cfg.n_final, ctx.seed + 2,
                                              cfg.z_dim), features)
    standard = standard_scores(cfg, test_real, fake, gm)
    eval_time += time.perf_counter() - t0
    sample_speed = sampling_speed(gan.generator, cfg.z_dim)

    plots(ctx, fits, fake)
    m = {
        "test_fid_effnet": round(final["fid"], 3),
        "test_kid_effnet": round(final_kid["kid"], 5),
        "test_kid_effnet_std": round(final_kid["kid_std"], 5),
        "test_is_effnet": round(is_lite["is"], 3),
        "test_is_effnet_std": round(is_lite["is_std"], 3),
        "is_effnet_real_test": round(is_real["is"], 3),
        "fid_effnet_real_vs_real": round(floor["fid"], 3),
        "fid_effnet_untrained": round(untrained["fid"], 3),
        "test_protocol": f"{final['protocol']} (CIFAR-10 test split, stratified), features at {cfg.fid_size} px; "
                         f"{final_kid['protocol']}; {is_lite['protocol']}; floor: {floor['protocol']}",
        **standard,
        "best_variant": best,
        "study": rows,
        "study_protocol": study_protocol + f"; every variant {cfg.epochs} epochs over {len(data.x_train)} images, "
                                           f"seed {ctx.seed}",
        "best_seed_fids": seed_fids.tolist(),
        "best_seed_fid_mean": round(float(seed_fids.mean()), 3),
        "best_seed_fid_std": round(float(seed_fids.std(ddof=1)), 3) if len(seed_fids) > 1 else None,
        "train_images_per_s": next(r for r in rows if r["variant"] == best)["train_images_per_s"],
        "sample_images_per_s": round(sample_speed, 1),
        "params_g": sum(p.numel() for p in gan.generator.parameters()),
        "params_d": sum(p.numel() for p in gan.discriminator.parameters()),
        "data_source": data.source,
        "eval_time_s": round(eval_time, 2),
    }
    report(ctx, cfg, m, rows, seed_rows)
    return m


def standard_scores(cfg: Config, real: torch.Tensor, fake: torch.Tensor, gm) -> dict:
    """Standard FID / IS on Inception-v3 when the user gives the pt_inception weights file; else nothing."""
    if not cfg.inception_weights:
        return {"standard_inception": "not computed: no pt_inception weights file (set inception_weights=PATH)"}
    net = gm.inception_features(cfg.inception_weights)
    return {"test_fid_inception": round(gm.fid(real, fake, net)["fid"], 3)}


def efficientnet_logits(size: int):
    """EfficientNet-Lite0's 1000-way ImageNet logits as a torchmetrics feature module (for IS)."""
    from ...metrics import generative as gm

    lite = gm.efficientnet_features(size=size)  # its wrapped net normalises inputs itself

    class Logits(torch.nn.Module):
        def __init__(self, pooled):
            super().__init__()
            self.pooled = pooled

        def forward(self, x):
            return self.pooled.net((x - self.pooled.mean) / self.pooled.std)

    return gm.ImageFeatures(Logits(lite.net), "forward", 1000, 3, size, "EfficientNet-Lite0")


def save_model(folder: Path, generator: torch.nn.Module, cfg: Config, variant: str) -> None:
    save_weights(generator, folder / "generator.safetensors")
    io.write_json(folder / "architecture.json", {"kind": "DCGenerator", "z_dim": cfg.z_dim, "width": cfg.width,
                                                 "variant": variant})


def load_trained(run_dir: Path, cfg: Config) -> torch.nn.Module:
    """The generator of the study's best variant."""
    path = Path(run_dir) / "model" / "generator.safetensors"
    if not path.is_file():
        raise UserError(f"{run_dir} has no trained generator (model/generator.safetensors): did the run finish?")
    arch = json.loads((path.parent / "architecture.json").read_text())
    return load_weights(DCGenerator(arch["z_dim"], arch["width"]), path).eval()


def sample(model: torch.nn.Module, inputs: list[str], opts: SampleOptions, out_dir: Path) -> list[Path]:
    """A grid of `opts.n` images from seeded noise, written as out_dir/dcgan-cifar10-seed<S>-n<N>.png."""
    if inputs:
        raise UserError("4.2.2 generates unconditionally: it takes no inputs (use --n and --set seed=...)")
    z_dim = model.net[0].in_channels
    z = torch.randn(opts.n, z_dim, generator=torch.Generator().manual_seed(opts.seed))
    path = Path(out_dir) / f"dcgan-cifar10-seed{opts.seed}-n{opts.n}.png"
    return [save_grid(path, to_uint8(generate(model, z)), ncols=opts.ncols)]


def plots(ctx: RunContext, fits: dict, fake: torch.Tensor) -> None:
    curves(ctx.plots / "d_loss_per_variant.png", {t: [h["train_d_loss"] for h in f[1]] for t, f in fits.items()},
           ylabel="discriminator loss", title="D loss per epoch, each variant")
    curves(ctx.plots / "g_loss_per_variant.png", {t: [h["train_g_loss"] for h in f[1]] for t, f in fits.items()},
           ylabel="generator loss", title="G loss per epoch, each variant")
    save_grid(ctx.plots / "samples_best.png", fake[:64], ncols=8)


def report(ctx: RunContext, cfg: Config, m: dict, rows: list[dict], seed_rows: list[dict]) -> None:
    import pandas as pd

    r = Report(f"4.2.2 DCGAN on CIFAR-10 — {m['data_source']}")
    r.text(f"DCGAN width {cfg.width} (G {m['params_g']:,} params, D {m['params_d']:,}), {cfg.epochs} epochs per "
           "variant from the same seed. Variants are compared on training-set statistics only.")
    r.heading("Hyper-parameter study: FID (EfficientNet-Lite0 features) vs training images").table(
        pd.DataFrame(rows).set_index("variant"))
    r.text(m["study_protocol"] + ".")
    r.heading(f"Seed noise of the best variant ({m['best_variant']})").table(pd.DataFrame(seed_rows), index=False)
    r.text(f"mean {m['best_seed_fid_mean']} ± {m['best_seed_fid_std']} (std over seeds): a difference between "
           "variants smaller than this is noise.")
    r.heading("The chosen model on the test split (scored once)").table(pd.DataFrame({"value": [
        m["test_fid_effnet"], m["test_kid_effnet"], m["test_is_effnet"], m["is_effnet_real_test"],
        m["fid_effnet_real_vs_real"], m["fid_effnet_untrained"]]},
        index=["FID (EfficientNet-Lite0 features)", "KID (EfficientNet-Lite0 features)", "IS (EfficientNet-Lite0)",
               "IS (EfficientNet-Lite0) of real test images", "FID real vs real (test halves)",
               "FID untrained generator"]))
    r.text(m["test_protocol"] + ". The DCGAN reference, Inception Score 6.16 (WGAN-GP paper, Table 3), is on "
           "Inception-v3: not comparable with the EfficientNet-Lite0 numbers.")
    r.image(ctx.plots / "samples_best.png", "samples of the chosen model")
    r.image(ctx.plots / "samples" / "variant0.gif", "base setting: fixed noise over training")
    r.image(ctx.plots / "d_loss_per_variant.png", "").image(ctx.plots / "g_loss_per_variant.png", "")
    r.write(ctx.dir)


def summarize(m: dict) -> str:
    return (f"FID (EfficientNet-Lite0) {m['test_fid_effnet']:.1f} on test (real vs real "
            f"{m['fid_effnet_real_vs_real']:.1f}), IS (EfficientNet-Lite0) {m['test_is_effnet']:.2f}; best "
            f"{m['best_variant']}, seed std {m['best_seed_fid_std']}")
