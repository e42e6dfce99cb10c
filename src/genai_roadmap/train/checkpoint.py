"""Checkpoints: tensors in safetensors, everything else in a small JSON file; both written atomically.

A training checkpoint `<name>` in a run's checkpoints/ folder is two files:

    <name>-step0001200.safetensors   every tensor (model weights under "model/...", optimizer moments, RNG)
    <name>.json                      the rest (step, epoch, history, hyper-parameters, RNG tuples) + which
                                     safetensors file holds the tensors

The JSON file is written last and is the commit point: a process killed at any moment leaves the previous
checkpoint intact (old tensor files are deleted only after the new JSON is in place). Nothing is unpickled:
tensors load with safetensors, the rest is JSON — a checkpoint from elsewhere cannot run code.

Any nested state (optimizer.state_dict(), RNG states, callback states) is stored by `encode`: tensors go to
the safetensors file under their path in the structure; tuples, NumPy arrays and dicts with non-string keys
are tagged so that `decode` rebuilds exactly what was saved.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .. import io
from ..errors import UserError

FORMAT = 1


# ---- nested state <-> (JSON, tensors) ----------------------------------------------------------------

def encode(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A JSON-able copy of `obj`; every tensor is moved into `tensors` under its path."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        return {"__items__": [[encode(k, tensors, f"{path}/k{i}"), encode(v, tensors, f"{path}/{k}")]
                              for i, (k, v) in enumerate(obj.items())]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint a value of type {type(obj).__name__} at {path or '/'}")


def decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `encode`."""
    if isinstance(obj, list):
        return [decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    if "__tuple__" in obj:
        return tuple(decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {decode(k, tensors): decode(v, tensors) for k, v in obj["__items__"]}
    return {k: decode(v, tensors) for k, v in obj.items()}


def _storable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, and no two entries sharing memory (tied weights, views): safetensors' rules."""
    out, seen = {}, set()
    for key, t in tensors.items():
        t = t.detach().cpu().contiguous()
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in seen or storage.nbytes() != t.numel() * t.element_size():
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        out[key] = t
    return out


# ---- model weights alone --------------------------------------------------------------------------------

def save_weights(model: torch.nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """The model's state_dict as one safetensors file (atomic): what a learner ships or reloads."""
    tensors = _storable(dict(model.state_dict()))
    return io.write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata), suffix=".safetensors")


def load_weights(model: torch.nn.Module, path: str | Path, strict: bool = True) -> torch.nn.Module:
    """Load weights saved by `save_weights` — or the model part of a training checkpoint (<name>.json)."""
    path = Path(path)
    if path.suffix == ".json":
        record = json.loads(path.read_text())
        tensors = load_file(str(path.parent / record["tensors"]))
        tensors = {k[len("/model/"):]: v for k, v in tensors.items() if k.startswith("/model/")}
    else:
        tensors = load_file(str(path))
    model.load_state_dict(tensors, strict=strict)
    return model


# ---- training checkpoints ---------------------------------------------------------------------------

def save_checkpoint(folder: Path, name: str, state: dict[str, Any], step: int) -> Path:
    """Write checkpoint `name` at `step`: tensors first, then the JSON commit point, then clean up."""
    tensors: dict[str, torch.Tensor] = {}
    encoded = encode(state, tensors)
    tensor_file = f"{name}-step{step:09d}.safetensors"
    save_tensors(folder / tensor_file, tensors)
    pointer = io.write_json(folder / f"{name}.json", {"format": FORMAT, "step": step, "tensors": tensor_file,
                                                      "state": encoded})
    for old in folder.glob(f"{name}-step*.safetensors"):
        if old.name != tensor_file:
            old.unlink(missing_ok=True)
    return pointer


def load_checkpoint(folder: Path, name: str) -> dict[str, Any] | None:
    """The state saved by `save_checkpoint`, or None when there is no checkpoint `name` in `folder`.
    A damaged checkpoint (unreadable JSON, tensor file missing or corrupt) is a UserError naming the file."""
    pointer = folder / f"{name}.json"
    if not pointer.exists():
        return None
    try:
        record = json.loads(pointer.read_text(encoding="utf-8"))
        tensor_file = folder / record["tensors"]
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UserError(f"cannot resume: checkpoint {pointer} is damaged ({type(exc).__name__}); "
                        "start a new run") from None
    tensors = load_tensors(tensor_file)
    try:
        return decode(record["state"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"cannot resume: checkpoint {pointer} does not match {tensor_file.name} "
                        f"({type(exc).__name__}: {exc}); start a new run") from None


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    """A flat dict of tensors as one safetensors file, written atomically."""
    stored = _storable(tensors)
    return io.write_with(path, lambda tmp: save_file(stored, str(tmp)), suffix=".safetensors")


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a missing or corrupt file is a UserError naming it."""
    if not path.is_file():
        raise UserError(f"cannot resume: tensor file {path} is missing; start a new run")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own SafetensorError (and OSError, ValueError)
        raise UserError(f"cannot resume: tensor file {path} is damaged ({type(exc).__name__}); "
                        "start a new run") from None


def remove_orphans(folder: Path, name: str) -> list[Path]:
    """Delete temporary files of checkpoint `name` left by a process killed mid-write (io.atomic_path names
    them `.<target>.<random><suffix>`); returns what was removed."""
    orphans = [p for p in folder.glob(f".{name}[.-]*") if p.is_file()]
    for p in orphans:
        p.unlink(missing_ok=True)
    return orphans


# ---- RNG states ---------------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    """Every global RNG a training step may draw from: python, NumPy, torch CPU (+ CUDA / MPS)."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def _tuples(obj: Any) -> Any:
    # random.setstate wants tuples all the way down; decode already gives tuples, this guards lists.
    return tuple(_tuples(v) for v in obj) if isinstance(obj, (list, tuple)) else obj
