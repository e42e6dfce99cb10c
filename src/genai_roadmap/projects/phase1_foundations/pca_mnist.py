"""1.3.2 pca-mnist — PCA from scratch on MNIST: how many directions hold 95% of the variance, and what they see.

Roadmap: "Apply PCA (Principal Component Analysis) to a dataset (e.g., MNIST) to reduce its dimensionality and
visualize the transformed data."

What it does: PCA from scratch (genai_roadmap.scratch.pca: for tall data like these 60000×784 training images it
eigendecomposes the 784×784 covariance, as sklearn's auto solver does; wide data take the SVD of the centred data)
beside sklearn's PCA(n_components=0.95) on the same pixels (scaled to [0, 1]). It reports the number of
components for 95% of the variance from both (`k95`, `k95_sklearn`), the largest difference in explained-variance
ratios and in the leading components, fit times, and the test-set reconstruction error at several k. Plots:
the explained-variance curve, the test digits on the first two components coloured by digit, reconstructions
at several k, and the first principal directions as images.
`--set dataset=digits` runs on scikit-learn's 8×8 digits instead (ships with sklearn: the offline fallback).

Result (cpu preset, seed 0): k95 = 154 on MNIST, equal to sklearn's (Géron's figure); explained-variance ratios
agree to 4e-17 and the first 10 components to 2e-15. Fit times are the median of `timing_repeats` alternating fits
of each (one fit each swings with whatever else holds the cores); the ratio to sklearn is in metrics.json and in
RESULTS.md (benchmarks/scratch_speed.py measures it with more repeats). Digits: k95 = 28 = sklearn's.
                                                                 roadmap run 1.3.2 [--set dataset=digits]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np

from ...config import param
from ...data.images import ImageData, load_digits_8x8, load_mnist
from ...runs import RunContext
from ...scratch.pca import PCA
from ...viz import image_grid, new_figure, save


@dataclass
class Config:
    dataset: Literal["mnist", "digits"] = param("mnist", "mnist (mirror/cache/download) or digits (sklearn 8×8)")
    max_samples: int = param(0, "training images used for the fit (0 = all)", min=0)
    variance: float = param(0.95, "explained-variance fraction whose component count is compared", gt=0, lt=1)
    recon_ks: list[int] = param([1, 5, 10, 25, 50, 100, 300], "k values shown in the reconstructions (+ k95)", min=1)
    scatter_points: int = param(5000, "test points drawn in the 2-D scatter", min=1)
    timing_repeats: int = param(3, "alternating fits of ours and sklearn's; the fit times are their medians", min=1,
                                max=50)


PRESETS = {"smoke": {"max_samples": 2000, "scatter_points": 500, "recon_ks": [1, 10, 50], "timing_repeats": 1},
           "cpu": {}, "full": {}}


def load(cfg: Config, seed: int) -> ImageData:
    data = load_mnist() if cfg.dataset == "mnist" else load_digits_8x8(seed=seed)
    return data.subset(n_train=cfg.max_samples, seed=seed) if 0 < cfg.max_samples < len(data.x_train) else data


def flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def plot_variance(path, ours: PCA, sk_ratio: np.ndarray, k: int, variance: float) -> None:
    ratio = ours.full_variance_ratio_
    cum = np.cumsum(ratio)
    ks = np.arange(1, len(ratio) + 1)
    fig, (ax1, ax2) = new_figure(ncols=2, size=(11, 4))
    ax1.plot(ks, cum, label="ours (SVD)")
    ax1.plot(ks[: len(sk_ratio)], np.cumsum(sk_ratio), ".", ms=3, label="sklearn PCA")
    ax1.axhline(variance, color="grey", ls="--", lw=1)
    ax1.axvline(k, color="r", ls=":", lw=1, label=f"k = {k} for {variance:.0%}")
    ax1.set(xlabel="components k", ylabel="cumulative explained variance", title="explained variance",
            ylim=(0, 1.01))
    ax2.semilogy(ks, np.maximum(ratio, 1e-20))
    ax2.axvline(k, color="r", ls=":", lw=1)
    # Border pixels that are always 0 give exactly-zero directions; their ratios are round-off, cut them off.
    ax2.set(xlabel="component", ylabel="explained variance ratio (log)", title="spectrum", ylim=(1e-12, 1))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    save(fig, path)


def plot_scatter(path, Z: np.ndarray, labels: np.ndarray, classes, ratio: np.ndarray) -> None:
    fig, ax = new_figure(size=(6.5, 5.5))
    for c in range(len(classes)):
        pts = Z[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.5, color=f"C{c}", label=classes[c])
        ax.text(*np.median(pts, axis=0), classes[c], fontsize=13, weight="bold", ha="center", va="center",
                bbox={"fc": "white", "alpha": 0.7, "lw": 0})
    ax.set(xlabel=f"PC1 ({ratio[0]:.1%} of variance)", ylabel=f"PC2 ({ratio[1]:.1%})",
           title="test digits on the first two principal components")
    ax.legend(markerscale=3, fontsize=7, ncol=2)
    save(fig, path)


def grey_rgb(images: np.ndarray) -> np.ndarray:
    """[N,H,W] values in [0,1] as RGB, so every tile is drawn on the same absolute scale (no per-tile stretch)."""
    return np.repeat(np.clip(images, 0, 1)[..., None], 3, axis=-1)


def signed_rgb(images: np.ndarray) -> np.ndarray:
    """[N,H,W] signed values as RGB through a diverging map with 0 = white, scaled per image by max |value|."""
    scale = np.abs(images).max(axis=(1, 2), keepdims=True)
    return plt.get_cmap("RdBu_r")(images / (2 * np.maximum(scale, 1e-12)) + 0.5)[..., :3]


def run(cfg: Config, ctx: RunContext) -> dict:
    from sklearn.decomposition import PCA as SkPCA

    if not 0 < cfg.variance < 1:
        from ...errors import UserError

        raise UserError(f"variance must be between 0 and 1, got {cfg.variance}")
    data = load(cfg, ctx.seed)
    X, X_test = flat(data.x_train), flat(data.x_test)
    shape = data.x_train.shape[1:]
    ctx.say(f"{data.source}: fitting PCA on {X.shape[0]} images × {X.shape[1]} pixels")

    ours_times, sk_times = [], []
    for _ in range(cfg.timing_repeats):  # alternate, so a busy moment on a shared core hits both alike
        start = time.perf_counter()
        ours = PCA().fit(X)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        sk = SkPCA(n_components=cfg.variance, random_state=ctx.seed).fit(X)
        sk_times.append(time.perf_counter() - start)
    t_ours, t_sk = float(np.median(ours_times)), float(np.median(sk_times))
    k, k_sk = ours.n_components_for(cfg.variance), int(sk.n_components_)
    ctx.say(f"components for {cfg.variance:.0%} variance: ours {k}, sklearn {k_sk}; "
            f"fit {t_ours:.2f} s vs sklearn {t_sk:.2f} s ({sk._fit_svd_solver} solver)")
    evr_diff = float(np.abs(ours.explained_variance_ratio_[:k_sk] - sk.explained_variance_ratio_).max())
    n_cmp = min(10, k_sk)
    comp_diff = float(np.abs(ours.components_[:n_cmp] - sk.components_[:n_cmp]).max())

    # Reconstruction error on held-out images: mean squared pixel error per k.
    ks = sorted({q for q in [*cfg.recon_ks, k] if 0 < q <= ours.n_components_})
    recon_mse = {q: float(np.mean((ours.reconstruct(X_test, q) - X_test) ** 2)) for q in ks}
    for q, mse in recon_mse.items():
        ctx.log(k=q, test_recon_mse=mse, cum_variance=float(np.cumsum(ours.full_variance_ratio_)[q - 1]))

    plot_variance(ctx.plots / "explained_variance.png", ours, sk.explained_variance_ratio_, k, cfg.variance)
    rng = np.random.default_rng(ctx.seed)
    pick = rng.permutation(len(X_test))[: cfg.scatter_points]
    plot_scatter(ctx.plots / "scatter_2d.png", ours.transform(X_test[pick], 2), data.y_test[pick], data.classes,
                 ours.explained_variance_ratio_)
    # One test image per class, then its reconstruction at each k (rows).
    idx = [int(np.flatnonzero(data.y_test == c)[0]) for c in range(len(data.classes))]
    rows = [X_test[idx]] + [ours.reconstruct(X_test[idx], q) for q in ks]
    titles = [f"orig {data.classes[c]}" for c in range(len(idx))]
    titles += [f"k={q}" for q in ks for _ in idx]
    image_grid(ctx.plots / "reconstructions.png", grey_rgb(np.concatenate(rows).reshape(-1, *shape)),
               titles=titles, ncols=len(idx), title="test digits and their rank-k reconstructions")
    comps = ours.components_[:20]
    image_grid(ctx.plots / "components.png", signed_rgb(comps.reshape(-1, *shape)),
               titles=[f"PC{i + 1}" for i in range(len(comps))], ncols=10,
               title="principal directions (red +, blue -, white 0)")

    cum = np.cumsum(ours.full_variance_ratio_)
    return {
        "k95_diff_vs_sklearn": abs(k - k_sk), "k95": k, "k95_sklearn": k_sk, "variance_threshold": cfg.variance,
        "evr_max_diff_vs_sklearn": evr_diff, f"components{n_cmp}_max_diff_vs_sklearn": comp_diff,
        "variance_at_k": {str(q): float(cum[q - 1]) for q in ks},
        "test_recon_mse": {str(q): v for q, v in recon_mse.items()},
        "test_recon_mse_at_k95": recon_mse[k],
        "fit_time_s": t_ours, "sklearn_fit_time_s": t_sk, "fit_time_ratio_vs_sklearn": t_ours / t_sk,
        "sklearn_solver": sk._fit_svd_solver,
        "n_train": int(X.shape[0]), "n_features": int(X.shape[1]), "n_test": int(X_test.shape[0]),
        "data_source": data.source,
    }


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"k95 {m['k95']} = sklearn's {m['k95_sklearn']}; explained-variance ratios within "
            f"{m['evr_max_diff_vs_sklearn']:.0e}; fit {m['fit_time_ratio_vs_sklearn']:.2f}x sklearn's time "
            f"({m['sklearn_solver']}, medians of alternating fits)")
