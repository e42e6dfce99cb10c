"""A small client for TensorFlow Serving's REST API (ours in `tf_rest`, or the real one): images in, digits out.

Used by `roadmap predict FILES... [--url http://127.0.0.1:8501] [--model digits]`. Files may be PNG/JPG images
(converted to 28×28 grey in [0, 1]; a light background is inverted, since MNIST digits are white on black) or
.npy arrays of shape [28, 28], [28, 28, 1], [N, 28, 28] or [N, 28, 28, 1] (uint8 0-255 or float 0-1).
Only the standard library speaks HTTP here (urllib), so the client needs nothing the server does not.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import UserError

SIDE = 28


def load_inputs(paths: Sequence[str | Path]) -> tuple[list[str], np.ndarray]:
    """(a label per image, float32 [N, 28, 28] in [0, 1]) from image files and .npy arrays."""
    labels, batches = [], []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        batch = _load_npy(path) if path.suffix.lower() == ".npy" else _load_image(path)[None]
        labels += [path.name] if len(batch) == 1 else [f"{path.name}[{i}]" for i in range(len(batch))]
        batches.append(batch)
    if not batches:
        raise UserError("no input files given")
    return labels, np.concatenate(batches)


def _to_unit(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8 or (arr.size and float(arr.max()) > 1.0):
        return arr.astype(np.float32) / 255
    if not np.issubdtype(arr.dtype, np.number):
        raise UserError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float32)


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: not a readable .npy array ({exc})") from None
    if arr.ndim in (3, 4) and arr.shape[-1] == 1 and arr.shape[-3:-1] == (SIDE, SIDE):
        arr = arr[..., 0]  # [.., 28, 28, 1] -> [.., 28, 28]
    if arr.shape == (SIDE, SIDE):
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (SIDE, SIDE):
        raise UserError(f"{path}: array of shape {list(arr.shape)}; expected [28,28], [N,28,28] or with a trailing 1")
    return _to_unit(arr, path)


def _load_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            grey = img.convert("L").resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError):
        raise UserError(f"{path}: not an image PIL can read (PNG/JPG) nor a .npy array") from None
    arr = np.asarray(grey, dtype=np.float32) / 255
    return 1 - arr if arr.mean() > 0.5 else arr  # dark ink on light paper -> MNIST's light on dark


# ---- HTTP ------------------------------------------------------------------------------------------------------

def _call(url: str, payload: dict | None = None, timeout: float = 30.0) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - user-given server URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", "")
        except (json.JSONDecodeError, AttributeError):
            message = exc.reason
        raise UserError(f"{url} answered {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise UserError(f"no model server at {url} (connection refused): start one with "
                            "`roadmap serve tf-digits`") from None
        raise UserError(f"cannot reach {url}: {exc.reason}") from None
    except TimeoutError:  # socket.timeout is an alias since 3.10
        raise UserError(f"{url} did not answer within {timeout:.0f} s") from None


def model_url(base: str, model: str, version: int | None = None) -> str:
    return f"{base.rstrip('/')}/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")


def model_status(base: str, model: str, version: int | None = None) -> dict:
    return _call(model_url(base, model, version))


def predict(base: str, model: str, images: np.ndarray, version: int | None = None) -> np.ndarray:
    """POST {"instances": images} to <model>:predict; returns probabilities [N, classes]."""
    reply = _call(model_url(base, model, version) + ":predict", {"instances": np.asarray(images).tolist()})
    rows = reply.get("predictions")
    if not isinstance(rows, list):
        raise UserError(f"{base} sent no 'predictions' list: {str(reply)[:200]}")
    if rows and isinstance(rows[0], dict):  # a multi-output signature: rows are {output name: value}
        key = "probabilities" if "probabilities" in rows[0] else next(iter(rows[0]))
        rows = [row[key] for row in rows]
    return np.asarray(rows, dtype=np.float32)


def predict_files(paths: Sequence[str | Path], url: str, model: str = "digits", top: int = 3) -> list[str]:
    """One line per image: the predicted digit, its probability, and the runners-up."""
    labels, images = load_inputs(paths)
    probs = predict(url, model, images)
    width = max(len(label) for label in labels)
    lines = []
    for label, p in zip(labels, probs, strict=True):
        order = np.argsort(p)[::-1][:top]
        rest = ", ".join(f"{k} {p[k]:.3f}" for k in order[1:])
        lines.append(f"{label:<{width}}  -> {order[0]}  (p={p[order[0]]:.3f}; next: {rest})")
    return lines
