"""Run folders survive misuse: non-finite numbers, damaged folders, killed runs, two processes, resume with new
settings, user data beside the built-in dataset, the Python API, a self-contained report, and an empty ledger.
A tiny fake project module stands in for a real one (runs.execute takes `module=`; the CLI finds it through a
patched Project.load)."""

import json
import os
import socket
import subprocess
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest

import genai_roadmap
from genai_roadmap import registry
from genai_roadmap.cli import main
from genai_roadmap.config import param
from genai_roadmap.errors import RunFailed, UserError
from genai_roadmap.report import markdown_table, write_html, write_results
from genai_roadmap.runs import completed_runs, execute, folder_lock, latest_run, run_status

PROJECT = registry.get("1.3.1")  # own dataset: titanic; target cv_acc >= 0.78


@dataclass
class Cfg:
    epochs: int = param(2, "passes", min=1, resumable=True)
    value: float = param(0.8, "metric to report", min=0, max=1)
    csv: str = param("", "a user CSV instead of the built-in data")
    blow_up: bool = param(False, "return NaN / infinite metrics")
    fail: bool = param(False, "raise RunFailed mid-run")


def _run(cfg, ctx):
    from genai_roadmap.viz import curves

    curves(ctx.plots / "loss.png", {"loss": [1.0, 0.5]})
    ctx.log(step=1, loss=float("nan") if cfg.blow_up else 0.5)
    if cfg.fail:
        raise RunFailed("loss became NaN at step 3")
    if cfg.blow_up:
        return {"cv_acc": float("nan"), "loss": np.float32("inf"), "curve": [1.0, float("-inf")]}
    return {"cv_acc": cfg.value, "epochs_seen": cfg.epochs}


FAKE = types.SimpleNamespace(Config=Cfg, PRESETS={"smoke": {"value": 0.5}, "cpu": {}, "full": {}}, run=_run)


@pytest.fixture
def fake_project(monkeypatch, tmp_path):
    """1.3.1 runs the fake module, in tmp_path/runs, from the CLI and the API too."""
    monkeypatch.setattr(registry.Project, "load", lambda self: FAKE)
    monkeypatch.setenv("ROADMAP_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def strict_json(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path.name} holds bare {c}"))


def test_non_finite_metrics_are_written_as_null(tmp_path):
    run_dir, _ = execute(PROJECT, overrides=["blow_up=true"], out=tmp_path, quiet=True, module=FAKE)
    assert strict_json(run_dir / "metrics.json")["cv_acc"] is None
    assert strict_json(run_dir / "metrics.json")["curve"] == [1.0, None]
    assert json.loads((run_dir / "log.jsonl").read_text().splitlines()[0], parse_constant=pytest.fail)["loss"] is None


def test_run_failed_is_marked_failed_with_its_reason_and_exit_1(fake_project, capsys):
    code, _, err = run_cli(["run", "1.3.1", "--set", "fail=true"], capsys)
    assert code == 1 and err.strip() == "run failed: loss became NaN at step 3"
    (run_dir,) = (fake_project / "1.3.1-titanic-eda").iterdir()
    status = strict_json(run_dir / "status.json")
    assert status["status"] == "failed" and status["error"] == "loss became NaN at step 3"
    assert not (run_dir / "metrics.json").exists() and run_status(run_dir) == "failed"


def test_ledger_skips_a_damaged_folder_with_one_warning(fake_project, capsys):
    good, _ = execute(PROJECT, out=fake_project, quiet=True, module=FAKE)
    bad_metrics, _ = execute(PROJECT, out=fake_project, quiet=True, module=FAKE)
    bad_config, _ = execute(PROJECT, out=fake_project, quiet=True, module=FAKE)
    (bad_metrics / "metrics.json").write_text('{"cv_acc": 0.9')  # truncated mid-write by hand
    (bad_config / "config.json").write_bytes(b"\xff\xfe garbage")
    capsys.readouterr()
    warnings = ""
    for command in (["list"], ["results"], ["report"]):
        code, out, err = run_cli(command, capsys)
        assert code == 0, err
        warnings += err
    assert warnings.splitlines() == [
        f"warning: skipping damaged run folder {bad_metrics} (metrics.json is not readable JSON)",
        f"warning: skipping damaged run folder {bad_config} (config.json is not readable JSON)"]
    assert latest_run(PROJECT, fake_project).dir == good


def test_damaged_folder_warning_names_it_once(tmp_path, capsys):
    run_dir, _ = execute(PROJECT, out=tmp_path, quiet=True, module=FAKE)
    (run_dir / "metrics.json").write_text("{")
    assert completed_runs(PROJECT, tmp_path) == [] and completed_runs(PROJECT, tmp_path) == []
    err = capsys.readouterr().err
    assert err == f"warning: skipping damaged run folder {run_dir} (metrics.json is not readable JSON)\n"


def test_killed_run_shows_as_interrupted(tmp_path):
    run_dir, _ = execute(PROJECT, out=tmp_path, quiet=True, module=FAKE)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    status = {"status": "running", "started": "x", "host": socket.gethostname()}
    (run_dir / "status.json").write_text(json.dumps(status | {"pid": dead.pid}))
    assert run_status(run_dir) == "interrupted"
    (run_dir / "status.json").write_text(json.dumps(status | {"pid": os.getpid()}))
    assert run_status(run_dir) == "running"
    (run_dir / "status.json").write_text(json.dumps(status | {"pid": dead.pid, "host": "another-machine"}))
    assert run_status(run_dir) == "running", "a pid on another host says nothing about this one"


def test_running_status_records_pid_and_host(tmp_path):
    seen = {}

    def peek(cfg, ctx):
        seen.update(json.loads((ctx.dir / "status.json").read_text()))
        return {"cv_acc": 0.8}

    execute(PROJECT, out=tmp_path, quiet=True, module=types.SimpleNamespace(Config=Cfg, PRESETS={}, run=peek))
    assert seen["status"] == "running" and seen["pid"] == os.getpid() and seen["host"] == socket.gethostname()


def test_runs_command_lists_interrupted(fake_project, capsys):
    run_dir, _ = execute(PROJECT, out=fake_project, quiet=True, module=FAKE)
    (run_dir / "status.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 12345,
                                                     "host": socket.gethostname()}))
    code, out, _ = run_cli(["runs", "1.3.1"], capsys)
    assert code == 0 and "interrupted" in out


def test_second_process_on_a_locked_folder_is_refused(fake_project, capsys):
    run_dir, _ = execute(PROJECT, out=fake_project, quiet=True, module=FAKE)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; fh = open(sys.argv[1], 'a'); fcntl.flock(fh, fcntl.LOCK_EX); "
        "print('locked', flush=True); time.sleep(60)"), str(run_dir / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = run_cli(["run", "1.3.1", "--resume", str(run_dir)], capsys)
        assert code == 2 and "is in use by another process" in err and err.count("\n") == 1
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run_cli(["run", "1.3.1", "--resume", str(run_dir)], capsys)
    assert code == 0, err


def test_lock_is_held_during_the_run(tmp_path):
    def nested(cfg, ctx):
        with pytest.raises(UserError, match="in use by another process"), folder_lock(ctx.dir):
            pass
        return {"cv_acc": 0.8}

    execute(PROJECT, out=tmp_path, quiet=True, module=types.SimpleNamespace(Config=Cfg, PRESETS={}, run=nested))


def test_resume_applies_resumable_settings_and_refuses_the_rest(tmp_path):
    run_dir, first = execute(PROJECT, out=tmp_path, quiet=True, module=FAKE)
    assert first["epochs_seen"] == 2
    with pytest.raises(UserError, match="has finished; settings change only when resuming an unfinished run"):
        execute(PROJECT, resume=run_dir, overrides=["epochs=5"], quiet=True, module=FAKE)
    (run_dir / "status.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 12345,
                                                     "host": socket.gethostname()}))  # as a killed run leaves it
    _, metrics = execute(PROJECT, resume=run_dir, overrides=["epochs=5"], quiet=True, module=FAKE)
    assert metrics["epochs_seen"] == 5
    saved = strict_json(run_dir / "config.json")
    assert saved["config"]["epochs"] == 5 and saved["resumed"][0]["set"] == {"epochs": 5}
    with pytest.raises(UserError, match=r"^value cannot change on resume \(only epochs can\)$"):
        execute(PROJECT, resume=run_dir, overrides=["value=0.9"], quiet=True, module=FAKE)
    with pytest.raises(UserError, match="epochs must be >= 1"):
        execute(PROJECT, resume=run_dir, overrides=["epochs=0"], quiet=True, module=FAKE)
    assert strict_json(run_dir / "config.json")["config"] == saved["config"], "a refused resume changes nothing"


@pytest.mark.parametrize("content", ["{", "[]", '{"project": "1.3.1", "seed": 0}',
                                     '{"project": "1.3.1", "seed": 0, "config": {}}',
                                     '{"project": "1.3.1", "seed": "x", "preset": "cpu", "config": {}}',
                                     '{"project": "1.3.1", "seed": 0, "preset": "cpu", "config": {"epochs": 0}}'])
def test_resume_with_a_bad_config_json_is_one_line(content, tmp_path):
    run_dir, _ = execute(PROJECT, out=tmp_path, quiet=True, module=FAKE)
    (run_dir / "config.json").write_text(content)
    with pytest.raises(UserError) as exc:
        execute(PROJECT, resume=run_dir, quiet=True, module=FAKE)
    assert "\n" not in str(exc.value)


def test_user_data_run_is_recorded_and_never_replaces_the_built_in_one(tmp_path):
    own, _ = execute(PROJECT, out=tmp_path, quiet=True, module=FAKE)
    user, _ = execute(PROJECT, overrides=["csv=/data/mine.csv", "value=0.99"], out=tmp_path, quiet=True, module=FAKE)
    assert strict_json(user / "config.json")["dataset"] == "csv:/data/mine.csv"
    assert strict_json(own / "config.json")["dataset"] == "titanic"
    assert strict_json(user / "status.json")["target_met"] is None, "Titanic's target does not judge other data"
    record = latest_run(PROJECT, tmp_path)
    assert record.dir == own and record.target_met is True
    user_record = next(r for r in completed_runs(PROJECT, tmp_path) if r.dir == user)
    assert user_record.target_met is None and not user_record.own_data


def test_old_folders_without_a_dataset_field_derive_it(tmp_path):
    run_dir, _ = execute(PROJECT, overrides=["csv=x.csv"], out=tmp_path, quiet=True, module=FAKE)
    record = strict_json(run_dir / "config.json")
    del record["dataset"]
    (run_dir / "config.json").write_text(json.dumps(record))
    (only,) = completed_runs(PROJECT, tmp_path)
    assert only.dataset == "csv:x.csv" and only.target_met is None


def test_module_may_name_its_dataset(tmp_path):
    module = types.SimpleNamespace(**vars(FAKE), dataset_of=lambda cfg: f"titanic-{cfg.epochs}")
    run_dir, _ = execute(PROJECT, out=tmp_path, quiet=True, module=module)
    assert strict_json(run_dir / "config.json")["dataset"] == "titanic-2"


def test_results_md_rebuilds_the_command_and_shows_summaries(fake_project, tmp_path, capsys, monkeypatch):
    execute(PROJECT, preset="smoke", overrides=["value=0.7", "epochs=3"], seed=4, out=fake_project, quiet=True,
            module=FAKE)
    monkeypatch.setattr(FAKE, "summarize", lambda m: f"{m['epochs_seen']} epochs", raising=False)
    table = markdown_table(fake_project)
    row = next(line for line in table.splitlines() if line.startswith("| 1.3.1 "))
    assert "| titanic | smoke | cv_acc = 0.7; 3 epochs |" in row
    assert "`roadmap run 1.3.1 --preset smoke --seed 4 --set epochs=3 --set value=0.7` |" in row
    code, out, _ = run_cli(["results", "--markdown", str(tmp_path / "RESULTS.md")], capsys)
    assert code == 0 and (tmp_path / "RESULTS.md").read_text().count("| 1.3.1 |") == 1
    assert not (fake_project / "RESULTS.md").exists(), "--markdown writes there instead"
    assert write_results(fake_project).name == "RESULTS.md"


def test_results_merge_keeps_rows_of_projects_not_run_here_and_replaces_the_rest(fake_project, tmp_path, capsys):
    execute(PROJECT, out=fake_project, quiet=True, module=FAKE)
    old = tmp_path / "RESULTS.md"
    old.write_text("# Results\n\nMachines: 16 CPU cores (arm64), GPU: none. A wall time includes everything.\n\n"
                   "| id | project | dataset | preset | result | target | met | reference | wall time | command |\n"
                   "|---|---|---|---|---|---|---|---|---|---|\n"
                   "| 1.3.1 | titanic-eda | titanic | cpu | stale | x | met | - | 1 s | `old` |\n"
                   "| 1.2.2 | tree-iris | iris | cpu | test_acc = 0.95 | x | met | - | 2 s | `roadmap run 1.2.2` |\n")
    code, _, _ = run_cli(["results", "--markdown", str(old), "--merge"], capsys)
    text = old.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 1.")]
    assert code == 0 and [r[:7] for r in rows] == ["| 1.2.2", "| 1.3.1"], "roadmap order, one row each"
    assert "test_acc = 0.95" in rows[0] and "stale" not in text, "kept the other project, replaced this one"
    assert "16 CPU cores (arm64)" in text and "carried over" in text
    run_cli(["results", "--markdown", str(old)], capsys)
    assert "| 1.2.2 |" not in old.read_text(), "without --merge the file holds this folder's runs only"


def test_report_is_self_contained_and_links_run_folders(tmp_path):
    run_dir, _ = execute(PROJECT, out=tmp_path / "runs", quiet=True, module=FAKE)
    page = write_html(tmp_path / "runs").read_text()
    assert "data:image/png;base64," in page and "<img src='plots" not in page and ".png'" not in page
    assert f"href='{run_dir.resolve().as_uri()}'" in page


def test_results_with_no_runs_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROADMAP_RUNS_DIR", raising=False)
    code, out, _ = run_cli(["results"], capsys)
    assert code == 0 and "no completed runs" in out and list(tmp_path.iterdir()) == []
    code, out, _ = run_cli(["report"], capsys)
    assert code == 0 and "no runs in runs yet" in out and list(tmp_path.iterdir()) == []
    assert genai_roadmap.results() == [] and list(tmp_path.iterdir()) == []


def test_quiet_run_prints_only_the_run_folder(fake_project, capsys):
    code, out, _ = run_cli(["run", "1.3.1", "-q"], capsys)
    assert code == 0 and out.strip().startswith("run folder: ") and "cv_acc" not in out


def test_python_api(fake_project):
    result = genai_roadmap.run("titanic-eda", preset="smoke", seed=1, csv="mine.csv", value=0.25)
    assert result.metrics["cv_acc"] == 0.25 and result.dir.is_dir()
    assert strict_json(result.dir / "config.json")["config"]["csv"] == "mine.csv"
    with pytest.raises(UserError, match="value must be >= 0 and <= 1, got 2.0"):
        genai_roadmap.run("1.3.1", value=2)
    assert len(list((fake_project / "1.3.1-titanic-eda").iterdir())) == 1, "a rejected call writes nothing"
    (record,) = genai_roadmap.results()
    assert record.dir == result.dir and record.dataset == "csv:mine.csv"
