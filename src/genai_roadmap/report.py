"""The results ledger as Markdown, and a static HTML report with every latest run's metrics and plots."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

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
    result = f"{metric} = {format_value(value)} ({record.preset})" if value is not None else f"run ({record.preset})"
    met = record.target_met
    verdict = "" if met is None else ("met" if met else "not met")
    return status, result, verdict


def markdown_table(root: Path | None = None) -> str:
    lines = ["| id | project | status | latest result | target | met | reference |",
             "|---|---|---|---|---|---|---|"]
    for project, record in ledger(root):
        status, result, verdict = result_cells(project, record)
        lines.append(f"| {project.id} | {project.slug} | {status} | {result} | {project.target_text} | {verdict} "
                     f"| {project.reference} ({project.source}) |")
    return "\n".join(lines) + "\n"


def write_results(root: Path | None = None) -> Path:
    root = root or default_runs_dir()
    return io.write_text(root / "RESULTS.md", "# Results ledger\n\nLatest run per project (a full run is "
                         "preferred over cpu, cpu over smoke).\n\n" + markdown_table(root))


def write_html(root: Path | None = None) -> Path:
    root = root or default_runs_dir()
    out = root / "report.html"
    parts = ["<!doctype html><meta charset='utf-8'><title>genai-roadmap report</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}"
             "img{max-width:48%;margin:4px;border:1px solid #eee}.met{color:#070}.not{color:#b00}"
             "section{margin-bottom:2.5em}</style>",
             "<h1>genai-roadmap: results</h1>"]
    for phase, name in PHASES.items():
        rows = [(p, r) for p, r in ledger(root) if p.phase == phase]
        parts.append(f"<h2>Phase {phase}: {html.escape(name)}</h2>")
        for project, record in rows:
            status, result, verdict = result_cells(project, record)
            if record is None:
                parts.append(f"<p><b>{project.id} {html.escape(project.title)}</b> — {status}, no run yet.</p>")
                continue
            cls = "met" if verdict == "met" else "not" if verdict else ""
            parts.append(f"<section><h3>{project.id} {html.escape(project.title)}</h3>"
                         f"<p>{html.escape(result)} <span class='{cls}'>{verdict}</span> — target "
                         f"{html.escape(project.target_text)}; reference {html.escape(project.reference)} "
                         f"({html.escape(project.source)}). Run folder: <code>{html.escape(str(record.dir))}</code>"
                         "</p>")
            parts.append(_metrics_table(record.metrics))
            for plot in sorted((record.dir / "plots").glob("*.png")) if (record.dir / "plots").exists() else []:
                rel = os.path.relpath(plot, out.parent)
                parts.append(f"<img src='{html.escape(rel)}' alt='{html.escape(plot.stem)}' "
                             f"title='{html.escape(plot.stem)}'>")
            parts.append("</section>")
    return io.write_text(out, "\n".join(parts))


def _metrics_table(metrics: dict) -> str:
    rows = []
    for key, value in metrics.items():
        shown = format_value(value) if not isinstance(value, (dict, list)) else json.dumps(value)[:200]
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(shown)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"
