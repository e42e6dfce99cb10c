"""Smoke runs of 4.1.1 (autoencoder vs PCA) and 4.1.2 (denoising autoencoder) on a slice of real MNIST: they
learn (error falls, beats PCA's worst case / the noisy input), write their pictures, and the saved models
come back through `roadmap sample`'s hooks."""

from __future__ import annotations

import json

import pytest
import torch

import genai_roadmap as gr
from genai_roadmap import registry
from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase4_generative import denoising_ae
from genai_roadmap.runs import execute


def _epochs(run_dir, fit):
    rows = map(json.loads, (run_dir / "log.jsonl").read_text().splitlines())
    return [r for r in rows if r["event"] == "epoch" and r.get("fit") == fit]


@pytest.mark.realdata
def test_autoencoder_smoke_learns_and_samples(need_data, tmp_path):
    run_dir, m = execute(registry.get("4.1.1"), preset="smoke", out=tmp_path, quiet=True,
                         overrides={"latent_dims": [2, 10], "epochs": 3})
    for fit in ("mlp-2", "conv-10"):
        log = _epochs(run_dir, fit)
        assert log[-1]["val_sse"] < log[0]["val_sse"]
    untrained = 784 * 0.25  # sigmoid(0) = 0.5 everywhere: SSE of ~0.25 per pixel on mostly-black digits
    assert m["test_sse_10"] < 0.5 * untrained and m["pca_test_sse_10"] < m["pca_test_sse_2"]
    assert {r["variant"] for r in m["table"]} == {"mlp", "conv", "pca"} and m["variant_10"] in ("mlp", "conv")
    assert m["test_mse_per_pixel_10"] == pytest.approx(m["test_sse_10"] / 784)
    assert m["peak_share_mlp_2"] > 0 and m["train_images_per_s_conv_2"] > 0
    for name in ("reconstructions", "latent_2d", "pca_2d", "error_vs_dim"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 1000
    model = gr.load("4.1.1", run=run_dir)
    grid = model.sample(mode="decode", n=16, out_dir=tmp_path / "s")[0]
    assert grid.suffix == ".png" and grid.stat().st_size > 200
    ae, codes = model.model[10]
    with torch.no_grad():
        out = ae.reconstruct(torch.rand(4, 1, 28, 28))
    assert out.shape == (4, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(UserError, match="latent size 30"):
        model.sample(dim=30)


def test_corruptions_have_the_stated_statistics():
    x = torch.full((200, 1, 28, 28), 0.5)
    gen = torch.Generator().manual_seed(0)
    masked = denoising_ae.corrupt(x, "masking", gen)
    assert (masked == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    sp = denoising_ae.corrupt(x, "salt_pepper", gen)
    assert (sp == 1).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert (sp == 0).float().mean().item() == pytest.approx(0.1, abs=0.01)
    g = denoising_ae.corrupt(x, "gaussian0.3", gen)
    # clipping to [0,1] trims the tails of 0.5 + N(0, 0.3²): the std falls a little below 0.3, the mean stays
    assert 0.26 < (g - x).std().item() < 0.3 and abs((g - x).mean().item()) < 0.005
    assert g.min() >= 0 and g.max() <= 1
    same = denoising_ae.corrupt(x, "masking", torch.Generator().manual_seed(0))
    assert torch.equal(same, masked)  # the same seed, the same corruption
    mixed = denoising_ae.corrupt_mixed(torch.rand(400, 1, 28, 28), torch.Generator().manual_seed(1))
    assert mixed.shape == (400, 1, 28, 28) and mixed.min() >= 0 and mixed.max() <= 1


@pytest.mark.realdata
def test_denoising_smoke_beats_the_noisy_input(need_data, tmp_path):
    run_dir, m = execute(registry.get("4.1.2"), preset="smoke", out=tmp_path, quiet=True,
                         overrides={"epochs": 4, "variants": ["mlp"]})
    log = _epochs(run_dir, "mlp")
    assert log[-1]["val_loss"] < log[0]["val_loss"]
    rows = {r["noise"]: r for r in m["table"]}
    assert rows["gaussian0.5"]["psnr_denoised"] > rows["gaussian0.5"]["psnr_noisy"]
    assert m["psnr_gain_sigma0.5"] == pytest.approx(rows["gaussian0.5"]["psnr_gain"], abs=1e-3)
    assert rows["gaussian0.5"]["psnr_noisy"] < rows["gaussian0.3"]["psnr_noisy"]  # more noise, lower PSNR
    assert (run_dir / "plots" / "denoised_masking.png").stat().st_size > 1000
    grid = gr.load("4.1.2", run=run_dir).sample(noise="masking", n=4, out_dir=tmp_path / "s")[0]
    assert grid.is_file()
