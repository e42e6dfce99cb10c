"""`roadmap demo`: a short tour of the implemented projects on real data, then the ledger and the report.

Each step names the datasets it needs. When a dataset is neither in $ROADMAP_DATA_DIR nor in the cache, the
step falls back to data that ships inside an installed package (Iris, scikit-learn's 8×8 digits) and says so
in one line; a step with no such fallback is skipped with its reason. The demo never waits on a download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import registry
from .data.registry import get_dataset
from .data.store import find_file
from .errors import UserError


@dataclass(frozen=True)
class Step:
    project: str
    preset: str
    needs: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    fallback: tuple[str, ...] | None = None  # overrides that use packaged data instead; None = skip
    fallback_note: str = ""
    why: str = field(default="")


TOUR = (
    Step("1.1.1", "cpu", why="matrix identities, derivatives and integrals against their analytic values"),
    Step("1.2.1", "cpu", needs=("boston_housing",), why="linear regression from scratch vs scikit-learn"),
    Step("1.2.2", "cpu", why="a CART tree from scratch on Iris vs scikit-learn"),
    Step("1.3.1", "cpu", needs=("titanic",), why="Titanic EDA and a cross-validated baseline"),
    Step("1.3.2", "cpu", needs=("mnist",), fallback=("dataset=digits",),
         fallback_note="MNIST not found locally: PCA runs on scikit-learn's 8×8 digits instead",
         why="PCA from scratch: components for 95% variance"),
    Step("2.1.1", "smoke", needs=("mnist",), fallback=("dataset=digits", "epochs=30"),
         fallback_note="MNIST not found locally: the NumPy MLP trains on scikit-learn's 8×8 digits instead",
         why="a NumPy MLP with hand-written backprop (short run)"),
    Step("2.1.2", "smoke", needs=("fashion_mnist",), why="a PyTorch MLP through the training engine (short run)"),
    Step("2.2.1", "smoke", needs=("cifar10",), why="CIFAR-10: train, checkpoint, reload, evaluate (short run)"),
    Step("2.2.2", "smoke", needs=("mnist",), why="a Keras CNN exported and served over TF Serving's REST API"),
    Step("2.3.1", "smoke", needs=("cifar10",), why="a depth × augmentation ablation grid (tiny)"),
    Step("2.3.2", "smoke", needs=("cifar10",), why="pretrained EfficientNet-Lite0 vs the same net from scratch"),
    Step("3.1.1", "smoke", needs=("bbc_news",), why="tokens, stems, lemmas and TF-IDF written out, on BBC News"),
)


def available(name: str) -> bool:
    dataset = get_dataset(name)
    if dataset.builtin:
        return True
    try:
        return any(all(find_file(dataset, f) for f in v.files) for v in dataset.variants)
    except UserError:
        return False  # present but corrupt: treat as missing here, `roadmap data verify` names the file


def plan() -> list[tuple[Step, tuple[str, ...] | None, str]]:
    """(step, overrides to use or None to skip, note) for each step of the tour."""
    chosen = []
    for step in TOUR:
        if not registry.get(step.project).implemented:
            continue
        missing = [n for n in step.needs if not available(n)]
        if not missing:
            chosen.append((step, step.overrides, ""))
        elif step.fallback is not None:
            chosen.append((step, step.fallback, step.fallback_note))
        else:
            chosen.append((step, None, f"skipped: dataset {', '.join(missing)} not found locally "
                                       f"(set ROADMAP_DATA_DIR or run `roadmap data fetch {missing[0]}`)"))
    return chosen


def run_tour(out: Path | None, say) -> int:
    from .report import format_value
    from .runs import execute

    failures = 0
    for step, overrides, note in plan():
        project = registry.get(step.project)
        if note:
            say(f"[yellow]{project.id} {project.slug}: {note}[/]")
        if overrides is None:
            continue
        say(f"[bold]{project.id} {project.slug}[/] ({step.preset}) — {step.why}")
        try:
            run_dir, metrics = execute(project, preset=step.preset, overrides=list(overrides), out=out)
        except UserError as exc:
            failures += 1
            say(f"[red]  {exc}[/]")
            continue
        headline = project.target.metric if project.target else None
        value = metrics.get(headline) if headline else None
        shown = format_value(value) if value is not None else "-"
        say(f"  {headline} = {shown}  → {run_dir}" if headline else f"  → {run_dir}")
    return failures
