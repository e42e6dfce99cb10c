"""Small plotting helpers shared by projects. Figures are saved atomically and closed after saving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .. import io  # noqa: E402


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] | None = None, **kwargs):
    size = size or (4.5 * ncols, 3.6 * nrows)
    return plt.subplots(nrows, ncols, figsize=size, **kwargs)


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    """Save and close a figure; the file appears whole or not at all."""
    fig.tight_layout()
    io.write_with(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png"))
    plt.close(fig)
    return Path(path)


def curves(path: str | Path, series: dict[str, Sequence[float]], xlabel: str = "epoch", ylabel: str = "",
           title: str = "", x: Sequence[float] | None = None, logy: bool = False) -> Path:
    """Line plot of several named series sharing an x axis (loss / accuracy curves)."""
    fig, ax = new_figure(size=(5.5, 3.8))
    for name, values in series.items():
        xs = x if x is not None else np.arange(1, len(values) + 1)
        ax.plot(xs[: len(values)], values, label=name, marker="o" if len(values) < 30 else None, ms=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def history_curves(plots_dir: Path, history: Sequence[dict], title: str, val_name: str = "validation",
                   train_name: str = "train") -> None:
    """loss.png and accuracy.png from the training engine's per-epoch records (train_* and, when the run had a
    validation set, val_* keys)."""
    for metric, ylabel in (("loss", "cross-entropy"), ("acc", "accuracy")):
        series = {train_name: [h[f"train_{metric}"] for h in history]}
        if all(f"val_{metric}" in h for h in history):
            series[val_name] = [h[f"val_{metric}"] for h in history]
        curves(Path(plots_dir) / ("loss.png" if metric == "loss" else "accuracy.png"), series, ylabel=ylabel,
               title=f"{title}: {'loss' if metric == 'loss' else 'accuracy'}")


def image_grid(path: str | Path, images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 10,
               title: str = "", cmap: str = "gray", title_colors: Sequence[str] | None = None) -> Path:
    """A grid of images: uint8 or float [N,H,W] (grey) or [N,H,W,3] (RGB)."""
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.45 * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap if images[i].ndim == 2 else None, interpolation="nearest")
        if titles is not None:
            color = title_colors[i] if title_colors is not None else "black"
            ax.set_title(titles[i], fontsize=7, color=color)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)


def confusion_matrix_plot(path: str | Path, matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Path:
    """Row-normalised confusion matrix with counts in the cells."""
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = new_figure(size=(0.55 * len(classes) + 3, 0.5 * len(classes) + 2.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return save(fig, path)
