"""Autoencoders for 28×28 grey images: MLP and convolutional encoders / decoders, a Gaussian VAE with a
Bernoulli decoder, and its label-conditioned version. Images are [B,1,28,28] in [0,1]; decoders return
logits (sigmoid = pixel means / Bernoulli probabilities), so the losses use the stable *_with_logits forms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

PIXELS = 28 * 28


def mlp(sizes: Sequence[int], last_act: bool = False) -> nn.Sequential:
    """Linear-ReLU stack through `sizes` (no activation after the last layer unless `last_act`)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_act:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, out: int, hidden: Sequence[int] = (512, 256)) -> None:
        super().__init__()
        self.net = mlp([PIXELS, *hidden, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))  # [B,1,28,28] -> [B,out]


class MLPDecoder(nn.Module):
    def __init__(self, latent: int, hidden: Sequence[int] = (256, 512)) -> None:
        super().__init__()
        self.net = mlp([latent, *hidden, PIXELS])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)  # [B,latent] -> logits [B,1,28,28]


class ConvEncoder(nn.Module):
    def __init__(self, out: int, channels: tuple[int, int] = (32, 64)) -> None:
        super().__init__()
        c1, c2 = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),  # [B,c1,14,14]
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # [B,c2,7,7]
            nn.Flatten(), nn.Linear(c2 * 49, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # [B,out]


class ConvDecoder(nn.Module):
    def __init__(self, latent: int, channels: tuple[int, int] = (64, 32)) -> None:
        super().__init__()
        c2, c1 = channels
        self.c2 = c2
        self.fc = nn.Sequential(nn.Linear(latent, c2 * 49), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # [B,c1,14,14]
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1))  # logits [B,1,28,28]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, self.c2, 7, 7))


def encoder(kind: str, out: int, hidden: Sequence[int], channels: Sequence[int] = (32, 64)) -> nn.Module:
    return MLPEncoder(out, hidden) if kind == "mlp" else ConvEncoder(out, tuple(channels))


def decoder(kind: str, latent: int, hidden: Sequence[int], channels: Sequence[int] = (32, 64)) -> nn.Module:
    if kind == "mlp":
        return MLPDecoder(latent, tuple(reversed(hidden)))
    return ConvDecoder(latent, tuple(reversed(channels)))


class Autoencoder(nn.Module):
    """x -> z (latent_dim) -> logits of x. `kind`: "mlp" (widths `hidden`) or "conv" (`channels`)."""

    def __init__(self, latent_dim: int, kind: str = "mlp", hidden: Sequence[int] = (512, 256),
                 channels: Sequence[int] = (32, 64)) -> None:
        super().__init__()
        self.latent_dim, self.kind = latent_dim, kind
        self.encoder = encoder(kind, latent_dim, hidden, channels)
        self.decoder = decoder(kind, latent_dim, hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # logits [B,1,28,28]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(x))  # [B,1,28,28] in [0,1]


class VAE(nn.Module):
    """Gaussian encoder q(z|x) = N(mu, diag sigma²), prior N(0, I), Bernoulli decoder p(x|z) (logits).
    `n_classes` > 0 makes it a conditional VAE: the one-hot label is appended to the encoder's input features
    and to z (Sohn et al. 2015)."""

    def __init__(self, latent_dim: int = 32, hidden: Sequence[int] = (512, 512), n_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.encoder = mlp([PIXELS + n_classes, *hidden, 2 * latent_dim])
        self.decoder = mlp([latent_dim + n_classes, *reversed(hidden), PIXELS])

    def _with_label(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.n_classes:
            return h
        if y is None:
            raise ValueError("a conditional VAE needs the labels")
        return torch.cat([h, F.one_hot(y, self.n_classes).to(h.dtype)], 1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(self._with_label(x.flatten(1), y)).chunk(2, dim=1)
        return mu, logvar  # [B,latent] each

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self._with_label(z, y)).view(-1, 1, 28, 28)  # logits [B,1,28,28]

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-image terms of the negative ELBO in nats: reconstruction -log p(x|z) with one z ~ q, and
        KL(q(z|x) || p(z)) in closed form."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterised sample
        logits = self.decode(z, y)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)  # [B]
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # [B]
        return {"rec": rec, "kl": kl, "neg_elbo": rec + kl}

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """n images (Bernoulli means) decoded from z ~ N(0, temperature² I); [n,1,28,28] in [0,1]."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device) * temperature
        return torch.sigmoid(self.decode(z, None if y is None else y.to(device)))

    @torch.no_grad()
    def importance_nll(self, x: torch.Tensor, k: int = 500, y: torch.Tensor | None = None, chunk: int = 100
                       ) -> torch.Tensor:
        """-log p(x) estimated with k importance samples from q (Burda et al. 2016):
        log p(x) ≈ logmeanexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)]. Returns [B] nats; the z's are
        drawn `chunk` at a time so memory stays at B×chunk decoder passes."""
        mu, logvar = self.encode(x, y)
        std = (0.5 * logvar).exp()
        flat = x.flatten(1)
        weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn(m, *mu.shape, device=mu.device)  # [m,B,latent]
            z = mu + eps * std
            yy = None if y is None else y.repeat(m)
            logits = self.decode(z.reshape(-1, self.latent_dim), yy).view(m, len(x), -1)  # [m,B,784]
            log_px_z = -F.binary_cross_entropy_with_logits(logits, flat.expand(m, -1, -1), reduction="none").sum(2)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(2)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar).sum(2)
            weights.append(log_px_z + log_pz - log_qz)  # [m,B]
        w = torch.cat(weights)
        return -(torch.logsumexp(w, 0) - math.log(k))  # [B]


def mlp_matmul_flops(model: nn.Module) -> int:
    """FLOPs of one image's forward + backward through the model's Linear layers: 2·in·out multiply-adds
    forward, twice that backward (input and weight gradients)."""
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    return 6 * macs
