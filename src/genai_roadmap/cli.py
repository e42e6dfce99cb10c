"""The `roadmap` command. Thin: parse, call the library, print. User mistakes exit 2 with one line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from . import config as config_mod
from . import registry
from .errors import RunFailed, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="Every project of the Generative-AI roadmap as a real pipeline on real data.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: where they are, checksums, licences.")
app.add_typer(data_app, name="data")
serve_app = typer.Typer(no_args_is_help=True, help="HTTP services for trained models.")
app.add_typer(serve_app, name="serve")
index_app = typer.Typer(no_args_is_help=True, help="Retrieval indexes of your own documents (BM25 + dense).")
app.add_typer(index_app, name="index")
# Piped output (CI logs, files) gets a wide console instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@app.command("list")
def list_projects(phase: int | None = typer.Option(None, help="Show one phase only (1-8).")) -> None:
    """The 42 projects by phase: id, slug, status, latest result vs target."""
    from .report import result_cells
    from .runs import ledger

    table = Table(show_lines=False, header_style="bold")
    for col in ("id", "slug", "title", "status", "latest result", "target", "met"):
        table.add_column(col)
    current = None
    for project, record in ledger():
        if phase is not None and project.phase != phase:
            continue
        if project.phase != current:
            current = project.phase
            table.add_row(f"[bold]Phase {current}[/]", "", f"[bold]{registry.PHASES[current]}[/]", "", "", "", "")
        status, result, verdict = result_cells(project, record)
        style = "green" if status == "implemented" else "dim"
        table.add_row(project.id, project.slug, project.title, f"[{style}]{status}[/]", result,
                      project.target_text, verdict)
    out.print(table)


@app.command()
def info(project: str = typer.Argument(..., help="Project id (4.3.1) or slug (vae-mnist).")) -> None:
    """What a project does, its data, metric, reference number, and its settings per preset."""
    p = registry.get(project)
    out.print(f"[bold]{p.id} {p.slug}[/] — {p.title}")
    out.print(f"Phase {p.phase}: {registry.PHASES[p.phase]}, step {p.step}")
    out.print(f"Roadmap: {p.roadmap}")
    out.print(f"Data: {', '.join(p.datasets) or '(generated)'}")
    out.print(f"Target: {p.target_text}" + (f"  [metric {p.target.metric} {p.target.op} {p.target.value}]"
                                            if p.target else ""), markup=False)
    out.print(f"Reference: {p.reference} — {p.source}")
    for c in p.challenges:
        out.print(f"Challenge ({c.name}): {c.target_text}  [metric {c.target.metric} {c.target.op} "
                  f"{c.target.value}]; reference: {c.reference} — {c.source}", markup=False)
    if not p.implemented:
        out.print("[dim]Status: planned (no runner yet).[/]")
        return
    module = p.load()
    if module.__doc__:
        out.print("\n" + module.__doc__.strip() + "\n", markup=False)  # docstrings show [..] literally
    table = Table(title="settings (--set key=value)", header_style="bold")
    for col in ("key", "smoke", "cpu (default)", "full", "valid", "help"):
        table.add_column(col, overflow="fold")
    helps = config_mod.field_help(module.Config)
    per_preset = {name: config_mod.to_dict(config_mod.build_config(module.Config, module.PRESETS, name, []))
                  for name in config_mod.PRESETS}
    for f in dataclasses.fields(module.Config):
        vals = [per_preset[n][f.name] for n in config_mod.PRESETS]
        valid = config_mod.field_range(module.Config, f.name)
        table.add_row(f.name, *(repr(v) for v in vals), valid, helps[f.name])
    out.print(table)
    options_cls = getattr(module, "SampleOptions", None)
    if options_cls is not None:
        table = Table(title=f"roadmap sample {p.id} [INPUT]... --set key=value", header_style="bold")
        for col in ("key", "default", "valid", "help"):
            table.add_column(col, overflow="fold")
        defaults = config_mod.to_dict(options_cls())
        for f in dataclasses.fields(options_cls):
            table.add_row(f.name, repr(defaults[f.name]), config_mod.field_range(options_cls, f.name),
                          f.metadata.get("help", ""))
        out.print(table)


@app.command()
def run(
    project: str = typer.Argument(..., help="Project id (4.3.1) or slug (vae-mnist).", metavar="ID|SLUG"),
    preset: str = typer.Option("cpu", metavar="PRESET",
                               help="smoke (seconds, CI) | cpu (default: real data, minutes) | full (GPU)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Override a setting: --set key=value (repeatable)."),
    seed: int = typer.Option(0, metavar="N", help="Seed for python / NumPy / torch; same seed, same metrics on CPU."),
    out_dir: Path | None = typer.Option(None, "--out", help="Runs folder (default ./runs or $ROADMAP_RUNS_DIR)."),
    resume: Path | None = typer.Option(None, help="Continue an interrupted run from its folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Run a project: train, evaluate, write a run folder (config, metrics, env, plots, log)."""
    from .report import format_value
    from .runs import execute, follower_rank, own_dataset, read_record

    p = registry.get(project)
    if not p.implemented:
        raise UserError(f"project {p.id} ({p.slug}) is planned, not implemented yet")
    run_dir, metrics = execute(p, preset=preset, overrides=set_, seed=seed, out=out_dir, resume=resume, quiet=quiet)
    if follower_rank():
        return  # an extra process of a multi-GPU launch: rank 0 reports
    saved = read_record(run_dir / "config.json") or {}  # a resumed run keeps its own preset and dataset
    if not quiet:
        table = Table(title=f"{p.id} {p.slug} ({saved.get('preset', preset)})", header_style="bold")
        table.add_column("metric")
        table.add_column("value")
        for key, value in metrics.items():
            if not isinstance(value, (dict, list)):
                table.add_row(key, format_value(value))
        out.print(table)
        dataset = saved.get("dataset", own_dataset(p))
        goal = p.attempted(saved.get("config", {}))  # a challenge's run is judged on the challenge's target
        if goal.target and dataset != own_dataset(p):
            out.print(f"dataset {dataset}: the target and reference apply to {own_dataset(p)} only", highlight=False)
        elif goal.target and saved.get("preset") == "smoke":
            out.print(f"smoke preset: a tiny slice, not judged against the target ({goal.target.text})")
        elif goal.target:
            met = goal.target.met(metrics)
            word = "[green]met[/]" if met else "[red]not met[/]" if met is False else "n/a"
            name = f"{goal.challenge} " if goal.challenge else ""
            out.print(f"{name}target ({goal.target.text}): {word}; reference: {goal.reference} ({goal.source})")
    out.print(f"run folder: {run_dir}", highlight=False)


@app.command()
def sample(
    project: str = typer.Argument(..., help="Project id (3.3.2) or slug (transformer-en-fr).", metavar="ID|SLUG"),
    inputs: list[str] = typer.Argument(None, metavar="[INPUT]...",
                                       help="Text to use: a prompt, a sentence to classify or translate, a word..."),
    file: Path | None = typer.Option(None, "--file", help="A UTF-8 file of inputs, one per line."),
    run_dir: Path | None = typer.Option(None, "--run", help="The run folder whose model to use (default: the "
                                        "latest finished run, as `roadmap results` shows it)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="A sampling setting (temperature, beam, digit ...): see `roadmap info ID`."),
    n: int | None = typer.Option(None, "--n", metavar="N", help="How many samples, where the project takes a count."),
    out_dir: Path | None = typer.Option(None, "--out", help="Runs folder to look in (default ./runs)."),
    to: Path | None = typer.Option(None, "--to", help="Folder for files written (default RUN/samples)."),
) -> None:
    """Use a trained model: generate text, classify or translate sentences, find nearest words, draw samples."""
    from .trained import load, read_inputs, render

    trained = load(project, run=run_dir, runs_dir=out_dir)
    texts = list(inputs or []) + (read_inputs(file) if file is not None else [])
    settings = list(set_) + ([f"n={n}"] if n is not None else [])
    err.print(f"using {trained.describe()}", highlight=False)
    for result in trained.run(texts, settings, to):
        out.print(render(result), markup=False, highlight=False, soft_wrap=True)


@app.command()
def chat(
    project: str = typer.Argument("5.1.2", help="A chat project: 5.1.2 (grounded chat) or 5.2.1 (support bot).",
                                  metavar="ID|SLUG"),
    run_dir: Path | None = typer.Option(None, "--run", help="The run folder whose bot to use (default: latest)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="The project's sample settings."),
    out_dir: Path | None = typer.Option(None, "--out", help="Runs folder to look in (default ./runs)."),
) -> None:
    """Talk to a trained chatbot, one message per line (the conversation is remembered); an empty line or Ctrl-D
    ends it."""
    from .trained import load, render

    trained = load(project, run=run_dir, runs_dir=out_dir)
    err.print(f"using {trained.describe()}; an empty line ends the chat", highlight=False)
    while True:
        try:
            line = input("you> ").strip() if sys.stdin.isatty() else sys.stdin.readline()
        except EOFError:
            break
        if not line or not line.strip():
            break
        try:
            for result in trained.run([line.strip()], list(set_)):
                out.print(_chat_text(result) if isinstance(result, dict) else render(result), markup=False,
                          highlight=False, soft_wrap=True)
        except UserError as exc:  # a bad message ends nothing: say why and go on
            err.print(f"error: {exc}", highlight=False)


def _chat_text(result: dict) -> str:
    """A bot's reply as a person reads it: the answer, how the question was understood, the sources."""
    reply = result.get("answer") or result.get("reply") or ""
    lines = [f"bot> {reply}"]
    if result.get("standalone") and result["standalone"] != result.get("question"):
        lines.insert(0, f"(searching: {result['standalone']})")
    if "intent" in result:
        lines.append(f"  intent {result['intent']} (p={result['confidence']})")
    lines += [f"  {s}" for s in result.get("sources", [])]
    return "\n".join(lines)


@app.command()
def ask(
    question: list[str] = typer.Argument(..., help="The question (quotes optional)."),
    run_dir: Path | None = typer.Option(None, "--run", help="A 5.2.2 run folder (default: the latest)."),
    short: bool = typer.Option(False, "--short", help="Only the extractive short answer (no generation)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Runs folder to look in (default ./runs)."),
) -> None:
    """Answer a question from the index and models of the latest open-domain QA run (5.2.2)."""
    from .trained import load

    trained = load("5.2.2", run=run_dir, runs_dir=out_dir)
    result = trained.run([" ".join(question)], {"generate": not short})[0]
    out.print(f"answer: {result['answer']}", markup=False, highlight=False)
    if result["detailed"]:
        out.print(result["detailed"], markup=False, highlight=False, soft_wrap=True)
    for source in result["sources"]:
        out.print(f"  {source}", markup=False, highlight=False)
    err.print("ms per stage: " + ", ".join(f"{k} {v}" for k, v in result["ms"].items()), highlight=False)


@app.command()
def results(out_dir: Path | None = typer.Option(None, "--out", help="Runs folder (default ./runs)."),
            markdown: Path | None = typer.Option(None, "--markdown", metavar="FILE",
                                                 help="Write RESULTS.md here (default: in the runs folder)."),
            merge: bool = typer.Option(False, "--merge", help="Keep the rows of the existing file for projects "
                                       "without a run in this runs folder (results gathered on other days or "
                                       "machines); rows of projects run here are replaced.")) -> None:
    """The ledger: latest run per project beside its reference; writes RESULTS.md, generated from the run folders."""
    from .report import command, headline, write_results
    from .runs import default_runs_dir, ledger

    root = out_dir or default_runs_dir()
    table = Table(header_style="bold")
    for col in ("id", "slug", "dataset", "preset", "result", "target", "met", "reference", "command"):
        table.add_column(col, overflow="fold")
    for project, record in ledger(root) if root.is_dir() else []:
        if record is None:
            continue
        met = record.target_met
        name = f"{project.slug} ({project.challenge})" if project.challenge else project.slug
        table.add_row(project.id, name, record.dataset, record.preset, headline(project, record),
                      project.target_text if record.own_data else "n/a",
                      "" if met is None else "[green]met[/]" if met else "[red]not met[/]",
                      f"{project.reference} ({project.source})" if record.own_data else "n/a",
                      command(project, record))
    if not table.row_count:
        out.print(f"no completed runs in {root} yet: try `roadmap run 1.2.2`", highlight=False)
        return  # nothing to write, and no stray runs folder
    out.print(table)
    out.print(f"wrote {write_results(root, markdown, merge)}", highlight=False)


@app.command("runs")
def runs_of(project: str = typer.Argument(..., help="Project id (4.3.1) or slug (vae-mnist).", metavar="ID|SLUG"),
            out_dir: Path | None = typer.Option(None, "--out", help="Runs folder (default ./runs).")) -> None:
    """Every run folder of one project with its status: done, failed, running, or interrupted (killed)."""
    from .runs import default_runs_dir, read_record, run_status

    p = registry.get(project)
    folder = (out_dir or default_runs_dir()) / f"{p.id}-{p.slug}"
    table = Table(header_style="bold")
    for col in ("run folder", "preset", "seed", "status"):
        table.add_column(col, overflow="fold")
    for run_dir in sorted(folder.glob("*/")) if folder.is_dir() else []:
        record = read_record(run_dir / "config.json") or {}
        table.add_row(str(run_dir), str(record.get("preset", "?")), str(record.get("seed", "?")),
                      run_status(run_dir))
    out.print(table if table.row_count else f"no runs of {p.id} in {folder.parent}", highlight=False)


@app.command()
def report(out_dir: Path | None = typer.Option(None, "--out", help="Runs folder.")) -> None:
    """A static HTML page with every latest run's metrics and plots."""
    from .report import write_html
    from .runs import default_runs_dir

    root = out_dir or default_runs_dir()
    if not root.is_dir():
        out.print(f"no runs in {root} yet: try `roadmap run 1.2.2`", highlight=False)
        return  # no stray runs folder
    out.print(f"wrote {write_html(root)}", highlight=False)


@app.command()
def demo(out_dir: Path | None = typer.Option(None, "--out", help="Runs folder (default ./runs).")) -> None:
    """A short tour of the implemented projects on real data, then the ledger and the HTML report."""
    from .demo import run_tour
    from .report import write_html, write_results

    failures = run_tour(out_dir, out.print)
    out.print(f"ledger: {write_results(out_dir)}   report: {write_html(out_dir)}")
    out.print("next: `roadmap list`, `roadmap info 1.2.2`, `roadmap run 2.1.2`")
    if failures:
        raise typer.Exit(1)


@data_app.command("list")
def data_list() -> None:
    """Every registered dataset, whether it is present, and its licence."""
    from .data import DATASETS
    from .data.store import find_file

    table = Table(header_style="bold")
    for col in ("name", "title", "variants", "present", "licence"):
        table.add_column(col, overflow="fold")
    for ds in DATASETS.values():
        if ds.builtin:
            present = "in scikit-learn"
        else:
            present = ", ".join(v.name for v in ds.variants if all(_safe_find(find_file, ds, f) for f in v.files))
        table.add_row(ds.name, ds.title, ", ".join(v.name for v in ds.variants) or "-", present or "[red]no[/]",
                      ds.licence)
    out.print(table)


def _safe_find(find_file, ds, f):
    try:
        return find_file(ds, f)
    except UserError:
        return None


@data_app.command("verify")
def data_verify(name: str | None = typer.Argument(None, help="Dataset name; all when omitted.")) -> None:
    """Check every present file's size and sha256 against the registry."""
    from .data import DATASETS, verify_dataset

    bad = False
    for ds_name in [name] if name else [d.name for d in DATASETS.values() if not d.builtin]:
        for file, status, detail in verify_dataset(ds_name):
            bad |= status == "bad"
            colour = {"ok": "green", "missing": "yellow", "bad": "red"}[status]
            out.print(f"{ds_name:22} {file:50} [{colour}]{status}[/] {detail}", highlight=False)
    if bad:
        raise typer.Exit(1)


@data_app.command("fetch")
def data_fetch(name: str = typer.Argument(..., help="Dataset name.")) -> None:
    """Make a dataset available: found in the mirror or cache, else downloaded and checksummed."""
    from .data import resolve_variant

    variant, paths = resolve_variant(name)
    out.print(f"{name}: variant {variant.name}")
    for path in paths.values():
        out.print(f"  {path}")


@data_app.command("path")
def data_path(name: str = typer.Argument(..., help="Dataset name.")) -> None:
    """Print the folder holding a dataset's files (fetching them when needed)."""
    from .data import resolve_variant

    _, paths = resolve_variant(name)
    out.print(str(next(iter(paths.values())).parent), highlight=False)


@serve_app.command("tf-digits")
def serve_tf_digits(
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Folder holding <name>/<version>/saved_model.pb "
                                          "(default: the export/ folder of the latest 2.2.2 run)."),
    port: int = typer.Option(8501, help="Port to listen on (TF Serving's REST port is 8501)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 = every interface)."),
    name: str = typer.Option("digits", "--model-name", help="Model name in the URLs: /v1/models/<name>."),
    out_dir: Path | None = typer.Option(None, "--out", help="Runs folder searched for the latest 2.2.2 run."),
    max_body_mb: float = typer.Option(32.0, "--max-body-mb", min=0.001, help="Largest request body accepted (MiB); "
                                      "larger ones get 413. 32 MiB is ~1,800 digit images."),
    body_timeout: float = typer.Option(30.0, "--body-timeout", min=0.1, help="Seconds a request body may take to "
                                       "arrive; a slower one gets 408."),
) -> None:
    """Serve the 2.2.2 digit classifier over TensorFlow Serving's REST API (FastAPI on uvicorn) until Ctrl-C."""
    from .serving.tf_rest import latest_export_dir, serve

    serve(model_dir or latest_export_dir(out_dir), name, host, port,
          say=lambda line: out.print(line, markup=False, highlight=False),
          max_body_bytes=int(max_body_mb * 2**20), body_timeout_s=body_timeout)


@app.command()
def predict(
    files: list[Path] = typer.Argument(..., metavar="FILE",
                                       help="PNG/JPG images or .npy arrays ([28,28], [N,28,28], uint8 or 0-1)."),
    url: str = typer.Option("http://127.0.0.1:8501", help="Server base URL: `roadmap serve` or a real TF Serving."),
    model: str = typer.Option("digits", help="Model name on the server."),
) -> None:
    """Send digit images to a TF-Serving-style server; print each predicted digit and its probability."""
    from .serving.client import predict_files

    for line in predict_files(files, url, model):
        out.print(line, markup=False, highlight=False)


@index_app.command("build")
def index_build(
    docs: Path = typer.Argument(..., metavar="DIR", help="Folder of .txt / .md / .jsonl documents (recursively)."),
    index_out: Path | None = typer.Option(None, "--out", metavar="INDEX",
                                          help="Index folder (default DIR/.roadmap_index)."),
    encoder: str = typer.Option("sentence-transformers/all-MiniLM-L6-v2", help="Bi-encoder by hub name "
                                "(e.g. facebook/dpr-question_encoder-single-nq-base when online)."),
    no_dense: bool = typer.Option(False, "--no-dense", help="BM25 only: no embedding (fast on any corpus)."),
) -> None:
    """Cut the documents into ~100-word passages and build a BM25 + dense index (manifest written last)."""
    from .retrieval.corpus import corpus_from_folder
    from .retrieval.index import build_index, default_index_path

    corpus = corpus_from_folder(docs)
    target = index_out or default_index_path(docs)
    say = lambda line: err.print(line, markup=False, highlight=False)  # noqa: E731
    say(f"{len(corpus):,} passages from {corpus.notes['files']} files"
        + (f" ({corpus.notes['skipped_files']} other files skipped)" if corpus.notes["skipped_files"] else ""))
    manifest = build_index(corpus, target, None if no_dense else encoder, say=say)
    out.print(f"index of {manifest['passages']:,} passages written to {target} "
              f"({', '.join(f'{k} {v}' for k, v in manifest['times'].items())})", markup=False, highlight=False)


@index_app.command("search")
def index_search(
    index_path: Path = typer.Argument(..., metavar="INDEX", help="An index folder made by `roadmap index build`."),
    question: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "-k", min=1, max=100, help="How many passages to show."),
    kind: str = typer.Option("hybrid", help="Retriever: bm25, dense or hybrid (reciprocal-rank fusion; bm25 when "
                             "the index has no dense vectors)."),
) -> None:
    """Print the top passages of an index for a question."""
    from .retrieval.index import open_index
    from .retrieval.retrievers import check_question

    question = check_question(question)
    index = open_index(index_path)
    if kind == "hybrid" and not index.manifest.get("dense"):
        kind = "bm25"
    for hit in index.retriever(kind).retrieve(question, k):
        out.print(f"[{hit.rank}] {hit.score:.3f}  {hit.title} ({hit.id})\n    {hit.text[:300]}", markup=False,
                  highlight=False)


@index_app.command("info")
def index_info(index_path: Path = typer.Argument(..., metavar="INDEX", help="An index folder.")) -> None:
    """What an index holds: passages, encoder, build times; says so if it is half-built."""
    from .retrieval.index import open_index

    m = open_index(index_path).manifest
    out.print(f"{m['passages']:,} passages of {m['corpus']}, dense: {(m['dense'] or {}).get('encoder', 'none')}, "
              f"built {m['built_at']}, times {m['times']}", markup=False, highlight=False)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv)
    except UserError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except RunFailed as exc:
        err.print(f"run failed: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
