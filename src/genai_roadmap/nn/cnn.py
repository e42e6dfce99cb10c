"""Convolutional image classifiers for 32×32 images (CIFAR-10), one small class per concept.

The layout follows airbench (Jordan 2024), the fastest known CIFAR-10 recipe: each stage is a conv followed
by a 2×2 max-pool *before* BatchNorm and the activation (pooling first makes BN and the activation 4× cheaper),
then more convs at that resolution; the width grows as the resolution shrinks; the head is a global max-pool
and one linear layer. `CifarCNN` is configured by its stages (width, convs), from small to airbench-sized:

    CifarCNN([(32, 1), (64, 1)])                  # 2 convs: 32×32 -> 16 -> 8, 64 channels
    CifarCNN([(32, 2), (64, 2), (128, 2)], whiten=True)    # 2.2.1's cpu net: 32×32 -> 16 -> 8 -> 4, 128 ch
    CifarCNN([(64, 2), (256, 2), (256, 2)], whiten=True)   # airbench94's widths (2.2.1's GPU preset)

`whiten=True` puts airbench's stem first: a frozen 2×2 conv initialised from the eigenvectors of the training
images' 2×2 patches (call `init_whitening` with training images), which decorrelates the input pixels and
makes the first epochs much more productive.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ConvBlock(nn.Module):
    """3×3 conv -> (2×2 max-pool) -> BatchNorm -> activation.  [B, c_in, H, W] -> [B, c_out, H/2 or H, ...]"""

    def __init__(self, c_in: int, c_out: int, pool: bool, act: str = "gelu") -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)  # BN's shift is the bias
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.norm = nn.BatchNorm2d(c_out)
        self.act = nn.GELU() if act == "gelu" else nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.pool(self.conv(x))))


class Stage(nn.Sequential):
    """`n` conv blocks of width `c_out`; the first one halves the resolution."""

    def __init__(self, c_in: int, c_out: int, n: int, act: str = "gelu") -> None:
        super().__init__(*[ConvBlock(c_in if i == 0 else c_out, c_out, pool=i == 0, act=act) for i in range(n)])


class Whiten(nn.Module):
    """airbench's stem: a 2×2 conv (no padding: 32×32 -> 31×31) whose 2·12 filters are ± the eigenvectors of
    the 12-dim 2×2×3 patches, scaled by 1/sqrt(eigenvalue). Frozen: it only decorrelates the input."""

    def __init__(self, c_in: int = 3, eps: float = 5e-4) -> None:
        super().__init__()
        self.eps = eps
        self.conv = nn.Conv2d(c_in, 2 * c_in * 4, 2, padding=0, bias=True)
        self.act = nn.GELU()
        self.conv.weight.requires_grad_(False)

    @torch.no_grad()
    def init_from(self, images: torch.Tensor) -> None:
        """images: normalised float [N, C, H, W] (a few thousand training images are enough)."""
        c = images.shape[1]
        patches = images.unfold(2, 2, 1).unfold(3, 2, 1)  # [N, C, H-1, W-1, 2, 2]
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4).double()  # [P, 12]
        patches = patches - patches.mean(0)
        eigval, eigvec = torch.linalg.eigh(patches.T @ patches / len(patches))
        filters = (eigvec.T / torch.sqrt(eigval + self.eps)[:, None]).reshape(-1, c, 2, 2).float()
        self.conv.weight.copy_(torch.cat([filters, -filters]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 3, 32, 32] -> [B, 24, 31, 31]
        return self.act(self.conv(x))


class CifarCNN(nn.Module):
    """(Whiten ->) stages -> global max-pool -> linear.  [B, 3, 32, 32] -> [B, n_classes]"""

    def __init__(self, stages: Sequence[tuple[int, int]], n_classes: int = 10, whiten: bool = False,
                 act: str = "gelu", logit_scale: float = 1.0) -> None:
        super().__init__()
        self.whiten = Whiten() if whiten else None
        c = self.whiten.conv.out_channels if whiten else 3
        blocks = []
        for width, n in stages:
            blocks.append(Stage(c, width, n, act))
            c = width
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(c, n_classes, bias=False)
        self.logit_scale = logit_scale  # airbench divides logits by 9: a temperature that suits its lr

    def init_whitening(self, images: torch.Tensor) -> None:
        if self.whiten is not None:
            self.whiten.init_from(images)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.whiten is not None:
            x = self.whiten(x)  # [B, 24, 31, 31]
        x = self.stages(x)  # [B, C, h, w]
        x = self.pool(x).flatten(1)  # [B, C]
        return self.head(x) * self.logit_scale  # [B, n_classes]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
