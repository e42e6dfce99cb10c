"""Atomic file writes: write to a temporary file in the same folder, then rename over the target.

A crash (or SIGKILL) mid-write leaves either the old file or nothing, never half a file. JSON is strict:
NaN and infinity (which `json` would write as bare `NaN`, not JSON) are stored as null.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: str | Path, suffix: str = ""):
    """Yield a temporary path next to `target`; on success rename it onto `target`, on error delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix or ".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any other file
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(target: str | Path):
    """Yield a temporary folder next to `target`; on success it replaces `target` (a model folder: weights,
    tokenizer, config written together), on error it is deleted. A reader never sees half a folder."""
    import shutil

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield tmp
        for path in (tmp, *tmp.rglob("*")):  # mkdtemp and some writers make owner-only files
            os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_UMASK)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(target: str | Path, obj: Any) -> Path:
    return write_text(target, dumps(obj, indent=2) + "\n")


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON: NumPy / torch values as plain numbers, NaN and infinity as null."""
    return json.dumps(plain(obj), indent=indent, allow_nan=False)


def plain(obj: Any) -> Any:
    """`obj` as JSON-ready Python values; a non-finite float becomes None."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return plain(_json_default(obj))


def write_with(target: str | Path, writer: Callable[[Path], None], suffix: str = "") -> Path:
    """Atomically create `target` with a writer that takes a path (savefig, safetensors.save_file, ...)."""
    with atomic_path(target, suffix=suffix or Path(target).suffix) as tmp:
        writer(tmp)
    return Path(target)


def _json_default(obj: Any) -> Any:
    # NumPy / torch scalars and arrays appear in metrics; store them as plain Python numbers.
    if hasattr(obj, "item") and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
