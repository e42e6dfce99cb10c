"""Run folders and the results ledger.

Every `roadmap run` writes `<runs>/<id>-<slug>/<timestamp>/` with config.json, env.json, metrics.json,
log.jsonl, plots/ and checkpoints/. status.json says running / done / failed (with the pid and host of a
running one, so a killed run shows as "interrupted"); metrics.json is written once, atomically, at the end, so
a crashed run never leaves half a result. Every setting, the seed and the output folder are checked before the
run folder exists. A process holds a lock on the folder it runs in, so two `--resume`s cannot both write.
The ledger reads these folders and nothing else, and skips a damaged one with a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
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
from .errors import RunFailed, UserError
from .registry import PROJECTS, Project

PACKAGE_ROOT = Path(__file__).resolve().parent
TRACKED_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "matplotlib", "torch", "tensorflow-cpu",
                    "transformers", "tokenizers", "sentence-transformers", "gensim", "simplemma",
                    "efficientnet-lite-pytorch")


def default_runs_dir() -> Path:
    return Path(os.environ.get("ROADMAP_RUNS_DIR", "runs"))


SEED_LIMIT = 2**32  # NumPy's legacy seeding takes 0 <= seed < 2**32


def seed_everything(seed: int) -> None:
    """Seed python, NumPy and (when imported) torch.

    No deterministic-algorithms mode is requested, and none is promised: "same seed, same metrics" holds on
    CPU with the same thread count, which the project tests check run against run. GPU kernels may differ.
    """
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
        self._log_fh.write(io.dumps(record) + "\n")
        self._log_fh.flush()

    def say(self, message: str) -> None:
        """A line for the person watching (not stored)."""
        if not self.quiet:
            from rich.console import Console

            # plain text: a data line like "imdb:train:" or a citation "[1]" is not rich emoji or markup
            Console(stderr=True).print(message, highlight=False, markup=False, emoji=False)

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


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise UserError(f"seed must be an integer from 0 to {SEED_LIMIT - 1}, got {seed}")
    return seed


def check_out(out: str | Path | None) -> Path:
    """The runs folder, made if missing and proven writable by writing a file in it: a read-only folder or a
    path that is a file is one line here, before any run folder exists."""
    root = Path(out or default_runs_dir())
    if root.exists() and not root.is_dir():
        raise UserError(f"output folder {root} is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise UserError(f"cannot write to output folder {root}: {exc.strerror or exc}") from None
    return root


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


@contextlib.contextmanager
def folder_lock(run_dir: Path):
    """Hold an exclusive lock on `run_dir/.lock` while a process runs in it (released by the OS on a kill)."""
    path = run_dir / ".lock"
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"run folder {run_dir} is in use by another process (pid "
                            f"{path.read_text().strip() or '?'})") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


def execute(project: Project, preset: str = "cpu", overrides: list[str] | dict | None = None, seed: int = 0,
            out: Path | None = None, resume: Path | None = None, quiet: bool = False,
            module: Any = None) -> tuple[Path, dict]:
    """Run one project: check its config, seed and output folder, make (or reopen and lock) the run folder,
    call `run`, record the result.

    `module` (tests only) replaces the project's own module: anything with Config, PRESETS and run.
    """
    module = module or project.load()
    if resume is not None:
        run_dir, record, cfg, changes = _reopen(project, module, Path(resume), overrides or [])
        seed, preset = record["seed"], record["preset"]
    else:
        cfg = config_mod.build_config(module.Config, module.PRESETS, preset, overrides or [])
        check_seed(seed)
        check_out(out)
    if follower_rank():
        return _execute_follower(project, module, cfg, seed, preset, resume is not None)
    if resume is None:
        run_dir = new_run_dir(project, out)
    with folder_lock(run_dir):
        if resume is None:
            io.write_json(run_dir / "config.json", {"project": project.id, "slug": project.slug, "preset": preset,
                                                    "seed": seed, "dataset": dataset_of(project, module, cfg),
                                                    "config": config_mod.to_dict(cfg)})
        elif changes:
            resumed = record.get("resumed", []) + [{"time": _now(), "set": changes}]
            io.write_json(run_dir / "config.json", record | {"config": config_mod.to_dict(cfg), "resumed": resumed})
        return _run_in(project, module, cfg, run_dir, seed, preset, resume is not None, quiet)


def _run_in(project: Project, module, cfg, run_dir: Path, seed: int, preset: str, resume: bool,
            quiet: bool) -> tuple[Path, dict]:
    seed_everything(seed)
    ctx = RunContext(dir=run_dir, seed=seed, preset=preset, project=project, resume=resume, quiet=quiet)
    io.write_json(run_dir / "status.json", {"status": "running", "started": _now(), "pid": os.getpid(),
                                            "host": socket.gethostname()})
    if "genai_roadmap.hub" in sys.modules:  # checked, not imported: runs without pretrained weights stay torch-free
        sys.modules["genai_roadmap.hub"].forget_resolved()
    start = time.perf_counter()
    try:
        metrics = module.run(cfg, ctx)
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, (RunFailed, UserError)) else f"{type(exc).__name__}: {exc}"
        io.write_json(run_dir / "status.json", {"status": "failed", "finished": _now(), "error": reason,
                                                "traceback": traceback.format_exc()})
        raise
    finally:
        ctx.close()
    wall = time.perf_counter() - start
    env = environment(seed) | {"wall_time_s": round(wall, 2), "preset": preset}
    if "genai_roadmap.hub" in sys.modules:  # which pretrained weights the run used: source and sha256 per file
        env["models"] = sys.modules["genai_roadmap.hub"].resolved_models()
    io.write_json(run_dir / "env.json", env)
    metrics = {**metrics, "wall_time_s": round(wall, 2)}
    io.write_json(run_dir / "metrics.json", metrics)
    judged = preset != "smoke" and dataset_of(project, module, cfg) == own_dataset(project)
    goal = project.attempted(config_mod.to_dict(cfg))
    met = goal.target.met(metrics) if goal.target and judged else None
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


def _reopen(project: Project, module, run_dir: Path, overrides: list[str] | dict):
    """The saved record and Config of a run folder, with the `--set` changes that may be made on resume
    (fields declared `resumable`) applied; any other change, or a damaged config.json, is one line."""
    saved = run_dir / "config.json"
    if not saved.exists():
        raise UserError(f"{run_dir} is not a run folder (no config.json)")
    record = read_record(saved)
    if record is None or not isinstance(record.get("config"), dict) or record.get("preset") not in config_mod.PRESETS:
        raise UserError(f"{saved} is damaged (not a run's config.json): cannot resume")
    check_seed(record.get("seed"))
    if record.get("project") != project.id:
        raise UserError(f"{run_dir} belongs to project {record.get('project')}, not {project.id}")
    changes = {}
    allowed = config_mod.resumable_fields(module.Config)
    for key, value in config_mod.parse_overrides(module.Config, overrides).items():
        if value == record["config"].get(key):
            continue
        if key not in allowed:
            raise UserError(f"{key} cannot change on resume (only {', '.join(sorted(allowed)) or 'nothing'} can)")
        changes[key] = value
    cfg = config_mod.build_config(module.Config, {}, "cpu", record["config"] | changes)
    if changes and run_status(run_dir) == "done":
        # the engine restores a finished fit as finished: a new setting would be recorded but never used
        raise UserError(f"{run_dir} has finished; settings change only when resuming an unfinished run "
                        "(start a new run instead)")
    return run_dir, record, cfg, changes


def read_record(path: Path) -> dict | None:
    """A JSON object from `path`, or None when the file is unreadable, truncated or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def own_dataset(project: Project) -> str:
    """What a project is judged on: its registry datasets (the target and reference apply to these only)."""
    return ", ".join(project.datasets) or "generated"


def dataset_of(project: Project, module: Any, cfg: Any) -> str:
    """The data a run used: the module's own `dataset_of(cfg)` when it has one, else derived from the config."""
    if module is not None and hasattr(module, "dataset_of"):
        return str(module.dataset_of(cfg))
    return derive_dataset(project, config_mod.to_dict(cfg) if not isinstance(cfg, dict) else cfg)


USER_DATA_FIELDS = ("csv", "data_dir", "folder")


def derive_dataset(project: Project, settings: dict) -> str:
    """A config with a user file or folder set ran on that; one that names another built-in dataset (e.g.
    dataset=digits) ran on that; otherwise the project's own. Also used for run folders older than the
    config.json "dataset" field."""
    for key in USER_DATA_FIELDS:
        if settings.get(key):
            return f"{key}:{settings[key]}"
    name = settings.get("dataset")
    if isinstance(name, str) and name and name not in project.datasets:
        return name
    return own_dataset(project)


def run_status(run_dir: Path) -> str:
    """done / failed / running / interrupted (a "running" run whose process is gone from this host) /
    unknown (no readable status.json)."""
    status = read_record(run_dir / "status.json")
    if status is None:
        return "unknown"
    state = status.get("status", "unknown")
    if state == "running" and status.get("host") == socket.gethostname() and not _alive(status.get("pid")):
        return "interrupted"
    return state


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # older status.json without a pid: cannot tell, so trust it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---- the ledger -------------------------------------------------------------------------------------

@dataclass
class RunRecord:
    project: Project
    dir: Path
    preset: str
    metrics: dict
    dataset: str = ""
    config: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def own_data(self) -> bool:
        return self.dataset == own_dataset(self.project)

    @property
    def headline(self) -> float | None:
        if self.project.target is None:
            return None
        value = self.metrics.get(self.project.target.metric)
        return value if isinstance(value, (int, float)) else None

    @property
    def target_met(self) -> bool | None:
        """Judged on cpu and full runs on the project's own dataset only: a smoke run is a tiny slice and a
        run on the user's data is a different task, neither is an attempt at the target."""
        if self.project.target is None or self.preset == "smoke" or not self.own_data:
            return None
        return self.project.target.met(self.metrics)


_warned: set[Path] = set()


def warn_damaged(run_dir: Path, why: str) -> None:
    """One line on stderr per damaged folder and process, however many times the ledger is read."""
    if run_dir not in _warned:
        _warned.add(run_dir)
        print(f"warning: skipping damaged run folder {run_dir} ({why})", file=sys.stderr)


def completed_runs(project: Project, root: str | Path | None = None) -> list[RunRecord]:
    folder = Path(root or default_runs_dir()) / f"{project.id}-{project.slug}"
    records = []
    for run_dir in sorted(folder.glob("*/")) if folder.exists() else []:
        metrics_file, config_file = run_dir / "metrics.json", run_dir / "config.json"
        if not metrics_file.exists() or not config_file.exists():
            continue  # running or failed
        record, metrics = read_record(config_file), read_record(metrics_file)
        if record is None or not isinstance(record.get("config", {}), dict):
            warn_damaged(run_dir, "config.json is not readable JSON")
            continue
        if metrics is None:
            warn_damaged(run_dir, "metrics.json is not readable JSON")
            continue
        settings = record.get("config", {})
        dataset = record.get("dataset") or derive_dataset(project, settings)
        records.append(RunRecord(project.attempted(settings), run_dir, str(record.get("preset", "?")), metrics,
                                 dataset, settings, record.get("seed", 0)))
    return records


def latest_run(project: Project, root: Path | None = None, prefer: tuple[str, ...] = ("full", "cpu", "smoke"),
               challenge: str = "") -> RunRecord | None:
    """The newest completed run, preferring the project's own dataset, then bigger presets: a smoke run never
    hides a cpu result, and a run on the user's data never replaces one on the built-in dataset. Runs that
    attempt one of the project's challenges count only for that challenge (`challenge` names it)."""
    runs = [r for r in completed_runs(project, root) if r.project.challenge == challenge]
    own = [r for r in runs if r.own_data]
    for pool in (own, runs):
        for preset in prefer:
            chosen = [r for r in pool if r.preset == preset]
            if chosen:
                return chosen[-1]
    return None


def ledger(root: Path | None = None) -> list[tuple[Project, RunRecord | None]]:
    """One row per project (its latest run or None), plus one per challenge that has a run."""
    rows = []
    for p in PROJECTS:
        rows.append((p, latest_run(p, root)))
        for c in p.challenges:
            record = latest_run(p, root, challenge=c.name)
            if record is not None:
                rows.append((record.project, record))
    return rows
