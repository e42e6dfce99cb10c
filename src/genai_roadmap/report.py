"""The results ledger as Markdown (RESULTS.md, generated from run folders, never edited by hand), and a
self-contained HTML report (plots embedded) of every latest run.

Each row carries the command that reproduces it, rebuilt from the run's config.json: the preset, the seed and a
`--set` for every value that differs from the preset. A project module may define `summarize(metrics) -> str`
for a one-line detail shown beside its headline number.
"""

from __future__ import annotations

import base64
import html
import json
import shlex
from pathlib import Path
from typing import Any

from . import config as config_mod
from . import io
from .registry import PHASES, Project
from .runs import RunRecord, default_runs_dir, ledger


def format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def result_cells(project: Project, record: RunRecord | None) -> tuple[str, str, str]:
    """(status, result, verdict) for one ledger row."""
    status = "implemented" if project.implemented else "planned"
    if record is None:
        return status, "—", ""
    metric = project.target.metric if project.target else None
    value = record.metrics.get(metric) if metric else None
    where = record.preset if record.own_data else f"{record.preset}, {record.dataset}"
    result = f"{metric} = {format_value(value)} ({where})" if value is not None else f"run ({where})"
    met = record.target_met
    verdict = "" if met is None else ("met" if met else "not met")
    return status, result, verdict


def headline(project: Project, record: RunRecord) -> str:
    metric = project.target.metric if project.target else None
    return f"{metric} = {format_value(record.metrics.get(metric))}" if metric else "-"


def _module(project: Project) -> Any:
    try:
        return project.load()
    except Exception:  # a project that no longer imports still has its recorded results
        return None


def summary(project: Project, record: RunRecord) -> str:
    """The project's own one-line detail (`summarize(metrics)`), when its module defines one."""
    module = _module(project)
    if module is None or not hasattr(module, "summarize"):
        return ""
    try:
        return str(module.summarize(record.metrics))
    except Exception:  # an old run may lack a metric the summary reads
        return ""


def command(project: Project, record: RunRecord) -> str:
    """`roadmap run ID --preset P --seed S [--set k=v ...]`: only values that differ from the preset are set."""
    parts = ["roadmap", "run", project.id, "--preset", record.preset, "--seed", str(record.seed)]
    module = _module(project)
    if module is not None and record.preset in config_mod.PRESETS:
        try:
            base = config_mod.to_dict(config_mod.build_config(module.Config, module.PRESETS, record.preset, []))
        except Exception:  # an old config may no longer build
            base = {}
        for key, value in record.config.items():
            if key in base and value != base[key]:
                parts += ["--set", f"{key}={_cli_value(value)}"]
    return " ".join(shlex.quote(p) for p in parts)


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(_cli_value(v) for v in value)
    return str(value)


TABLE_HEAD = ["| id | project | dataset | preset | result | target | met | reference | wall time | command |",
              "|---|---|---|---|---|---|---|---|---|---|"]


def markdown_rows(root: Path | None = None) -> dict[tuple[str, str], str]:
    """(id, project name) -> table row, for each project (and challenge) with a completed run, from the ledger."""
    rows = {}
    for project, record in ledger(root):
        if record is None:
            continue
        detail = summary(project, record)
        result = headline(project, record) + (f"; {detail}" if detail else "")
        met = record.target_met
        verdict = "" if met is None else ("met" if met else "not met")
        target, reference = ((project.target_text, f"{project.reference} ({project.source})") if record.own_data
                             else ("n/a (not the project's dataset)", "n/a"))
        wall = record.metrics.get("wall_time_s")
        name = row_name(project)
        rows[(project.id, name)] = (f"| {project.id} | {name} | {record.dataset} | {record.preset} | {_md(result)} "
                                    f"| {_md(target)} | {verdict} | {_md(reference)} "
                                    f"| {format_value(wall) + ' s' if wall is not None else '-'} "
                                    f"| `{command(project, record)}` |")
    return rows


def row_name(project: Project, challenge: str | None = None) -> str:
    challenge = challenge or project.challenge
    return f"{project.slug} ({challenge})" if challenge else project.slug


def markdown_table(root: Path | None = None, carried: dict[tuple[str, str], str] | None = None) -> str:
    """One row per project with a completed run (the latest, as the ledger chooses it), in roadmap order. Rows in
    `carried` (from an earlier RESULTS.md) fill in the projects that have no run in this folder."""
    from .registry import PROJECTS

    rows = {**(carried or {}), **markdown_rows(root)}
    order = [(p.id, row_name(p, c)) for p in PROJECTS for c in (None, *(c.name for c in p.challenges))]
    return "\n".join(TABLE_HEAD + [rows[key] for key in order if key in rows]) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def write_results(root: Path | None = None, target: Path | None = None, merge: bool = False) -> Path:
    """Write RESULTS.md (into the runs folder unless `target` names another file) from the run folders. merge: keep
    the rows (and machine lines) of the existing file for projects that have no run in this folder — results
    gathered by runs on other machines or days, each row still carrying the command that reproduces it."""
    root = Path(root or default_runs_dir())
    target = Path(target) if target else root / "RESULTS.md"
    carried, machines_seen = read_results(target) if merge and target.is_file() else ({}, set())
    note = (" Rows of projects without a run in the latest runs folder are carried over from the previous "
            "RESULTS.md." if carried else "")
    return io.write_text(target, "# Results\n\nGenerated by `roadmap results` from the run folders; do not edit "
                         "by hand. Latest run per project: a full run is preferred over cpu, cpu over smoke, and a "
                         "run on the project's own dataset over one on other data. Each command reproduces its "
                         f"row.{note}\n\n" + machines(root, machines_seen) + markdown_table(root, carried))


def read_results(path: Path) -> tuple[dict[tuple[str, str], str], set[str]]:
    """The table rows of a RESULTS.md written by write_results, keyed (id, project name), and its machine lines."""
    rows, seen = {}, set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Machines: "):
            seen.update(line[len("Machines: "):].split(". A wall time")[0].split("; "))
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) > 2 and cells[0][2:] not in ("id", "---"):
            rows[(cells[0][2:], cells[1])] = line
    return rows, seen


def machines(root: Path, seen: set[str] | None = None) -> str:
    """Where the listed runs ran (from their env.json, plus `seen`): wall times only compare within one kind of
    machine."""
    seen = set(seen or ())
    for _, record in ledger(root):
        if record is None:
            continue
        try:
            env = json.loads((record.dir / "env.json").read_text())
        except (OSError, ValueError):
            continue
        torch_version = env.get("packages", {}).get("torch", "-")
        seen.add(f"{env.get('cpu_count')} CPU cores ({env.get('cpu')}), GPU: {env.get('cuda') or 'none'}, "
                 f"torch {torch_version}, Python {env.get('python')}")
    if not seen:
        return ""
    return ("Machines: " + "; ".join(sorted(seen)) + ". A wall time includes everything the run did (data, "
            "training, evaluation, plots); runs that shared the cores with others took longer.\n\n")


def write_html(root: Path | None = None) -> Path:
    """report.html with every plot embedded (base64), so the file can be moved or mailed on its own."""
    root = Path(root or default_runs_dir())
    out = root / "report.html"
    rows = ledger(root)
    parts = ["<!doctype html><meta charset='utf-8'><title>genai-roadmap report</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}"
             "img{max-width:48%;margin:4px;border:1px solid #eee}.met{color:#070}.not{color:#b00}"
             "section{margin-bottom:2.5em}</style>",
             "<h1>genai-roadmap: results</h1>"]
    for phase, name in PHASES.items():
        parts.append(f"<h2>Phase {phase}: {html.escape(name)}</h2>")
        for project, record in (row for row in rows if row[0].phase == phase):
            status, result, verdict = result_cells(project, record)
            if record is None:
                parts.append(f"<p><b>{project.id} {html.escape(project.title)}</b> — {status}, no run yet.</p>")
                continue
            cls = "met" if verdict == "met" else "not" if verdict else ""
            judged = (f"target {html.escape(project.target_text)}; reference {html.escape(project.reference)} "
                      f"({html.escape(project.source)})" if record.own_data
                      else "not the project's own dataset: no target or reference applies")
            link = html.escape(record.dir.resolve().as_uri())
            parts.append(f"<section><h3>{project.id} {html.escape(project.title)}</h3>"
                         f"<p>{html.escape(result)} <span class='{cls}'>{verdict}</span> — dataset "
                         f"{html.escape(record.dataset)}; {judged}. Run folder: <a href='{link}'>"
                         f"<code>{html.escape(str(record.dir))}</code></a></p>")
            parts.append(_metrics_table(record.metrics))
            for plot in sorted((record.dir / "plots").glob("*.png")) if (record.dir / "plots").exists() else []:
                data = base64.b64encode(plot.read_bytes()).decode("ascii")
                parts.append(f"<img src='data:image/png;base64,{data}' alt='{html.escape(plot.stem)}' "
                             f"title='{html.escape(plot.stem)}'>")
            parts.append("</section>")
    return io.write_text(out, "\n".join(parts))


def _metrics_table(metrics: dict) -> str:
    rows = []
    for key, value in metrics.items():
        shown = format_value(value) if not isinstance(value, (dict, list)) else json.dumps(value)[:200]
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(shown)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"
