"""Fully connected networks for flattened inputs."""

from __future__ import annotations

import torch
from torch import nn


class MLPBlock(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Dropout: one hidden layer. BatchNorm lets a deep MLP train at a high
    learning rate; dropout is what keeps a wide one from memorising Fashion-MNIST's 60k images."""

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.0, batchnorm: bool = True):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=not batchnorm)  # BatchNorm's shift replaces the bias
        self.norm = nn.BatchNorm1d(d_out) if batchnorm else nn.Identity()
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, d_in] -> [B, d_out]
        return self.drop(self.act(self.norm(self.linear(x))))


class MLP(nn.Module):
    """Flatten -> hidden blocks -> Linear to class logits. Accepts images [B, C, H, W] or vectors [B, D]."""

    def __init__(self, d_in: int, hidden: list[int], n_classes: int, dropout: float = 0.0, batchnorm: bool = True,
                 input_dropout: float = 0.0):
        super().__init__()
        widths = [d_in, *hidden]
        self.input_drop = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        pairs = zip(widths[:-1], widths[1:], strict=True)
        self.blocks = nn.Sequential(*[MLPBlock(a, b, dropout, batchnorm) for a, b in pairs])
        self.head = nn.Linear(widths[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x.flatten(1))  # [B, C, H, W] -> [B, D]
        return self.head(self.blocks(x))  # [B, n_classes]
