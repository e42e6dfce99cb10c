"""The VAE's numbers against independent computations: the closed-form KL against Monte Carlo, the importance-
sampled log-likelihood against numerical integration over a 1-d latent, the IWAE bound against the ELBO."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_roadmap.nn.autoencoders import VAE, Autoencoder, mlp_matmul_flops
from genai_roadmap.projects.phase4_generative.vae import binarise, slerp


def _binary_digits(n: int, seed: int = 0) -> torch.Tensor:
    return binarise(torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 0.3,
                    torch.Generator().manual_seed(seed + 1))


def test_kl_term_matches_monte_carlo():
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=[16])
    x = _binary_digits(2)
    mu, logvar = model.encode(x)
    std = (0.5 * logvar).exp()
    z = mu + std * torch.randn(200_000, *mu.shape)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    mc = (log_q - log_p).mean(0)
    closed = model(x)["kl"]
    assert torch.allclose(mc, closed, atol=0.01)


def test_importance_nll_matches_numerical_integration_in_one_dimension():
    torch.manual_seed(0)
    model = VAE(latent_dim=1, hidden=[8]).double()
    x = _binary_digits(3).double()
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)[:, None]  # p(x) = ∫ p(x|z) N(z; 0, 1) dz
    with torch.no_grad():
        logits = model.decode(z).flatten(1)  # [Z,784]
        target = x.flatten(1)[None].expand(len(z), -1, -1)  # [Z,3,784]
        log_px_z = -F.binary_cross_entropy_with_logits(logits[:, None].expand_as(target), target,
                                                       reduction="none").sum(-1)  # [Z,3]
        log_joint = log_px_z - 0.5 * (z**2 + math.log(2 * math.pi))
        exact = -(torch.logsumexp(log_joint, 0) + math.log(z[1, 0] - z[0, 0]))
        estimate = model.importance_nll(x, k=20000, chunk=5000)
    assert torch.allclose(estimate, exact, atol=0.1)  # a wrong term (log q, the mean over k) is nats off


def test_iwae_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    model = VAE(latent_dim=4, hidden=[32])
    x = _binary_digits(20)
    with torch.no_grad():
        elbo = torch.stack([model(x)["neg_elbo"] for _ in range(200)]).mean(0)  # E_q[-ELBO], MC
        nll = model.importance_nll(x, k=500)
    assert (nll <= elbo + 1e-3).all() and (elbo - nll).mean() > 0.01


def test_conditional_vae_needs_labels_and_samples_in_range():
    model = VAE(latent_dim=4, hidden=[16], n_classes=10)
    with pytest.raises(ValueError, match="labels"):
        model(_binary_digits(2))
    out = model.sample(5, torch.tensor([0, 1, 2, 3, 4]), generator=torch.Generator().manual_seed(0))
    assert out.shape == (5, 1, 28, 28) and out.min() >= 0 and out.max() <= 1


def test_slerp_keeps_endpoints_and_interpolates_the_angle():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[2], b, atol=1e-5)
    assert torch.atan2(path[1, 1], path[1, 0]).item() == pytest.approx(math.pi / 4, abs=1e-5)
    assert path.norm(dim=1).tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)  # stays on the sphere


def test_mlp_flop_count_and_autoencoder_shapes():
    ae = Autoencoder(10, "mlp", hidden=[64])
    assert mlp_matmul_flops(ae) == 6 * (784 * 64 + 64 * 10 + 10 * 64 + 64 * 784)
    conv = Autoencoder(3, "conv", channels=[4, 8])
    assert conv(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
