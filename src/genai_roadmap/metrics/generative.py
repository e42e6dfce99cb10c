"""Generative metrics with their protocol: FID / KID / Inception-score style numbers through torchmetrics, over
a feature network that runs offline here, plus the checks a reader needs beside them.

Feature networks (each an `ImageFeatures` module torchmetrics accepts: it has `num_features` and takes uint8
or float images of any size, grey or RGB, so torchmetrics' uint8 1×3×299×299 probe works too):
- `lenet_features(clf)`: the 128-d penultimate layer of a LeNet-style digit classifier trained here on the
  MNIST training split (`digit_classifier()`, cached on disk, keyed by its code and a hash of the data) —
  numbers over it are "FID (LeNet features)"; its softmax gives the class histogram, confidence and the
  Inception-score style "IS (LeNet)".
- `efficientnet_features()`: pooled 1280-d features of ImageNet EfficientNet-Lite0 (hub, offline) for natural
  images — "FID (EfficientNet-Lite0 features)".
- `inception_features(path)`: torchmetrics' NoTrainInceptionV3 on the standard pt_inception-2015-12-05 weights
  file the user passes: standard FID. It needs torch-fidelity, whose package imports torchvision, which does
  not import beside this torch: without both the file and torch-fidelity it says so in one sentence.

Every function returns its number with a `protocol` string (feature network, sample counts, reference split);
`real_vs_real` gives the same metric between two halves of the test set, the floor a reader compares against.
The Fréchet distance itself is torchmetrics' (tests check it against the closed form for Gaussians).
PSNR / SSIM (`psnr`, `ssim`) are torchmetrics' too, averaged per image over a set.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import io
from ..errors import UserError

PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081  # MNIST training-set pixel statistics (0-1 scale)


# ---- feature networks ------------------------------------------------------------------------------------

class LeNet(nn.Module):
    """LeNet-style digit classifier. [B,1,28,28] in [0,1] -> logits [B,10]; `features` = penultimate [B,128]."""

    def __init__(self, n_classes: int = 10, width: int = 128) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # [B,32,14,14]
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),  # [B,64,5,5]
            nn.Flatten(), nn.Linear(64 * 5 * 5, width), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv((x - PIXEL_MEAN) / PIXEL_STD)  # [B,128]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))  # [B,10]


class ImageFeatures(nn.Module):
    """What torchmetrics' FID / KID / IS call: images -> [B, num_features].

    Accepts uint8 (0-255) or float (0-1) images [B,C,H,W] or [B,H,W]; converts channels (RGB -> grey by the
    mean, grey -> RGB by repeating) and resizes to the network's input size. Always in eval mode, no grad."""

    def __init__(self, net: nn.Module, fn: str, num_features: int, channels: int, size: int, name: str) -> None:
        super().__init__()
        self.net, self.fn, self.num_features = net.eval(), fn, num_features
        self.channels, self.size, self.name = channels, size, name
        self.eval()

    def train(self, mode: bool = True) -> ImageFeatures:
        return super().train(False)  # a feature network never trains

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_unit_float(images)
        if x.shape[1] != self.channels:
            x = x.mean(1, keepdim=True) if self.channels == 1 else x.expand(-1, self.channels, -1, -1)
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.size)
        return getattr(self.net, self.fn)(x).float()


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0-255 or float 0-1, [B,H,W] or [B,C,H,W] -> float32 [B,C,H,W] in [0,1]."""
    x = torch.as_tensor(images)
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    return x[:, None] if x.ndim == 3 else x


@dataclass
class DigitClassifier:
    model: LeNet
    test_acc: float
    source: str  # what it was trained on, and where it is cached

    def describe(self) -> str:
        return f"LeNet digit classifier trained here ({self.source}; MNIST test accuracy {self.test_acc:.2%})"


def lenet_features(clf: DigitClassifier) -> ImageFeatures:
    return ImageFeatures(clf.model, "features", 128, 1, 28, "LeNet features")


def lenet_logits(clf: DigitClassifier) -> ImageFeatures:
    return ImageFeatures(clf.model, "forward", 10, 1, 28, "LeNet")


class _LitePooled(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        from ..hub import LITE_MEAN, LITE_STD

        self.register_buffer("mean", torch.tensor(LITE_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(LITE_STD).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features((x - self.mean) / self.std).mean(dim=(2, 3))  # [B,1280]


def efficientnet_features(path: str | Path | None = None, size: int = 224) -> ImageFeatures:
    """Pooled ImageNet EfficientNet-Lite0 features (1280-d), images resized to size×size."""
    from ..hub import load_efficientnet_lite0

    net, _found = load_efficientnet_lite0(path)
    return ImageFeatures(_LitePooled(net), "features", 1280, 3, size, "EfficientNet-Lite0 features")


def inception_features(weights: str | Path | None) -> nn.Module:
    """torchmetrics' NoTrainInceptionV3 (2048-d pool features) on the pt_inception weights file: standard FID."""
    if not weights or not Path(weights).expanduser().is_file():
        raise UserError(f"standard FID needs the pt_inception-2015-12-05 weights file; {weights or 'none'} was "
                        "given and not found, so only the stand-in feature networks are available")
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3

        net = NoTrainInceptionV3("inception-v3-compat", ["2048"], str(Path(weights).expanduser()))
    except ModuleNotFoundError as exc:
        raise UserError("standard FID needs torch-fidelity (which imports torchvision, unavailable beside this "
                        f"torch): {exc}") from None
    net.num_features, net.name = 2048, "Inception-v3 pool3 (standard FID)"
    return net


# ---- the in-project digit classifier ---------------------------------------------------------------------

def _cache_key(data, n_train: int | None, epochs: int) -> str:
    digest = hashlib.sha256()
    for arr in (data.x_train, data.y_train, data.x_test, data.y_test):
        digest.update(np.ascontiguousarray(arr).tobytes())
    digest.update(inspect.getsource(LeNet).encode())
    digest.update(inspect.getsource(train_digit_classifier).encode())
    digest.update(f"{n_train}-{epochs}".encode())
    return digest.hexdigest()[:16]


def digit_classifier(data=None, n_train: int | None = None, epochs: int = 4, cache: Path | None = None
                     ) -> DigitClassifier:
    """The MNIST LeNet used for "FID (LeNet features)", class histograms and generated-class accuracy: loaded
    from the cache when this code already trained it on these data, else trained (seed 0) and cached."""
    from ..data.images import load_mnist
    from ..data.store import cache_dir
    from ..train import load_weights, save_weights

    data = data if data is not None else load_mnist()
    key = _cache_key(data, n_train, epochs)
    folder = (cache or cache_dir() / "models") / f"mnist-lenet-{key}"
    model = LeNet()
    if (folder / "info.json").is_file():
        info = json.loads((folder / "info.json").read_text())
        load_weights(model, folder / "weights.safetensors")
        return DigitClassifier(model.eval(), info["test_acc"], f"{info['source']}, cached {folder}")
    test_acc, source = train_digit_classifier(model, data, n_train, epochs)
    save_weights(model, folder / "weights.safetensors")
    io.write_json(folder / "info.json", {"test_acc": test_acc, "source": source, "key": key})
    return DigitClassifier(model.eval(), test_acc, f"{source}, cached {folder}")


def train_digit_classifier(model: LeNet, data, n_train: int | None, epochs: int) -> tuple[float, str]:
    """AdamW + one-cycle, shifts of up to 2 px, seed 0, on the training split (or a stratified subset)."""
    from ..data.batches import Augment, ImageBatches
    from ..runs import seed_everything
    from ..train import Trainer, build_optimizer

    seed_everything(0)
    if n_train:
        data = data.subset(n_train, None, seed=0)
    train = ImageBatches(data.x_train, data.y_train, batch_size=128, shuffle=True, drop_last=True, seed=0,
                         augment=Augment(crop=2, pad_mode="zeros"))
    test = ImageBatches(data.x_test, data.y_test, batch_size=1000)
    trainer = Trainer(model, build_optimizer(model, "adamw", 3e-3, 1e-4), None, epochs=epochs,
                      schedule="onecycle", warmup=0.1, device="cpu", progress=False)
    trainer.fit(train)
    pred = trainer.predict(test).argmax(1).numpy()
    return float((pred == data.y_test).mean()), f"{data.source}: {len(data.y_train)} training images, {epochs} epochs"


# ---- FID / KID / IS ----------------------------------------------------------------------------------------

def _batches(images: torch.Tensor, batch_size: int):
    for i in range(0, len(images), batch_size):
        yield torch.as_tensor(images[i:i + batch_size])


def _describe(features: nn.Module) -> str:
    return getattr(features, "name", type(features).__name__)


_REFERENCE_STATS: dict[tuple, object] = {}  # (feature net, its weights, reference images) -> FID metric


def _fingerprint(tensor) -> str:
    data = torch.as_tensor(tensor).detach().cpu().contiguous()
    return hashlib.blake2b(data.numpy().tobytes(), digest_size=16).hexdigest() + str(tuple(data.shape))


def fid(real: torch.Tensor, fake: torch.Tensor, features: nn.Module, batch_size: int = 500) -> dict:
    """Fréchet distance between the feature Gaussians of `real` and `fake` (images, or anything `features` takes).
    The reference statistics are kept between calls with the same feature network (same weights) and the same
    reference images: a study that scores many generators against one test set pays for its features once."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    weights = "".join(_fingerprint(v) for v in features.state_dict().values())
    key = (id(features), hashlib.blake2b(weights.encode(), digest_size=16).hexdigest(), _fingerprint(real))
    metric = _REFERENCE_STATS.get(key)
    if metric is None:
        metric = FrechetInceptionDistance(feature=features, normalize=True, reset_real_features=False)
        for b in _batches(real, batch_size):
            metric.update(b, real=True)
        if len(_REFERENCE_STATS) >= 4:  # a few reference sets (train / test) per process
            _REFERENCE_STATS.pop(next(iter(_REFERENCE_STATS)))
        _REFERENCE_STATS[key] = metric
    metric.reset()  # the generated side only: reset_real_features=False keeps the reference statistics
    for b in _batches(fake, batch_size):
        metric.update(b, real=False)
    name = _describe(features)
    return {"fid": float(metric.compute()),
            "protocol": f"FID ({name}): {len(fake)} samples vs {len(real)} reference images"}


def kid(real: torch.Tensor, fake: torch.Tensor, features: nn.Module, subset_size: int = 1000, subsets: int = 50,
        batch_size: int = 500, seed: int = 0) -> dict:
    """Kernel distance (unbiased MMD², cubic polynomial kernel) averaged over random subsets: mean and std."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():  # "will save all extracted features": that is the point
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=features, subsets=subsets, subset_size=size, normalize=True)
    for b in _batches(real, batch_size):
        metric.update(b, real=True)
    for b in _batches(fake, batch_size):
        metric.update(b, real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the subsets are drawn with torch's global generator
        mean, std = metric.compute()
    return {"kid": float(mean), "kid_std": float(std),
            "protocol": f"KID ({_describe(features)}): {subsets} subsets of {size}; {len(fake)} samples vs "
                        f"{len(real)} reference images"}


def inception_score(fake: torch.Tensor, logits: nn.Module, splits: int = 10, batch_size: int = 500,
                    seed: int = 0) -> dict:
    """exp(E KL(p(y|x) || p(y))) over `splits` chunks: mean and std. With LeNet logits: "IS (LeNet)", max 10."""
    from torchmetrics.image.inception import InceptionScore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=logits, splits=splits)
    for b in _batches(fake, batch_size):
        metric.update(to_unit_float(b))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        with warnings.catch_warnings():  # std of one split is undefined: reported as NaN -> null
            warnings.simplefilter("ignore", UserWarning)
            mean, std = metric.compute()
    return {"is": float(mean), "is_std": float(std),
            "protocol": f"IS ({_describe(logits)}): {len(fake)} samples, {splits} splits"}


def real_vs_real(images: torch.Tensor, features: nn.Module, seed: int = 0, n: int | None = None) -> dict:
    """FID between two seeded random halves of a real set (the test set): what "as good as real" scores."""
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    perm = perm[:n] if n else perm
    half = len(perm) // 2
    a, b = torch.as_tensor(images)[perm[:half]], torch.as_tensor(images)[perm[half:2 * half]]
    out = fid(a, b, features)
    out["protocol"] = f"FID ({_describe(features)}) between two random halves of the reference set, {half} each"
    return out


# ---- what the samples are: class histogram, confidence, nearest training images ---------------------------

@torch.no_grad()
def classify(images: torch.Tensor, clf: DigitClassifier, batch_size: int = 1000) -> torch.Tensor:
    """Softmax probabilities [N,10] of the digit classifier."""
    net = lenet_logits(clf)
    return torch.cat([net(b).softmax(1) for b in _batches(images, batch_size)])


def class_histogram(images: torch.Tensor, clf: DigitClassifier, confident: float = 0.9) -> dict:
    """Mode coverage: the share of samples the classifier puts in each class, and how sure it is."""
    probs = classify(images, clf)
    conf, pred = probs.max(1)
    counts = torch.bincount(pred, minlength=probs.shape[1])
    share = counts.float() / len(images)
    return {"class_counts": counts.tolist(), "class_share": [round(float(s), 4) for s in share],
            "min_class_share": float(share.min()), "max_class_share": float(share.max()),
            "classes_between_7_and_13pct": int(((share >= 0.07) & (share <= 0.13)).sum()),
            f"confident_share_p{confident}": float((conf > confident).float().mean()),
            "mean_confidence": float(conf.mean()),
            "protocol": f"{clf.describe()}; {len(images)} samples; confident = max prob > {confident}"}


@torch.no_grad()
def nearest_neighbours(samples: torch.Tensor, train: torch.Tensor, batch_size: int = 4096
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample its nearest training image in pixel space (L2 on 0-1 pixels): (index [N], distance [N]).
    A generator that copies training images shows distances near 0 (memorisation check)."""
    s = to_unit_float(samples).flatten(1).double()  # float64: |s|² + |t|² - 2 s·t must not cancel to noise
    best_d = torch.full((len(s),), float("inf"))
    best_i = torch.zeros(len(s), dtype=torch.long)
    for start in range(0, len(train), batch_size):
        t = to_unit_float(torch.as_tensor(train[start:start + batch_size])).flatten(1).double()
        d2 = (s * s).sum(1, keepdim=True) + (t * t).sum(1) - 2 * s @ t.T  # [N, batch]
        d, i = d2.clamp_min(0).sqrt().float().min(1)
        better = d < best_d
        best_d[better], best_i[better] = d[better], i[better] + start
    return best_i, best_d


# ---- reconstruction quality ------------------------------------------------------------------------------

def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over images of the per-image PSNR in dB, pixels in [0,1] (torchmetrics, data_range 1)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    p, t = to_unit_float(pred), to_unit_float(target)
    return float(peak_signal_noise_ratio(p, t, data_range=1.0, dim=(1, 2, 3), reduction="elementwise_mean"))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean SSIM (Gaussian window 11, σ 1.5), pixels in [0,1] (torchmetrics)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    return float(structural_similarity_index_measure(to_unit_float(pred), to_unit_float(target), data_range=1.0))


# ---- speed ---------------------------------------------------------------------------------------------------

def matmul_peak_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """This machine's fp32 matmul throughput right now (best of repeated n×n products, GFLOP/s): the peak an
    MLP's training speed is compared with, measured in the same run because shared cores change it."""
    import time

    a, b = torch.randn(n, n), torch.randn(n, n)
    best, end = 0.0, time.perf_counter() + seconds
    torch.mm(a, b)  # warm-up
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best
