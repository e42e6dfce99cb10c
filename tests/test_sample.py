"""`roadmap sample` / genai_roadmap.load: a trained model used from its run folder, from Python and the command
line, with one clear error for every way the run, the inputs or the settings can be wrong."""

from __future__ import annotations

import json
import shutil

import pytest
from test_text_preprocessing import _user_csv, run

import genai_roadmap as gr
from genai_roadmap import cli
from genai_roadmap.errors import UserError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3.1.1 run on a two-topic CSV (finance vs weather): seconds, no dataset needed."""
    root = tmp_path_factory.mktemp("runs")
    run_dir, metrics = run(root, csv=str(_user_csv(root)), text_col="message", label_col="topic",
                           embeddings="none", variants=["stems"], C_grid=[10.0])
    return root, run_dir, metrics


def test_load_uses_the_latest_run_and_classifies_like_the_run(trained):
    root, run_dir, metrics = trained
    model = gr.load("3.1.1", runs_dir=root)
    assert model.run_dir == run_dir and model.config.variants == ["stems"]
    out = model.sample("Storm winds and heavy rain showers in the forecast", "Investors sold shares as rates rose",
                       top=2)
    assert [r["label"] for r in out] == ["weather", "finance"]
    assert all(0.5 < r["probability"] <= 1 and set(r["top"]) == {"finance", "weather"} for r in out)
    # the saved pipeline is the run's: stems reach the vocabulary ("showers" and "shower" are one term)
    assert model.model.tokenise("Showers") == model.model.tokenise("shower")


def test_cli_reads_a_file_and_prints_one_json_line_per_input(trained, tmp_path, capsys):
    root, run_dir, _ = trained
    inputs = tmp_path / "in.txt"
    inputs.write_text("Sunny and cloudy with snow later\n\n  Bank profits and the economy  \n")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sample", "3.1.1", "--file", str(inputs), "--run", str(run_dir)])
    assert exit_.value.code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in lines] == ["weather", "finance"] and lines[1]["text"] == "Bank profits and the economy"


@pytest.mark.parametrize("args, message", [
    (["1.1.1", "x"], "does not leave a model to sample from"),
    (["3.1.1", "x", "--set", "top=0"], "top"),
    (["3.1.1", "x", "--set", "beam=4"], "unknown setting 'beam'"),
    (["3.1.1"], "give the text to classify"),
    (["3.1.1", "--file", "/nonexistent/in.txt"], "does not exist"),
])
def test_bad_requests_are_one_line(trained, args, message, capsys):
    root, _, _ = trained
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sample", *args, "--out", str(root)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_runs_that_cannot_be_used_are_refused(trained, tmp_path):
    _, run_dir, _ = trained
    with pytest.raises(UserError, match="no finished run of 3.1.1"):
        gr.load("3.1.1", runs_dir=tmp_path)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run_dir, unfinished)
    record = json.loads((run_dir / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps(record | {"project": "1.2.2"}))
    with pytest.raises(UserError, match="is a run of project 1.2.2, not 3.1.1"):
        gr.load("3.1.1", run=unfinished)
    (unfinished / "config.json").write_text(json.dumps(record))
    (unfinished / "metrics.json").unlink()
    with pytest.raises(UserError, match="has not finished"):
        gr.load("3.1.1", run=unfinished)
    (unfinished / "metrics.json").write_text("{}")
    shutil.rmtree(unfinished / "model")
    with pytest.raises(UserError, match="lacks the trained model's files"):
        gr.load("3.1.1", run=unfinished)
