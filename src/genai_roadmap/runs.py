"""Run folders and the results ledger.

Every `roadmap run` writes `<runs>/<id>-<slug>/<timestamp>/` with config.json, env.json, metrics.json,
log.jsonl, plots/ and checkpoints/. status.json says running / done / failed; metrics.json is written once,
atomically, at the end, so a crashed run never leaves half a result. The ledger reads these folders and
nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from . import io
from .errors import UserError
from .registry import PROJECTS, Project

PACKAGE_ROOT = Path(__file__).resolve().parent
TRACKED_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "matplotlib", "torch", "tensorflow-cpu",
                    "transformers", "efficientnet-lite-pytorch")


def default_runs_dir() -> Path:
    return Path(os.environ.get("ROADMAP_RUNS_DIR", "runs"))


def seed_everything(seed: int) -> None:
    """Seed python, NumPy and (when imported) torch, and ask torch for deterministic kernels on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


@dataclass
class RunContext:
    """What a project's `run(cfg, ctx)` gets: where to write, the seed, and a logger."""

    dir: Path
    seed: int
    preset: str
    project: Project
    resume: bool = False
    quiet: bool = False
    _log_fh: Any = field(default=None, repr=False)

    @property
    def plots(self) -> Path:
        path = self.dir / "plots"
        path.mkdir(exist_ok=True)
        return path

    @property
    def checkpoints(self) -> Path:
        path = self.dir / "checkpoints"
        path.mkdir(exist_ok=True)
        return path

    def log(self, **record: Any) -> None:
        """Append one JSON line to log.jsonl (step metrics, events)."""
        if self._log_fh is None:
            self._log_fh = open(self.dir / "log.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        record = {"time": round(time.time(), 3), **record}
        self._log_fh.write(json.dumps(record, default=io._json_default) + "\n")
        self._log_fh.flush()

    def say(self, message: str) -> None:
        """A line for the person watching (not stored)."""
        if not self.quiet:
            from rich.console import Console

            Console(stderr=True).print(message, highlight=False)

    def close(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None


def code_hash() -> str:
    """sha256 over the package's .py files: which code produced a run, even without git."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_ROOT, capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(seed: int) -> dict:
    versions = {}
    for name in TRACKED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "git_commit": git_commit(),
        "code_hash": code_hash(),
        "seed": seed,
        "argv": sys.argv,
    }
    if "torch" in sys.modules:
        import torch

        env["torch_threads"] = torch.get_num_threads()
        env["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return env


def new_run_dir(project: Project, out: str | Path | None) -> Path:
    root = Path(out or default_runs_dir()) / f"{project.id}-{project.slug}"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = root / stamp
    n = 1
    while run_dir.exists():  # two runs in the same second
        n += 1
        run_dir = root / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def execute(project: Project, preset: str = "cpu", overrides: list[str] | dict | None = None, seed: int = 0,
            out: Path | None = None, resume: Path | None = None, quiet: bool = False,
            module: Any = None) -> tuple[Path, dict]:
    """Run one project: build its config, make (or reopen) the run folder, call `run`, record the result.

    `module` (tests only) replaces the project's own module: anything with Config, PRESETS and run.
    """
    module = module or project.load()
    if resume is not None:
        run_dir, cfg, seed, preset = _reopen(project, module, Path(resume))
    else:
        cfg = config_mod.build_config(module.Config, module.PRESETS, preset, overrides or [])
    if follower_rank():
        return _execute_follower(project, module, cfg, seed, preset, resume is not None)
    if resume is None:
        run_dir = new_run_dir(project, out)
        io.write_json(run_dir / "config.json", {"project": project.id, "slug": project.slug, "preset": preset,
                                                "seed": seed, "config": config_mod.to_dict(cfg)})
    seed_everything(seed)
    ctx = RunContext(dir=run_dir, seed=seed, preset=preset, project=project, resume=resume is not None,
                     quiet=quiet)
    io.write_json(run_dir / "status.json", {"status": "running", "started": _now()})
    start = time.perf_counter()
    try:
        metrics = module.run(cfg, ctx)
    except BaseException as exc:
        io.write_json(run_dir / "status.json", {"status": "failed", "finished": _now(),
                                                "error": f"{type(exc).__name__}: {exc}",
                                                "traceback": traceback.format_exc()})
        raise
    finally:
        ctx.close()
    wall = time.perf_counter() - start
    env = environment(seed) | {"wall_time_s": round(wall, 2), "preset": preset}
    io.write_json(run_dir / "env.json", env)
    metrics = {**metrics, "wall_time_s": round(wall, 2)}
    io.write_json(run_dir / "metrics.json", metrics)
    met = project.target.met(metrics) if project.target and preset != "smoke" else None
    io.write_json(run_dir / "status.json", {"status": "done", "finished": _now(), "target_met": met})
    return run_dir, metrics


def follower_rank() -> int:
    """The rank of an extra process of a multi-process launch (`accelerate launch`, torchrun), else 0."""
    return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


def _execute_follower(project: Project, module, cfg, seed: int, preset: str, resume: bool) -> tuple[Path, dict]:
    """Ranks > 0 train alongside rank 0 but write nothing into the run folder (the engine hands them rank 0's
    checkpoint on resume); their plots and logs go to a scratch folder."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=f"roadmap-rank{follower_rank()}-", ignore_cleanup_errors=True) as tmp:
        seed_everything(seed)
        ctx = RunContext(dir=Path(tmp), seed=seed, preset=preset, project=project, resume=resume, quiet=True)
        try:
            return Path(tmp), module.run(cfg, ctx)
        finally:
            ctx.close()


def _reopen(project: Project, module, run_dir: Path):
    saved = run_dir / "config.json"
    if not saved.exists():
        raise UserError(f"{run_dir} is not a run folder (no config.json)")
    record = json.loads(saved.read_text())
    if record.get("project") != project.id:
        raise UserError(f"{run_dir} belongs to project {record.get('project')}, not {project.id}")
    cfg = config_mod.build_config(module.Config, {}, "cpu", record["config"])
    return run_dir, cfg, record["seed"], record["preset"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---- the ledger -------------------------------------------------------------------------------------

@dataclass
class RunRecord:
    project: Project
    dir: Path
    preset: str
    metrics: dict

    @property
    def headline(self) -> float | None:
        if self.project.target is None:
            return None
        value = self.metrics.get(self.project.target.metric)
        return value if isinstance(value, (int, float)) else None

    @property
    def target_met(self) -> bool | None:
        """Judged on cpu and full runs only: a smoke run is a tiny slice, not an attempt at the target."""
        if self.project.target is None or self.preset == "smoke":
            return None
        return self.project.target.met(self.metrics)


def completed_runs(project: Project, root: str | Path | None = None) -> list[RunRecord]:
    folder = Path(root or default_runs_dir()) / f"{project.id}-{project.slug}"
    records = []
    for run_dir in sorted(folder.glob("*/")) if folder.exists() else []:
        metrics_file, config_file = run_dir / "metrics.json", run_dir / "config.json"
        if not metrics_file.exists() or not config_file.exists():
            continue  # running or failed
        preset = json.loads(config_file.read_text()).get("preset", "?")
        records.append(RunRecord(project, run_dir, preset, json.loads(metrics_file.read_text())))
    return records


def latest_run(project: Project, root: Path | None = None, prefer: tuple[str, ...] = ("full", "cpu", "smoke")
               ) -> RunRecord | None:
    """The newest completed run, preferring bigger presets: a smoke run never hides a cpu result."""
    runs = completed_runs(project, root)
    for preset in prefer:
        chosen = [r for r in runs if r.preset == preset]
        if chosen:
            return chosen[-1]
    return None


def ledger(root: Path | None = None) -> list[tuple[Project, RunRecord | None]]:
    return [(p, latest_run(p, root)) for p in PROJECTS]
