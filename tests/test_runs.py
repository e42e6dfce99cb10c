"""Run folders: config/metrics/env written, crashes marked failed without metrics, ledger and report."""

import json
import types
from dataclasses import dataclass

import pytest

from genai_roadmap import registry
from genai_roadmap.config import param
from genai_roadmap.report import markdown_table, write_html
from genai_roadmap.runs import completed_runs, execute, latest_run


@dataclass
class Cfg:
    value: float = param(0.95, "metric to report")
    crash: bool = param(False, "raise mid-run")


def _run(cfg, ctx):
    import numpy as np

    from genai_roadmap.viz import curves

    ctx.log(step=1, loss=0.5)
    curves(ctx.plots / "loss.png", {"loss": [1.0, 0.5]})
    if cfg.crash:
        raise RuntimeError("boom")
    return {"test_acc": cfg.value, "noise": float(np.random.rand())}


FAKE = types.SimpleNamespace(Config=Cfg, PRESETS={"smoke": {"value": 0.5}, "cpu": {}, "full": {}}, run=_run)
PROJECT = registry.get("1.2.2")  # any project with a test_acc >= 0.93 target


def test_run_folder_contents(tmp_path):
    run_dir, metrics = execute(PROJECT, out=tmp_path, seed=3, quiet=True, module=FAKE)
    assert run_dir.parent.name == "1.2.2-tree-iris"
    for name in ("config.json", "metrics.json", "env.json", "status.json", "log.jsonl", "plots/loss.png"):
        assert (run_dir / name).exists(), name
    env = json.loads((run_dir / "env.json").read_text())
    assert env["seed"] == 3 and env["code_hash"] and "numpy" in env["packages"] and env["wall_time_s"] >= 0
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "done" and status["target_met"] is True
    assert metrics["test_acc"] == 0.95


def test_same_seed_same_metrics(tmp_path):
    _, a = execute(PROJECT, out=tmp_path, seed=7, quiet=True, module=FAKE)
    _, b = execute(PROJECT, out=tmp_path, seed=7, quiet=True, module=FAKE)
    _, c = execute(PROJECT, out=tmp_path, seed=8, quiet=True, module=FAKE)
    assert a["noise"] == b["noise"] != c["noise"]


def test_crash_marks_failed_and_leaves_no_metrics(tmp_path):
    with pytest.raises(RuntimeError):
        execute(PROJECT, overrides=["crash=true"], out=tmp_path, quiet=True, module=FAKE)
    (run_dir,) = (tmp_path / "1.2.2-tree-iris").iterdir()
    assert not (run_dir / "metrics.json").exists()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "boom" in status["error"]
    assert completed_runs(PROJECT, tmp_path) == []


def test_ledger_prefers_cpu_over_newer_smoke(tmp_path):
    execute(PROJECT, preset="cpu", out=tmp_path, quiet=True, module=FAKE)
    execute(PROJECT, preset="smoke", out=tmp_path, quiet=True, module=FAKE)
    record = latest_run(PROJECT, tmp_path)
    assert record.preset == "cpu" and record.target_met is True
    smoke = latest_run(PROJECT, tmp_path, prefer=("smoke",))
    assert smoke.preset == "smoke" and smoke.target_met is None, "a smoke slice is not judged against the target"
    table = markdown_table(tmp_path)
    row = next(line for line in table.splitlines() if line.startswith("| 1.2.2 "))
    assert row.startswith(f"| 1.2.2 | tree-iris | iris | cpu | test_acc = 0.95 | {PROJECT.target_text} | met |")
    assert row.endswith("| `roadmap run 1.2.2 --preset cpu --seed 0` |")
    assert table.count("\n") == 3, "one row per project with a run, after the two header lines"
    html = write_html(tmp_path).read_text()
    assert "data:image/png;base64," in html and "1.2.2" in html


def test_a_challenge_run_is_judged_on_the_challenge_and_has_its_own_row(tmp_path):
    """3.2.1's 90-second race (budget_s set): judged on its own target, never hiding the project's cpu row."""
    @dataclass
    class RaceCfg:
        budget_s: float = param(0.0, "time budget")
        loss: float = param(1.5, "the loss it reaches")

    module = types.SimpleNamespace(Config=RaceCfg, PRESETS={"smoke": {}, "cpu": {}, "full": {}},
                                   run=lambda cfg, ctx: {"val_loss": cfg.loss, "val_loss_ctx64": cfg.loss + 0.1})
    project = registry.get("3.2.1")
    race = project.challenges[0]
    execute(project, out=tmp_path, quiet=True, module=module)
    run_dir, _ = execute(project, overrides=["budget_s=90", "loss=1.7"], out=tmp_path, quiet=True, module=module)
    assert json.loads((run_dir / "status.json").read_text())["target_met"] is True, "1.8 < 1.886: the race is won"
    plain, challenge = latest_run(project, tmp_path), latest_run(project, tmp_path, challenge=race.name)
    assert plain.config["budget_s"] == 0 and plain.target_met is True
    assert challenge.dir == run_dir and challenge.project.target == race.target and challenge.target_met is True
    execute(project, overrides=["budget_s=120", "loss=1.7"], out=tmp_path, quiet=True, module=module)
    assert latest_run(project, tmp_path).target_met is False, "a 120-s budget is no race: judged as the project"
    rows = [line for line in markdown_table(tmp_path).splitlines() if line.startswith("| 3.2.1 ")]
    assert len(rows) == 2 and rows[1].startswith(f"| 3.2.1 | lstm-textgen ({race.name}) |")
