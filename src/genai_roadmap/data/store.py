"""Where dataset files are found: $ROADMAP_DATA_DIR/<name>/ (an offline mirror), then the cache
(~/.cache/genai_roadmap/<name>/ or $ROADMAP_CACHE_DIR), then a download checked against its sha256.

Every file is checked (size, then sha256) the first time a process uses it. A wrong checksum is an error
naming the file; a missing file with no way to download it is one message naming the file, its sha256 and
where to put it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from .. import io
from ..errors import UserError
from .registry import DataFile, Dataset, Variant, get_dataset

_VERIFIED: set[tuple[str, int, float]] = set()


def mirror_dir() -> Path | None:
    value = os.environ.get("ROADMAP_DATA_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    value = os.environ.get("ROADMAP_CACHE_DIR")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "genai_roadmap"


def candidate_paths(dataset: Dataset, file: DataFile) -> list[Path]:
    paths = []
    if (mirror := mirror_dir()) is not None:
        paths.append(mirror / dataset.name / file.name)
    paths.append(cache_dir() / dataset.name / file.name)
    return paths


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, file: DataFile) -> None:
    """Raise a UserError naming the file when its size or sha256 is not the registered one."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    if key in _VERIFIED:
        return
    if stat.st_size != file.size:
        raise UserError(f"checksum error: {path} is {stat.st_size} bytes, expected {file.size} "
                        f"(truncated or a different file); delete it and fetch again")
    actual = sha256_of(path)
    if actual != file.sha256:
        raise UserError(f"checksum error: {path} has sha256 {actual}, expected {file.sha256}; "
                        f"delete it and fetch again")
    _VERIFIED.add(key)


def find_file(dataset: Dataset, file: DataFile) -> Path | None:
    """The first existing copy of `file` (checked), or None."""
    for path in candidate_paths(dataset, file):
        if path.exists():
            check_file(path, file)
            return path
    return None


def download(dataset: Dataset, file: DataFile) -> Path:
    """Download `file` into the cache, checking its sha256 before it gets its final name."""
    if not file.url:
        raise UserError(missing_message(dataset, file))
    target = cache_dir() / dataset.name / file.name
    try:
        with io.atomic_path(target) as tmp:
            with urllib.request.urlopen(file.url, timeout=60) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
            check_file(tmp, file)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise UserError(missing_message(dataset, file, reason=f"download from {file.url} failed ({exc})")) from None
    return target


def missing_message(dataset: Dataset, file: DataFile, reason: str = "") -> str:
    where = " or ".join(str(p.parent) + "/" for p in candidate_paths(dataset, file))
    how = f"; it downloads from {file.url} when online" if file.url else "; it has no public download, get it " \
        f"from {dataset.homepage}"
    lead = f"{reason}: " if reason else ""
    return (f"{lead}dataset {dataset.name!r} needs {file.name} (sha256 {file.sha256}); put it in {where}"
            f" or set ROADMAP_DATA_DIR to a mirror{how}")


def resolve_variant(name: str, download_ok: bool = True) -> tuple[Variant, dict[str, Path]]:
    """Find the first variant of dataset `name` whose files are all present; else download the first
    downloadable variant. Returns the variant and {file name: path}."""
    dataset = get_dataset(name)
    if dataset.builtin:
        raise UserError(f"dataset {name!r} ships with scikit-learn; load it from there")
    for variant in dataset.variants:
        found = {f.name: find_file(dataset, f) for f in variant.files}
        if all(found.values()):
            return variant, found  # type: ignore[return-value]
    first = dataset.variants[0]
    missing = next(f for f in first.files if find_file(dataset, f) is None)
    downloadable = [v for v in dataset.variants if v.downloadable]
    if not download_ok or not downloadable:
        raise UserError(missing_message(dataset, missing))
    variant = downloadable[0]
    paths = {f.name: find_file(dataset, f) or download(dataset, f) for f in variant.files}
    return variant, paths


def resolve_file(name: str, file_name: str) -> Path:
    """One file of a dataset's first complete variant."""
    _, paths = resolve_variant(name)
    if file_name not in paths:
        raise UserError(f"dataset {name!r} has no file {file_name!r}")
    return paths[file_name]


def verify_dataset(name: str) -> list[tuple[str, str, str]]:
    """(file, status, path) for every file of every variant: ok / missing / error message."""
    dataset = get_dataset(name)
    rows = []
    for variant in dataset.variants:
        for file in variant.files:
            try:
                path = find_file(dataset, file)
                rows.append((f"{variant.name}:{file.name}", "ok" if path else "missing", str(path or "")))
            except UserError as exc:
                rows.append((f"{variant.name}:{file.name}", "bad", str(exc)))
    return rows
