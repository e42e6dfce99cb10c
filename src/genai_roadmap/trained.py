"""Using a trained model: `roadmap sample ID [INPUT ...]` on the command line, `genai_roadmap.load(ID)` in Python.

    import genai_roadmap as gr
    translator = gr.load("3.3.2")                     # the latest finished run (full > cpu > smoke)
    translator.sample("I am cold.", beam=4)           # -> ["J'ai froid."]
    gr.load("4.3.2", run="runs/4.3.2-cvae-mnist/20261202-061500").sample(digit=7, n=64)   # -> [Path to a PNG grid]

A project whose runs leave a usable model offers three hooks in its module:

    @dataclass
    class SampleOptions:                 # the `--set key=value` settings of `roadmap sample`, checked like Config
        temperature: float = param(0.8, "sampling temperature", gt=0)

    def load_trained(run_dir, cfg):      # rebuild the model from the files its run() saved in run_dir
    def sample(model, inputs, opts, out_dir) -> list[str | dict | Path]

`inputs` are the command line's INPUT arguments followed by the lines of `--file` (possibly none: unconditional
generation). Each result is a piece of text, a record (printed as one JSON line) or a file the hook wrote under
`out_dir` (printed as its path). The run is chosen the way the ledger chooses it, so `roadmap sample ID` uses the
run `roadmap results` shows.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import config as config_mod
from . import registry
from .errors import UserError
from .registry import Project

Output = str | dict | Path


@dataclass
class TrainedModel:
    """A project's trained model as its run left it, with the run's settings; `.sample(...)` uses it."""

    project: Project
    run_dir: Path
    config: Any
    model: Any
    module: ModuleType

    def options(self, settings: list[str] | dict | None = None) -> Any:
        """The project's SampleOptions with `settings` applied and checked (None when it declares none)."""
        options_cls = getattr(self.module, "SampleOptions", None)
        if options_cls is None:
            if settings:
                raise UserError(f"project {self.project.id} takes no sampling settings")
            return None
        return config_mod.build_config(options_cls, {}, "cpu", settings or [])

    def sample(self, *inputs: str, out_dir: str | Path | None = None, **settings: Any) -> list[Output]:
        """Run the model on `inputs` (text, or nothing for unconditional generation); keyword settings are the
        project's SampleOptions (e.g. `temperature=0.7`, `beam=4`, `digit=7`)."""
        return self.run(list(inputs), settings, out_dir)

    def run(self, inputs: list[str], settings: list[str] | dict | None = None,
            out_dir: str | Path | None = None) -> list[Output]:
        opts = self.options(settings)
        folder = Path(out_dir) if out_dir is not None else self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        results = self.module.sample(self.model, [str(i) for i in inputs], opts, folder)
        return list(results)

    def describe(self) -> str:
        return f"{self.project.id} {self.project.slug}, run {self.run_dir}"


def load(project: str, run: str | Path | None = None, runs_dir: str | Path | None = None) -> TrainedModel:
    """The trained model of `project` (id or slug) from run folder `run`, or from the latest finished run under
    `runs_dir` (default ./runs or $ROADMAP_RUNS_DIR)."""
    from .runs import default_runs_dir, latest_run, read_record

    p = registry.get(project)
    module = p.load()
    if not hasattr(module, "load_trained") or not hasattr(module, "sample"):
        raise UserError(f"project {p.id} ({p.slug}) does not leave a model to sample from; its results are in "
                        "its run folder (roadmap runs " + p.id + ")")
    if run is None:
        root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        record = latest_run(p, root)
        if record is None:
            raise UserError(f"no finished run of {p.id} in {root}; train one first: roadmap run {p.id} "
                            "(or point at a run folder with --run DIR)")
        run_dir = record.dir
    else:
        run_dir = Path(run)
    saved = read_record(run_dir / "config.json")
    if saved is None:
        raise UserError(f"{run_dir} is not a run folder (no readable config.json)")
    if saved.get("project") != p.id:
        raise UserError(f"{run_dir} is a run of project {saved.get('project')}, not {p.id}")
    if not (run_dir / "metrics.json").exists():
        raise UserError(f"{run_dir} has not finished (no metrics.json): its model may be incomplete")
    cfg = _saved_config(module, saved, run_dir)
    try:
        model = module.load_trained(run_dir, cfg)
    except FileNotFoundError as e:
        raise UserError(f"{run_dir} lacks the trained model's files ({Path(e.filename or '').name or e}); "
                        f"re-run it with this version: roadmap run {p.id}") from None
    return TrainedModel(p, run_dir, cfg, model, module)


def _saved_config(module: ModuleType, saved: dict, run_dir: Path) -> Any:
    """The run's Config as it was, from config.json; settings this version no longer knows are dropped."""
    values = saved.get("config")
    if not isinstance(values, dict):
        raise UserError(f"{run_dir}/config.json is damaged (no config)")
    known = {f.name for f in dataclasses.fields(module.Config)}
    return config_mod.build_config(module.Config, {}, "cpu", {k: v for k, v in values.items() if k in known})


def read_inputs(file: Path) -> list[str]:
    """One input per non-blank line of a UTF-8 text file."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"input file {file} does not exist") from None
    except UnicodeDecodeError:
        raise UserError(f"input file {file} is not UTF-8 text") from None
    except OSError as e:
        raise UserError(f"cannot read input file {file}: {e.strerror}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UserError(f"input file {file} has no non-blank lines")
    return lines


def render(result: Output) -> str:
    """How the command line prints one result."""
    if isinstance(result, Path):
        return str(result)
    if isinstance(result, dict):
        return json.dumps(result, ensure_ascii=False, default=str)
    return str(result)
