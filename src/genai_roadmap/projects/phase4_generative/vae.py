"""4.3.1 vae-mnist — a variational autoencoder for handwritten digits, and a walk through its latent space.

Roadmap: "Build a VAE for generating handwritten digits from the MNIST dataset. Explore the latent space by
interpolating between different points."

What it does: a VAE (Kingma & Welling 2014) with a Gaussian encoder q(z|x) (MLP 784-512-512 -> mean and
log-variance of a 32-d z), a standard normal prior and a Bernoulli decoder (MLP 32-512-512-784, logits), trained
with the shared engine on dynamically binarised digits (every step draws each pixel ~ Bernoulli(intensity) from a
generator seeded by the step, so a resumed run sees the same bits) to minimise the negative ELBO in nats per image.
A seeded validation split of the training images gives the curves and picks the two latent dimensions used for
the 2-D manifold picture (the two with the largest KL on validation; the other dimensions are held at 0 — a 2-D
slice of the 32-d space, not a 2-d model). Test digits are binarised once with a fixed seed and scored once:
negative ELBO (one z per image) and the importance-sampled NLL with k = 500 (Burda et al. 2016), batched, beside
the IWAE paper's 86.76 for this one-stochastic-layer model (trained there for 3,280 passes, here a few dozen).
Samples are scored with the generative metrics of genai_roadmap.metrics.generative: FID (LeNet features) against
the test set beside the real-vs-real floor, the class histogram of samples (mode coverage), nearest training
digits (memorisation check). Pictures: samples, interpolation strips (linear and spherical) between test digits,
the 2-D manifold slice, the latent space of the test digits (first two principal components), curves.
Target (cpu preset): test negative ELBO ≤ 100 nats (`test_neg_elbo`).
                                                                             roadmap run 4.3.1
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...config import param
from ...data.splits import stratified_subset
from ...metrics import generative as gm
from ...nn.autoencoders import VAE, mlp_matmul_flops
from ...runs import RunContext
from ...train import Trainer, build_optimizer
from ...viz import curves
from ...viz.generative import latent_scatter, manifold_grid, neighbour_pairs, save_grid, titled_grid
from ...viz.tabular import Report
from . import MnistSplits, batches, load_model, mnist_splits, sampling_speed, save_model, speed, unit


@dataclass
class Config:
    latent_dim: int = param(32, "size of z", min=2, max=256)
    hidden: list[int] = param([512, 512], "encoder widths (the decoder mirrors them)", min=1)
    epochs: int = param(30, "passes over the training images", min=1, resumable=True)
    batch_size: int = param(128, "images per step", min=8)
    lr: float = param(1e-3, "peak Adam learning rate (cosine schedule)", gt=0)
    val_size: int = param(5000, "training images held out for the curves and the manifold's dimensions", min=100)
    n_train: int | None = param(None, "stratified subset of the training images (None = all 60k)", min=200)
    n_test: int | None = param(None, "stratified subset of the test images (None = all 10k)", min=100)
    iw_k: int = param(500, "importance samples per test digit for the NLL estimate", min=1)
    iw_images: int | None = param(2000, "test digits (stratified) for the NLL estimate (None = all)", min=10)
    n_samples: int = param(10000, "generated digits scored by FID / class histogram", min=100)
    classifier_n_train: int | None = param(None, "training images of the LeNet scorer (None = all; cached)", min=500)
    device: str = param("auto", "auto | cuda | mps | cpu", choices=("auto", "cuda", "mps", "cpu"))


PRESETS = {
    "smoke": {"epochs": 2, "n_train": 2000, "n_test": 500, "val_size": 300, "hidden": [256], "latent_dim": 8,
              "iw_k": 50, "iw_images": 100, "n_samples": 500, "classifier_n_train": 2000},
    "cpu": {},
    "full": {"epochs": 300, "iw_k": 5000, "iw_images": None, "latent_dim": 50},
}


def binarise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each pixel ~ Bernoulli(intensity): the stochastic binarisation of the VAE / IWAE papers."""
    return (torch.rand(x.shape, generator=gen).to(x.device) < x).to(x.dtype)


def make_step(seed: int):
    def step(model, batch, trainer=None) -> dict:
        x = batch[0]
        n = trainer.step if trainer is not None and model.training else -1  # validation: one fixed draw
        xb = binarise(x, torch.Generator().manual_seed(seed * 1_000_003 + n))
        y = batch[1] if model.n_classes else None
        terms = model(xb, y)
        return {"loss": terms["neg_elbo"].mean(), "rec": terms["rec"].mean(), "kl": terms["kl"].mean()}
    return step


def train_vae(cfg, ctx: RunContext, splits: MnistSplits, n_classes: int = 0, name: str = "vae"
              ) -> tuple[VAE, list[dict], dict]:
    """The VAE (or CVAE) trained by the engine; returns it on CPU in eval mode, its history and speed."""
    labels = n_classes > 0
    train = batches(splits.x_train, splits.y_train if labels else None, cfg.batch_size, shuffle=True,
                    seed=ctx.seed)
    val = batches(splits.x_val, splits.y_val if labels else None, 1000)
    torch.manual_seed(ctx.seed)
    model = VAE(cfg.latent_dim, cfg.hidden, n_classes)
    trainer = Trainer(model, build_optimizer(model, "adam", cfg.lr), ctx, epochs=cfg.epochs, step=make_step(ctx.seed),
                      schedule="cosine", warmup=0.02, device=cfg.device, name=name)
    before = gm.matmul_peak_gflops()
    start = time.perf_counter()
    history = trainer.fit(train, val=val)
    seconds = time.perf_counter() - start
    peak = max(before, gm.matmul_peak_gflops())
    fast = speed(len(train) * cfg.batch_size * cfg.epochs, seconds, mlp_matmul_flops(model), peak)
    return trainer.model.cpu().eval(), history, fast | {"matmul_peak_gflops": round(peak, 1),
                                                       "train_time_s": round(seconds, 1)}


@torch.no_grad()
def test_scores(model: VAE, x: torch.Tensor, y: torch.Tensor | None, k: int, iw_idx: np.ndarray, seed: int
                ) -> dict:
    """Negative ELBO over all test digits and the k-sample importance NLL over `iw_idx`, in nats."""
    torch.manual_seed(seed)
    xb = binarise(x, torch.Generator().manual_seed(seed + 12345))  # the test set binarised once
    parts = [model(xb[i:i + 1000], None if y is None else y[i:i + 1000]) for i in range(0, len(x), 1000)]
    elbo = torch.cat([p["neg_elbo"] for p in parts])
    kl = torch.cat([p["kl"] for p in parts])
    start = time.perf_counter()
    sub = torch.as_tensor(iw_idx)
    nll = torch.cat([model.importance_nll(xb[sub[i:i + 50]], k, None if y is None else y[sub[i:i + 50]])
                     for i in range(0, len(sub), 50)])
    return {"test_neg_elbo": float(elbo.mean()), "test_kl": float(kl.mean()), "test_rec": float((elbo - kl).mean()),
            "test_nll_iw": float(nll.mean()), "test_neg_elbo_same_subset": float(elbo[sub].mean()),
            "iw_k": k, "iw_images": len(sub), "iw_time_s": round(time.perf_counter() - start, 1)}


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of latent vectors a, b [D] at fractions t [T] -> [T,D] (White 2016)."""
    omega = torch.arccos((a / a.norm() * b / b.norm()).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b) / so


@torch.no_grad()
def sample_quality(samples: torch.Tensor, splits: MnistSplits, clf: gm.DigitClassifier, seed: int) -> dict:
    """FID (LeNet features) vs the test set, the real-vs-real floor, and the class histogram of the samples."""
    feats = gm.lenet_features(clf)
    test = splits.data.x_test
    fid = gm.fid(torch.tensor(test), samples, feats)
    floor = gm.real_vs_real(torch.tensor(test), feats, seed=seed)
    hist = gm.class_histogram(samples, clf)
    return {"fid_lenet": round(fid["fid"], 3), "fid_lenet_protocol": fid["protocol"],
            "fid_lenet_real_vs_real": round(floor["fid"], 3), "fid_real_vs_real_protocol": floor["protocol"],
            "sample_class_share": hist["class_share"], "sample_min_class_share": hist["min_class_share"],
            "sample_confident_share": hist["confident_share_p0.9"], "class_histogram_protocol": hist["protocol"],
            "classifier_test_acc": clf.test_acc}


def run(cfg: Config, ctx: RunContext) -> dict:
    splits = mnist_splits(cfg.n_train, cfg.n_test, cfg.val_size, ctx.seed)
    ctx.say(splits.protocol())
    model, history, fast = train_vae(cfg, ctx, splits)
    save_model(ctx.dir / "model", "vae", model, {"latent_dim": cfg.latent_dim, "hidden": cfg.hidden})

    x_test = unit(splits.data.x_test)
    y_test = splits.data.y_test
    iw_idx = stratified_subset(y_test, cfg.iw_images, ctx.seed) if cfg.iw_images and cfg.iw_images < len(y_test) \
        else np.arange(len(y_test))
    scores = test_scores(model, x_test, None, cfg.iw_k, np.sort(np.asarray(iw_idx)), ctx.seed)
    ctx.say(f"test -ELBO {scores['test_neg_elbo']:.2f} nats; importance-sampled NLL (k={cfg.iw_k}, "
            f"{scores['iw_images']} digits) {scores['test_nll_iw']:.2f} (IWAE paper VAE: 86.76)")

    gen = torch.Generator().manual_seed(ctx.seed)
    start = time.perf_counter()
    samples = model.sample(cfg.n_samples, generator=gen)
    sample_rate = round(cfg.n_samples / (time.perf_counter() - start), 1)
    clf = gm.digit_classifier(n_train=cfg.classifier_n_train)
    quality = sample_quality(samples, splits, clf, ctx.seed)
    ctx.say(f"FID (LeNet features) {quality['fid_lenet']:.2f} (real vs real {quality['fid_lenet_real_vs_real']:.2f})")

    slice_dims = plots(ctx, cfg, model, splits, history, samples, x_test, y_test)
    report(ctx, splits, scores, quality, fast, slice_dims)
    return {**scores, **quality, **fast, "sampling_images_per_s": sample_rate,
            "sampling_images_per_s_best": sampling_speed(lambda n: model.sample(n)),
            "manifold_dims": slice_dims, "epochs": len(history),
            "val_neg_elbo_last": history[-1]["val_loss"], "train_neg_elbo_last": history[-1]["train_loss"],
            "protocol": splits.protocol() + f"; test binarised once (seeded); -ELBO with one z per image; NLL by "
                        f"importance sampling, k={cfg.iw_k}, on {scores['iw_images']} stratified test digits"}


@torch.no_grad()
def plots(ctx, cfg, model: VAE, splits: MnistSplits, history, samples, x_test, y_test) -> list[int]:
    save_grid(ctx.plots / "samples.png", samples[:100], ncols=10)
    curves(ctx.plots / "neg_elbo.png", {"train": [h["train_loss"] for h in history],
                                        "validation": [h["val_loss"] for h in history]},
           ylabel="negative ELBO (nats / image)", title="VAE training")
    # interpolation strips between pairs of test digits of different classes: linear and spherical
    rng = np.random.default_rng(ctx.seed)
    t = torch.linspace(0, 1, 10)
    strips, labels = [], []
    for _ in range(4):
        a, b = rng.choice(len(y_test), 2, replace=False)
        while y_test[a] == y_test[b]:
            b = rng.integers(len(y_test))
        mu, _ = model.encode(x_test[[a, b]])
        for name, path in (("linear", mu[0] + t[:, None] * (mu[1] - mu[0])), ("slerp", slerp(mu[0], mu[1], t))):
            strips.append(torch.sigmoid(model.decode(path)))
            labels.append(f"{y_test[a]}→{y_test[b]} {name}")
    titled_grid(ctx.plots / "interpolations.png", torch.cat(strips), 10,
                "interpolation between test digits (encoder means), linear and spherical", row_labels=labels)
    # a 2-D slice of the latent space along the two most informative dimensions (largest KL on validation)
    mu, logvar = model.encode(unit(splits.x_val))
    kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(0)
    dims = kl_per_dim.topk(2).indices.tolist()
    n, grid = 15, torch.linspace(-2.5, 2.5, 15)
    z = torch.zeros(n * n, model.latent_dim)
    z[:, dims[0]] = grid.repeat(n)
    z[:, dims[1]] = grid.flip(0).repeat_interleave(n)
    manifold_grid(ctx.plots / "manifold_slice.png", torch.sigmoid(model.decode(z)), n,
                  f"2-D slice of the {model.latent_dim}-d latent space (z{dims[0]}, z{dims[1]}; others 0)",
                  (-2.5, 2.5), (f"z{dims[0]}", f"z{dims[1]}"))
    latent_scatter(ctx.plots / "latent_test.png", model.encode(x_test)[0], y_test,
                   f"test digits' encoder means ({model.latent_dim}-d, first 2 principal components)")
    idx, dist = gm.nearest_neighbours(samples[:10], splits.x_train)
    neighbour_pairs(ctx.plots / "nearest_train.png", samples[:10], unit(splits.x_train[idx.numpy()]),
                    dist.tolist(), "samples and their nearest training digits (L2 on pixels)")
    return dims


def report(ctx, splits, scores, quality, fast, dims) -> None:
    rep = Report("Variational autoencoder on MNIST")
    rep.text(splits.protocol() + ".")
    rep.heading("Test set (evaluated once)").text(
        f"Negative ELBO {scores['test_neg_elbo']:.2f} nats (reconstruction {scores['test_rec']:.2f} + KL "
        f"{scores['test_kl']:.2f}); importance-sampled NLL with k = {scores['iw_k']} on {scores['iw_images']} "
        f"stratified test digits: {scores['test_nll_iw']:.2f} nats (their -ELBO "
        f"{scores['test_neg_elbo_same_subset']:.2f}); IWAE paper (Burda et al. 2016), VAE with one stochastic "
        "layer, k = 1: 86.76.")
    rep.heading("Samples").text(
        f"{quality['fid_lenet_protocol']}: {quality['fid_lenet']:.2f}; {quality['fid_real_vs_real_protocol']}: "
        f"{quality['fid_lenet_real_vs_real']:.2f}. Class shares of the samples: {quality['sample_class_share']} "
        f"(classifier confident on {quality['sample_confident_share']:.1%}).").image(ctx.plots / "samples.png")
    rep.image(ctx.plots / "nearest_train.png")
    rep.heading("Latent space").image(ctx.plots / "interpolations.png").image(ctx.plots / "manifold_slice.png")
    rep.image(ctx.plots / "latent_test.png")
    rep.heading("Training").text(f"{fast}").image(ctx.plots / "neg_elbo.png")
    rep.write(ctx.dir)


def summarize(m: dict) -> str:
    return (f"test -ELBO {m['test_neg_elbo']:.2f} nats, IS-NLL {m['test_nll_iw']:.2f} (k={m['iw_k']}; IWAE 86.76); "
            f"FID (LeNet) {m['fid_lenet']:.2f} vs real {m['fid_lenet_real_vs_real']:.2f}")


# ---- using the trained model: `roadmap sample 4.3.1 --n 64` ------------------------------------------------

@dataclass
class SampleOptions:
    n: int = param(64, "digits to generate", min=1, max=4096)
    temperature: float = param(1.0, "scale of the prior's standard deviation", gt=0, max=3)
    seed: int = param(0, "random seed of z", min=0)


def load_trained(run_dir: Path, cfg: Config) -> VAE:
    return load_model(Path(run_dir) / "model", "vae", lambda latent_dim, hidden: VAE(latent_dim, hidden))[0]


def sample(model: VAE, inputs: list[str], opts: SampleOptions, out_dir: Path) -> list:
    images = model.sample(opts.n, generator=torch.Generator().manual_seed(opts.seed), temperature=opts.temperature)
    return [save_grid(out_dir / f"vae-samples-seed{opts.seed}-t{opts.temperature:g}.png", images,
                      ncols=int(np.ceil(np.sqrt(opts.n))))]
