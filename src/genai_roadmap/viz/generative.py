"""Pictures of generative models: sample grids, interpolation strips, latent scatter plots, 2-D manifold grids,
nearest-training-neighbour pairs, a GIF of samples over training, and an engine callback that records a fixed
batch's samples every epoch (the GIF's frames). Images are uint8 or float in [0,1], [N,H,W] or [N,H,W,3]
(or [N,1,H,W] / [N,3,H,W] tensors); every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import io
from ..train.callbacks import Callback
from .plots import new_figure, save

if TYPE_CHECKING:
    from ..train.engine import Trainer


def as_uint8(images: Any) -> np.ndarray:
    """Images as uint8 [N,H,W] (grey) or [N,H,W,3]: from uint8 or 0-1 floats, channels first or last."""
    x = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)  # [N,C,H,W] -> [N,H,W,C]
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dtype != np.uint8:
        x = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
    return x


def mosaic(images: Any, ncols: int, pad: int = 2, fill: int = 128) -> np.ndarray:
    """One image of the images tiled row by row, `pad` pixels of grey between them."""
    x = as_uint8(images)
    n, h, w = x.shape[:3]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    shape = (nrows * (h + pad) + pad, ncols * (w + pad) + pad) + x.shape[3:]
    out = np.full(shape, fill, np.uint8)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = x[i]
    return out


def save_grid(path: str | Path, images: Any, ncols: int = 8, scale: int = 2) -> Path:
    """A plain PNG grid (no axes), each pixel `scale`×`scale`: what `roadmap sample` writes."""
    from PIL import Image

    tile = mosaic(images, ncols)
    img = Image.fromarray(tile).resize((tile.shape[1] * scale, tile.shape[0] * scale), Image.NEAREST)
    return io.write_with(path, lambda tmp: img.save(tmp, format="PNG"), suffix=".png")


def titled_grid(path: str | Path, images: Any, ncols: int, title: str, row_labels: Sequence[str] | None = None,
                col_labels: Sequence[str] | None = None) -> Path:
    """A grid as a figure with a title and optional row / column labels (interpolations, before/after)."""
    tile = mosaic(images, ncols)
    x = as_uint8(images)
    h, w, pad = x.shape[1], x.shape[2], 2
    fig, ax = new_figure(size=(max(4.0, tile.shape[1] / 40), max(2.0, tile.shape[0] / 40 + 0.6)))
    ax.imshow(tile, cmap="gray" if tile.ndim == 2 else None, interpolation="nearest", vmin=0, vmax=255)
    ax.set_xticks([pad + c * (w + pad) + w / 2 for c in range(len(col_labels))] if col_labels else [],
                  col_labels or [], fontsize=7)
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(len(row_labels))] if row_labels else [],
                  row_labels or [], fontsize=7)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def latent_scatter(path: str | Path, z: Any, labels: Any, title: str, max_points: int = 5000,
                   seed: int = 0) -> Path:
    """Latent codes coloured by class; codes with more than 2 dims are projected on their first 2 principal
    components (the axis labels say which)."""
    z = np.asarray(z.detach().cpu() if torch.is_tensor(z) else z, dtype=np.float64)
    labels = np.asarray(labels)
    if len(z) > max_points:  # a seeded random subset keeps the plot readable
        keep = np.random.default_rng(seed).choice(len(z), max_points, replace=False)
        z, labels = z[keep], labels[keep]
    axes = ("z1", "z2")
    if z.shape[1] > 2:
        centred = z - z.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        z, axes = centred @ vt[:2].T, ("PC1 of z", "PC2 of z")
    fig, ax = new_figure(size=(5.5, 4.8))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set(xlabel=axes[0], ylabel=axes[1], title=title)
    return save(fig, path)


def manifold_grid(path: str | Path, images: Any, n: int, title: str, extent: tuple[float, float],
                  axes: tuple[str, str] = ("z1", "z2")) -> Path:
    """Decoded images of an n×n grid of latent points (row-major, z2 from top to bottom decreasing)."""
    tile = mosaic(images, n, pad=0)
    fig, ax = new_figure(size=(6.0, 6.0))
    lo, hi = extent
    ax.imshow(tile, cmap="gray", extent=(lo, hi, lo, hi), interpolation="nearest")
    ax.set(xlabel=axes[0], ylabel=axes[1], title=title)
    return save(fig, path)


def neighbour_pairs(path: str | Path, samples: Any, neighbours: Any, distances: Sequence[float], title: str) -> Path:
    """Each sample above its nearest training image, with the pixel distance: a memorisation check."""
    s, t = as_uint8(samples), as_uint8(neighbours)
    labels = [f"{d:.1f}" for d in distances]
    return titled_grid(path, np.concatenate([s, t]), len(s), title, row_labels=["sample", "nearest train"],
                       col_labels=labels)


def samples_gif(path: str | Path, frames: Sequence[np.ndarray], labels: Sequence[str] | None = None,
                ms_per_frame: int = 400, scale: int = 2) -> Path:
    """An animated GIF of grids (e.g. one per epoch), each labelled; the last frame stays longer."""
    from PIL import Image, ImageDraw

    images = []
    for i, frame in enumerate(frames):
        img = Image.fromarray(as_uint8(frame[None])[0]).convert("RGB")
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        if labels:
            canvas = Image.new("RGB", (img.width, img.height + 14), "white")
            canvas.paste(img, (0, 14))
            ImageDraw.Draw(canvas).text((3, 1), labels[i], fill="black")
            img = canvas
        images.append(img)
    durations = [ms_per_frame] * (len(images) - 1) + [ms_per_frame * 5]
    return io.write_with(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True,
                                                          append_images=images[1:], duration=durations, loop=0),
                         suffix=".gif")


class SampleGrids(Callback):
    """Every `every` epochs, `render(model, fixed)` -> images of one fixed input (noise, test digits) saved as
    `<folder>/<name>-epoch<NNN>.png`; at the end of the fit, all of them as `<name>.gif`. The fixed input is
    kept in the checkpoint, so a resumed run keeps drawing the same batch."""

    def __init__(self, folder: Path, fixed: torch.Tensor, render: Callable[[torch.nn.Module, torch.Tensor], Any],
                 name: str = "samples", every: int = 1, ncols: int = 8) -> None:
        self.folder, self.fixed, self.render, self.name = Path(folder), fixed, render, name
        self.every, self.ncols = every, ncols
        self.epochs: list[int] = []

    def frame_path(self, epoch: int) -> Path:
        return self.folder / f"{self.name}-epoch{epoch:03d}.png"

    @torch.no_grad()
    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        epoch = record["epoch"]
        if epoch % self.every and epoch != trainer.epochs:
            return
        model = trainer.model
        was_training = model.training
        model.eval()
        images = self.render(model, self.fixed.to(trainer.device))
        model.train(was_training)
        save_grid(self.frame_path(epoch), images, self.ncols)
        if epoch not in self.epochs:
            self.epochs.append(epoch)

    def on_fit_end(self, trainer: Trainer) -> None:
        from PIL import Image

        frames = [np.asarray(Image.open(self.frame_path(e))) for e in self.epochs if self.frame_path(e).exists()]
        if frames:
            samples_gif(self.folder / f"{self.name}.gif", frames, [f"epoch {e}" for e in self.epochs], scale=1)

    def state_dict(self) -> dict[str, Any]:
        return {"fixed": self.fixed.cpu(), "epochs": list(self.epochs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fixed, self.epochs = state["fixed"], list(state["epochs"])
