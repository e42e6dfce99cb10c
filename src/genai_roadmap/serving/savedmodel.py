"""A SavedModel in TF Serving's folder layout: find, load, describe, run, and export one. No HTTP here.

    <model_dir>/<name>/<version>/saved_model.pb, variables/      (versions are integers; the highest is served)

Nothing here imports TensorFlow at module import time; `import_tf()` does, on first use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

TF_INSTALL_HINT = "pip install 'genai-roadmap[tf]'"


def import_tf():
    """TensorFlow, imported on first use with its C++ logging quiet; a one-line UserError when it is absent."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ log noise; real failures raise in Python
    if "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None:
        return sys.modules["tensorflow"]
    try:
        with _drop_native_banners():
            import tensorflow as tf
    except ImportError:
        raise UserError(f"TensorFlow is not installed (it is an optional extra): {TF_INSTALL_HINT}") from None
    return tf


_TF_BANNERS = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on")


@contextlib.contextmanager
def _drop_native_banners():
    """While importing, TF writes banners straight to file descriptor 2, before any log level applies. Capture
    that descriptor and pass every other line on, so nothing but the two known banners is hidden."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not any(banner in line for banner in _TF_BANNERS):
                    sys.stderr.write(line)


class BadInput(ValueError):
    """Inputs the model's signature refuses (TensorFlow's own message, first line)."""


# ---- the model ------------------------------------------------------------------------------------------------

@dataclass
class TensorSpec:
    dtype: np.dtype
    shape: list[int | None]  # None = any size (the batch axis)
    tf_dtype: str  # "DT_FLOAT", as TF Serving's metadata names it


class ServedModel:
    """One version of a SavedModel and its signatures (name -> callable taking and returning named tensors)."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        tf = import_tf()
        self.name, self.version, self.path = name, version, path
        self._tf = tf
        self._loaded = tf.saved_model.load(str(path))
        self.signatures = dict(self._loaded.signatures)
        if "serving_default" not in self.signatures:
            raise UserError(f"{path} has no 'serving_default' signature (found: {', '.join(self.signatures)})")
        self.inputs = {k: self._spec(fn.structured_input_signature[1]) for k, fn in self.signatures.items()}
        self.outputs = {k: self._spec(fn.structured_outputs) for k, fn in self.signatures.items()}

    def _spec(self, specs: dict) -> dict[str, TensorSpec]:
        from tensorflow.core.framework import types_pb2

        return {name: TensorSpec(np.dtype(s.dtype.as_numpy_dtype), list(s.shape.as_list()),
                                 types_pb2.DataType.Name(s.dtype.as_datatype_enum)) for name, s in specs.items()}

    def run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            out = self.signatures[signature](**{k: self._tf.constant(v) for k, v in inputs.items()})
        except (self._tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise BadInput(str(exc).strip().splitlines()[0]) from None
        return {k: v.numpy() for k, v in out.items()}


def find_versions(base: Path) -> list[int]:
    """Integer-named subfolders holding a saved_model.pb (a `.1.tmp` being written is ignored, as TF Serving does)."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists())


def resolve_base(model_dir: Path, name: str) -> Path:
    """`<model_dir>/<name>/` when it holds versions, else `model_dir` itself (the folder TF Serving mounts)."""
    model_dir = Path(model_dir)
    for base in (model_dir / name, model_dir):
        if find_versions(base):
            return base
    raise UserError(f"no SavedModel versions under {model_dir} (expected {model_dir}/{name}/<version>/saved_model.pb)")


def load_latest(model_dir: Path, name: str) -> ServedModel:
    base = resolve_base(model_dir, name)
    version = find_versions(base)[-1]
    return ServedModel(name, version, base / str(version))


def latest_export_dir(runs_root: Path | None = None) -> Path:
    """The export folder of the newest completed 2.2.2 run (the default for `roadmap serve tf-digits`)."""
    from .. import registry
    from ..runs import latest_run

    record = latest_run(registry.get("2.2.2"), runs_root)
    if record is None or not (record.dir / "export").is_dir():
        raise UserError("no exported digits model found: run `roadmap run 2.2.2` first, or pass --model-dir")
    return record.dir / "export"


# ---- export ----------------------------------------------------------------------------------------------------

def export_for_serving(model: Any, export_root: Path, name: str, version: int,
                       input_shape: tuple[int, ...] = (28, 28)) -> Path:
    """Write a Keras model as `<export_root>/<name>/<version>/` with one signature, serving_default:
    images float32 [None, *input_shape] -> probabilities float32 [None, classes].

    Written to a hidden temporary folder, then renamed: a TF Serving watching the folder only ever sees a
    complete version (it ignores non-integer folder names).
    """
    tf = import_tf()
    target = Path(export_root) / name / str(version)
    if target.exists():
        raise UserError(f"{target} already exists: export a new version number instead")
    tmp = target.with_name(f".{version}.tmp")
    module = tf.Module()
    module.model = model  # tracked, so its variables are saved

    @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], tf.float32, name="images")])
    def serving_default(images):
        return {"probabilities": model(images, training=False)}

    module.serving_default = serving_default
    try:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": serving_default})
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left behind when saving failed
    return target
