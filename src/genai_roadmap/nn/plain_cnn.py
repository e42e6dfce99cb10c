"""A plain (no skip connections) CNN for 32×32 images whose depth is one number: the ablation's knob.

    PlainCNN(depth=6, width=64)   # 6 conv blocks in 3 stages (2+2+2), widths 64 -> 128 -> 256

Layout (airbench-style, to be cheap on a CPU): the `depth` conv blocks (conv3×3-BN-ReLU) are split over up to
three stages, as evenly as possible with any extra block in the later, cheaper stages. Each stage's first block
changes the width and is followed by a 2×2 max-pool, so the stage's other blocks run at half resolution:
32 -> 16 -> 8 -> 4 pixels. A global max-pool and one linear layer make the head. Depth 2 has two stages.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_STAGES = 3  # 32 px halved three times = 4 px: a fourth stage would leave 2×2 maps


def blocks_per_stage(depth: int) -> list[int]:
    """Split `depth` blocks over min(depth, 3) stages; extra blocks go to the later stages (fewer pixels there)."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    stages = min(depth, MAX_STAGES)
    base, extra = divmod(depth, stages)
    return [base + (1 if i >= stages - extra else 0) for i in range(stages)]


class ConvBlock(nn.Module):
    """conv3×3 (no bias: BN's shift replaces it) -> batch norm -> ReLU.  [B, C_in, H, W] -> [B, C_out, H, W]."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Stage(nn.Module):
    """First block widens then pools, the rest keep shape.  [B, C_in, H, W] -> [B, C_out, H/2, W/2]."""

    def __init__(self, c_in: int, c_out: int, n_blocks: int) -> None:
        super().__init__()
        self.widen = ConvBlock(c_in, c_out)  # [B, C_out, H, W]
        self.pool = nn.MaxPool2d(2)  # [B, C_out, H/2, W/2]
        self.blocks = nn.Sequential(*[ConvBlock(c_out, c_out) for _ in range(n_blocks - 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.pool(self.widen(x)))


class PlainCNN(nn.Module):
    """`depth` conv blocks in stages of doubling width, global max-pool, linear classifier.

    x: float [B, 3, 32, 32] -> logits [B, num_classes].
    """

    def __init__(self, depth: int = 6, width: int = 64, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.depth, self.width = depth, width
        widths = [width * 2**i for i in range(len(blocks_per_stage(depth)))]  # e.g. 64, 128, 256
        stages, c_in = [], in_channels
        for c_out, n in zip(widths, blocks_per_stage(depth), strict=True):
            stages.append(Stage(c_in, c_out, n))
            c_in = c_out
        self.stages = nn.Sequential(*stages)  # [B, widths[-1], 32 / 2^S, 32 / 2^S]
        self.pool = nn.AdaptiveMaxPool2d(1)  # [B, widths[-1], 1, 1]: max keeps "is the feature anywhere"
        self.head = nn.Linear(c_in, num_classes)  # [B, num_classes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stages(x)).flatten(1))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
