"""Pictures of generative models: grids tile the right pixels, the GIF has one frame per epoch, and the
sample-grid callback records frames through the engine and keeps its fixed input across a checkpoint."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from genai_roadmap.viz import generative as gv


def test_mosaic_places_each_image_and_accepts_float_channels_first():
    imgs = torch.zeros(5, 1, 4, 4)
    imgs[3] = 1.0  # the 4th image, row 1 col 0 with ncols 3
    tile = gv.mosaic(imgs, ncols=3, pad=1)
    assert tile.shape == (2 * 5 + 1, 3 * 5 + 1) and tile.dtype == np.uint8
    assert (tile[6:10, 1:5] == 255).all() and (tile[1:5, 1:5] == 0).all()
    assert tile[0, 0] == 128  # the padding


def test_save_grid_and_gif(tmp_path):
    imgs = np.random.default_rng(0).random((16, 28, 28))
    path = gv.save_grid(tmp_path / "grid.png", imgs, ncols=4, scale=2)
    assert Image.open(path).size == (2 * (4 * 30 + 2), 2 * (4 * 30 + 2))
    frames = [gv.mosaic(imgs * k / 3, 4) for k in range(3)]
    gif = gv.samples_gif(tmp_path / "s.gif", frames, ["epoch 1", "epoch 2", "epoch 3"])
    assert Image.open(gif).n_frames == 3


def test_latent_scatter_and_titled_grid_write_files(tmp_path):
    z = np.random.default_rng(0).normal(size=(300, 5))
    assert gv.latent_scatter(tmp_path / "z.png", z, np.arange(300) % 10, "latent").stat().st_size > 1000
    strips = np.random.default_rng(1).random((2 * 6, 28, 28))
    assert gv.titled_grid(tmp_path / "t.png", strips, 6, "interp", row_labels=["a", "b"]).is_file()


def test_sample_grid_callback_saves_frames_and_gif(tmp_path):
    from genai_roadmap.data.batches import TensorBatches
    from genai_roadmap.train import Trainer

    model = torch.nn.Linear(4, 16)
    x = torch.randn(64, 4)
    batches = TensorBatches(x, x.sum(1, keepdim=True).repeat(1, 16), batch_size=16)
    step = lambda m, b, t=None: {"loss": ((m(b[0]) - b[1]) ** 2).mean()}  # noqa: E731
    cb = gv.SampleGrids(tmp_path, torch.randn(4, 4), lambda m, z: torch.sigmoid(m(z)).view(-1, 4, 4), "s")
    Trainer(model, torch.optim.SGD(model.parameters(), 0.01), None, epochs=3, step=step, callbacks=[cb],
            progress=False, device="cpu").fit(batches)
    assert [p.name for p in sorted(tmp_path.glob("s-epoch*.png"))] == [f"s-epoch00{e}.png" for e in (1, 2, 3)]
    assert Image.open(tmp_path / "s.gif").n_frames == 3
    fresh = gv.SampleGrids(tmp_path, torch.zeros(4, 4), lambda m, z: z)
    fresh.load_state_dict(cb.state_dict())
    assert torch.equal(fresh.fixed, cb.fixed) and fresh.epochs == [1, 2, 3]
