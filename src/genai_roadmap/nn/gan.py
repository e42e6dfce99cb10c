"""GAN generators and discriminators: the MLP pair of Goodfellow et al. 2014 (MNIST) and DCGAN (Radford et al.
2016) at 32×32. Generators map z [B, z_dim] to images in [-1, 1] (tanh); discriminators map images to one
logit (or critic score) per image, [B]. Training: genai_roadmap.train.gan."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "layer", "none")


def _norm(kind: str, channels: int, conv: bool = True) -> nn.Module:
    """Batch norm (DCGAN), layer norm (a WGAN-GP critic: the penalty is per sample), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class MLPGenerator(nn.Module):
    """z [B, z_dim] -> Linear-(norm)-LeakyReLU blocks -> Linear -> tanh -> [B, C, H, W]."""

    def __init__(self, z_dim: int, hidden: list[int], shape: tuple[int, int, int], norm: str = "none") -> None:
        super().__init__()
        layers, width = [], z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), _norm(norm, h, conv=False), nn.LeakyReLU(0.2)]
            width = h
        c, hh, ww = shape
        layers += [nn.Linear(width, c * hh * ww), nn.Tanh()]
        self.net, self.shape = nn.Sequential(*layers), shape

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)  # [B, C, H, W]


class MLPDiscriminator(nn.Module):
    """[B, C, H, W] -> flatten -> Linear-LeakyReLU-Dropout blocks -> Linear -> [B] logits."""

    def __init__(self, in_features: int, hidden: list[int], dropout: float = 0.3) -> None:
        super().__init__()
        layers, width = [nn.Flatten()], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).squeeze(1)  # [B]


class DCGenerator(nn.Module):
    """DCGAN generator for 32×32: z -> 4×4×4g -> 8×8×2g -> 16×16×g -> 32×32×C, transposed convs (k4 s2 p1) with
    batch norm and ReLU, tanh at the end (no norm on the output layer, as in the paper)."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        g = width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * g, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * g), nn.ReLU(True),  # 4×4
            nn.ConvTranspose2d(4 * g, 2 * g, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * g), nn.ReLU(True),  # 8×8
            nn.ConvTranspose2d(2 * g, g, 4, 2, 1, bias=False), nn.BatchNorm2d(g), nn.ReLU(True),  # 16×16
            nn.ConvTranspose2d(g, channels, 4, 2, 1), nn.Tanh(),  # 32×32
        )
        dcgan_init(self)

    def forward(self, z):
        return self.net(z[:, :, None, None])  # [B, C, 32, 32]


class DCDiscriminator(nn.Module):
    """DCGAN discriminator for 32×32: strided convs (k4 s2 p1) with LeakyReLU(0.2), norm on all but the first,
    then a 4×4 conv to one logit. `norm="none"` or "layer" for a WGAN-GP critic."""

    def __init__(self, width: int = 64, channels: int = 3, norm: str = "batch") -> None:
        super().__init__()
        d = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, d, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 16×16
            nn.Conv2d(d, 2 * d, 4, 2, 1, bias=norm == "none"), _norm(norm, 2 * d), nn.LeakyReLU(0.2, True),  # 8×8
            nn.Conv2d(2 * d, 4 * d, 4, 2, 1, bias=norm == "none"), _norm(norm, 4 * d), nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * d, 1, 4, 1, 0),  # 4×4 -> 1×1
        )
        dcgan_init(self)

    def forward(self, x):
        return self.net(x).flatten()  # [B]


def dcgan_init(model: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02), batch-norm gains ~ N(1, 0.02), biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
