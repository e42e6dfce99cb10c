"""GAN training plugged into the engine: a manual step that alternates discriminator and generator updates.

    gan = GAN(generator, discriminator, z_dim=100)          # one nn.Module: the engine moves, saves, resumes it
    opts = {"d": Adam(gan.discriminator.parameters(), 2e-4, betas=(0.5, 0.999)),
            "g": Adam(gan.generator.parameters(), 2e-4, betas=(0.5, 0.999))}
    ema = GeneratorEMA(0.999)
    grid = SampleGrids(ctx.plots / "samples", gan.fixed_noise(64, seed=0), renderer(ema), name="fixed_noise")
    trainer = Trainer(gan, opts, ctx, epochs=30, manual=True, step=gan_step(GANLoss("ns")), callbacks=[ema, grid])
    trainer.fit(ImageBatches(x, batch_size=64, shuffle=True, drop_last=True, mean=[0.5], std=[0.5]))

Real images come in scaled to [-1, 1] (mean 0.5, std 0.5) to match a tanh generator. Per batch the step does

- one discriminator (critic) update on the real batch against a batch generated from fresh noise
  (`trainer.backward` + `trainer.optimizer_step("d")`: AMP, clipping and Accelerate apply, and the update
  zeroes every gradient of the model afterwards), then
- one generator update after every `n_critic`-th discriminator update (`trainer.updates["d"]` counts them, and
  is checkpointed, so n-critic survives a resume). It reuses the batch's fakes: their graph through G was not
  used by the discriminator's loss (that saw them detached).

Losses (`GANLoss.kind`):
- "ns": the non-saturating GAN of Goodfellow et al. 2014 — D minimises BCE(real→1, fake→0), G minimises
  BCE(fake→1) = -log D(G(z)) instead of log(1 - D(G(z))), which saturates when D wins early. One-sided label
  smoothing (Salimans et al. 2016) sets the real target to 1 - s and leaves the fake target at 0.
- "wgan-gp": the critic minimises D(fake) - D(real) + λ·(‖∇D(x̂)‖₂ - 1)² at random interpolates x̂ of real and
  fake (Gulrajani et al. 2017; λ = 10, n_critic = 5 there); G minimises -D(fake). The critic must not use batch
  norm (the penalty is per sample): build it with `norm="none"` or layer norm.

`spectral_norm(module)` wraps every Linear / Conv layer of a discriminator in
`torch.nn.utils.parametrizations.spectral_norm` (Miyato et al. 2018); its power-iteration vectors are buffers, so
they are checkpointed and a resume continues them exactly. `GeneratorEMA` averages the generator's weights only
(the engine's EMA callback, restricted). The fixed-noise grid of every epoch and the GIF of them come from
genai_roadmap.viz.generative.SampleGrids with `render=renderer(ema)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .callbacks import EMA

LOSSES = ("ns", "wgan-gp")


class GAN(nn.Module):
    """A generator G: z [B, z_dim] -> images in [-1, 1], and a discriminator D: images -> one logit / score [B]."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, z_dim: int) -> None:
        super().__init__()
        self.generator, self.discriminator, self.z_dim = generator, discriminator, z_dim

    def noise(self, n: int, device: torch.device | None = None, gen: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), [n, z_dim]: from the global RNG (checkpointed) or from `gen`."""
        device = device or next(self.generator.parameters()).device
        return torch.randn(n, self.z_dim, generator=gen).to(device) if gen else torch.randn(n, self.z_dim,
                                                                                           device=device)

    def fixed_noise(self, n: int, seed: int) -> torch.Tensor:
        """A noise batch that depends only on `seed` (CPU generator): the same digits every epoch, every run."""
        return torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed))


@dataclass(frozen=True)
class GANLoss:
    kind: str = "ns"  # "ns" (non-saturating) | "wgan-gp"
    n_critic: int = 1  # discriminator updates per generator update (5 in the WGAN-GP paper)
    gp_weight: float = 10.0  # λ of the gradient penalty (wgan-gp only)
    label_smoothing: float = 0.0  # one-sided: real target 1 - s (ns only)

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ValueError(f"GAN loss must be one of {LOSSES}, got {self.kind!r}")
        if self.n_critic < 1 or not 0.0 <= self.label_smoothing < 0.5 or self.gp_weight < 0:
            raise ValueError("n_critic >= 1, 0 <= label_smoothing < 0.5 and gp_weight >= 0 are required")


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, loss: GANLoss) -> torch.Tensor:
    """D's loss from its outputs on a real and a fake batch (logits for "ns", critic scores for "wgan-gp")."""
    d_real, d_fake = d_real.float().reshape(-1), d_fake.float().reshape(-1)
    if loss.kind == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    real_target = torch.full_like(d_real, 1.0 - loss.label_smoothing)
    return (F.binary_cross_entropy_with_logits(d_real, real_target)
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def generator_loss(d_fake: torch.Tensor, loss: GANLoss) -> torch.Tensor:
    """G's loss from D's outputs on its fakes: -log D(G(z)) (non-saturating) or -D(G(z)) (critic)."""
    d_fake = d_fake.float().reshape(-1)
    if loss.kind == "wgan-gp":
        return -d_fake.mean()
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """mean over the batch of (‖∇ₓ D(x̂)‖₂ - 1)², x̂ = eps·real + (1 - eps)·fake, eps ~ U(0, 1) per sample.
    `create_graph=True`: the penalty's own gradient reaches D's weights (a second-order term)."""
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device)
    eps = eps.reshape(-1, *([1] * (real.ndim - 1))).to(real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).float().sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def gan_step(loss: GANLoss):
    """The engine's manual step (Trainer(..., manual=True, step=gan_step(loss))) for (x,) or (x, y) batches."""

    def step(model: GAN, batch: Any, trainer: Any) -> dict[str, torch.Tensor]:
        real = batch[0]
        with trainer.autocast():
            fake = model.generator(model.noise(real.shape[0], real.device))  # [B, C, H, W] in [-1, 1]
            d_real = model.discriminator(real)
            d_fake = model.discriminator(fake.detach())
            d_loss = discriminator_loss(d_real, d_fake, loss)
        out = {"d_loss": d_loss.detach()}
        if loss.kind == "wgan-gp":
            gp = gradient_penalty(model.discriminator, real, fake)  # outside autocast: a float32 double backward
            d_loss = d_loss + loss.gp_weight * gp
            out |= {"gp": gp.detach(), "wasserstein": -out["d_loss"]}
        else:  # D's mean belief that real is real and fake is real: the tug of war, for the curves
            out |= {"d_real": torch.sigmoid(d_real.float()).mean().detach(),
                    "d_fake": torch.sigmoid(d_fake.float()).mean().detach()}
        trainer.backward(d_loss)
        trainer.optimizer_step("d")
        if trainer.updates["d"] % loss.n_critic == 0:
            with trainer.autocast():
                g_loss = generator_loss(model.discriminator(fake), loss)
            trainer.backward(g_loss)
            trainer.optimizer_step("g")
            out["g_loss"] = g_loss.detach()
        return out

    return step


def spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation of every Linear / Conv / ConvTranspose weight in `module` (in place)."""
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)
    for layer in [m for m in module.modules() if isinstance(m, layers)]:
        torch.nn.utils.parametrizations.spectral_norm(layer)
    return module


class GeneratorEMA(EMA):
    """EMA of the generator only (the discriminator is never sampled from); see callbacks.EMA."""

    def _averaged(self, model: nn.Module) -> nn.Module:
        return model.generator


@torch.no_grad()
def generate(generator: nn.Module, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """G(z) in eval mode (batch norm uses its running statistics, so a sample never depends on its batch
    mates), in batches, on the generator's device; float [N, C, H, W] in [-1, 1] on the CPU."""
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        return torch.cat([generator(z[i:i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(z), batch_size)])
    finally:
        generator.train(was_training)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float [N, C, H, W] -> uint8 [N, H, W] (grey) or [N, H, W, 3]."""
    arr = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def renderer(ema: GeneratorEMA | None = None):
    """`render(gan, z)` for viz.generative.SampleGrids: the generator's images of a fixed noise batch as uint8,
    drawn with the EMA weights when given (the trained ones are put back afterwards)."""

    def render(gan: GAN, z: torch.Tensor) -> np.ndarray:
        if ema is None:
            return to_uint8(generate(gan.generator, z))
        with ema.applied(gan):
            return to_uint8(generate(gan.generator, z))

    return render


def sampling_speed(generator: nn.Module, z_dim: int, n: int = 2048, batch_size: int = 256) -> float:
    """Images per second of G alone (eval mode, no gradients), after one warm-up batch."""
    z = torch.randn(n, z_dim)
    generate(generator, z[:batch_size], batch_size)
    start = time.perf_counter()
    generate(generator, z, batch_size)
    return n / (time.perf_counter() - start)
