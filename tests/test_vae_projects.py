"""Smoke runs of 4.3.1 (VAE) and 4.3.2 (conditional VAE) on a slice of real MNIST: the ELBO beats the untrained
model, samples have the right shape and range, the CVAE's digits are recognised above chance, and the saved
models come back through `roadmap sample`'s hooks (`roadmap sample 4.3.2 --set digit=7 --n 64`)."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

import genai_roadmap as gr
from genai_roadmap import cli, registry
from genai_roadmap.runs import execute


@pytest.mark.realdata
def test_vae_smoke_beats_untrained_and_samples(need_data, tmp_path):
    run_dir, m = execute(registry.get("4.3.1"), preset="smoke", out=tmp_path, quiet=True,
                         overrides={"n_samples": 200})
    untrained = 784 * math.log(2)  # logits ~0: every pixel a coin flip, 543 nats, plus a KL near 0
    assert m["test_neg_elbo"] < 0.7 * untrained and m["test_kl"] > 0
    assert m["test_nll_iw"] <= m["test_neg_elbo_same_subset"] + 0.5  # the IWAE bound is the tighter one
    assert m["fid_lenet"] > m["fid_lenet_real_vs_real"] > 0 and len(m["sample_class_share"]) == 10
    for name in ("samples", "interpolations", "manifold_slice", "nearest_train", "latent_test"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 1000
    model = gr.load("4.3.1", run=run_dir)
    images = model.model.sample(8, generator=torch.Generator().manual_seed(0))
    assert images.shape == (8, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    grid = model.sample(n=16, seed=3, out_dir=tmp_path / "s")[0]
    assert Image.open(grid).size[0] > 28 * 4


@pytest.mark.realdata
def test_cvae_smoke_generates_the_requested_digit_above_chance(need_data, tmp_path, capsys):
    run_dir, m = execute(registry.get("4.3.2"), preset="smoke", out=tmp_path, quiet=True)
    assert m["generated_class_acc"] > 0.3  # chance 0.1
    assert m["chosen_latent_dim"] in (2, 8) and len(m["candidates"]) == 2
    assert (run_dir / "plots" / "style_transfer.png").stat().st_size > 1000
    model = gr.load("4.3.2", run=run_dir)
    sevens = model.model.sample(50, torch.full((50,), 7), generator=torch.Generator().manual_seed(0))
    from genai_roadmap.metrics.generative import classify, digit_classifier

    clf = digit_classifier(n_train=2000)
    assert (classify(sevens, clf).argmax(1) == 7).float().mean() > 0.3
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sample", "4.3.2", "--run", str(run_dir), "--set", "digit=7", "--n", "64"])
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert exit_.value.code == 0 and out.endswith("cvae-digit7-seed0.png")
    assert Image.open(out).size == (2 * (8 * 30 + 2),) * 2  # an 8×8 grid of 28-px digits, 2 px apart, doubled
