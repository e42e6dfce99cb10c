"""The Python API: the same runs as the `roadmap` command, from a notebook or a script.

    import genai_roadmap as gr
    result = gr.run("1.3.1", preset="cpu", seed=0, csv="my.csv", target="label")
    result.metrics["cv_acc"], result.dir      # the metrics dict and the run folder
    for row in gr.results(): ...              # the ledger: latest run per project

Keyword settings become `--set key=value` overrides and are checked the same way (type, range, choices), so a
bad value raises genai_roadmap.errors.UserError before any run folder exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import registry
from .errors import UserError


@dataclass(frozen=True)
class RunResult:
    """What a finished run left: its metrics (as in metrics.json) and its run folder."""

    project: str
    dir: Path
    metrics: dict


def run(project: str, preset: str = "cpu", seed: int = 0, out: str | Path | None = None,
        resume: str | Path | None = None, quiet: bool = True, **settings: Any) -> RunResult:
    """Run a project by id or slug; `settings` override Config fields (e.g. `epochs=3`, `hidden=[128]`)."""
    from .runs import execute

    p = registry.get(project)
    if not p.implemented:
        raise UserError(f"project {p.id} ({p.slug}) is planned, not implemented yet")
    overrides = [f"{key}={_as_text(value)}" for key, value in settings.items()]
    run_dir, metrics = execute(p, preset=preset, overrides=overrides, seed=seed,
                               out=Path(out) if out is not None else None,
                               resume=Path(resume) if resume is not None else None, quiet=quiet)
    return RunResult(p.id, run_dir, metrics)


def results(out: str | Path | None = None) -> list:
    """The ledger: one RunRecord (project, dir, preset, dataset, metrics, target_met) per project with a
    completed run, chosen as `roadmap results` chooses it."""
    from .runs import default_runs_dir, ledger

    root = Path(out) if out is not None else default_runs_dir()
    return [record for _, record in ledger(root) if record is not None] if root.is_dir() else []


def _as_text(value: Any) -> str:
    """A Python value as the command line would spell it, so the one parser checks both."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    return str(value)
