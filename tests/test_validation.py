"""Bad settings, seeds and output folders are one line and exit 2 before any run folder exists, for every
project: the cases of issue 7 by name, then one out-of-range value per declared bound of every Config field."""

import dataclasses
import os
import types
import typing

import pytest

from genai_roadmap import registry
from genai_roadmap.cli import main

IMPLEMENTED = [p for p in registry.PROJECTS if p.implemented]


def bad_values(project) -> list[str]:
    """One `key=value` just outside each declared bound or choice list of the project's Config."""
    module = project.load()
    hints = typing.get_type_hints(module.Config)
    cases = []
    for f in dataclasses.fields(module.Config):
        meta, inner = f.metadata, hints[f.name]
        args = [a for a in typing.get_args(inner) if a is not type(None)]
        base = args[0] if typing.get_origin(inner) in (typing.Union, list, types.UnionType) else inner
        step = 1 if base is int else 1e-3
        if meta.get("min") is not None:
            cases.append(f"{f.name}={_num(meta['min'] - step, base)}")
        if meta.get("gt") is not None:
            cases.append(f"{f.name}={_num(meta['gt'], base)}")
        if meta.get("max") is not None:
            cases.append(f"{f.name}={_num(meta['max'] + step, base)}")
        if meta.get("lt") is not None:
            cases.append(f"{f.name}={_num(meta['lt'], base)}")
        if meta.get("choices"):
            cases.append(f"{f.name}=no-such-choice")
        if base is float and meta.get("finite", True):
            cases.append(f"{f.name}=nan")
    return cases


def _num(x, base):
    return str(int(x)) if base is int else repr(float(x))


CASES = [(p.id, item) for p in IMPLEMENTED for item in bad_values(p)]
ISSUE_CASES = [("2.1.2", f"lr={v}") for v in ("-1", "inf")] + [
    ("2.1.2", s) for s in ("epochs=0", "epochs=-3", "batch_size=0", "batch_size=-5", "dropout=1.5",
                           "label_smoothing=2", "shift=-1", "val_size=999999", "n_train=0", "n_train=-1",
                           "schedule=bogus", "device=tpu")] + [
    ("1.2.2", "max_depth=0"), ("1.2.2", "test_size=1.5"), ("1.3.1", "folds=1")]


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.err


def test_every_numeric_field_declares_a_range():
    """A number with no declared range is how `n_train=0` silently trained on everything."""
    for project in IMPLEMENTED:
        module = project.load()
        hints = typing.get_type_hints(module.Config)
        for f in dataclasses.fields(module.Config):
            kinds = {hints[f.name]} | set(typing.get_args(hints[f.name]))
            if kinds & {int, float} and bool not in kinds and hints[f.name] is not bool:
                declared = [f.metadata.get(k) for k in ("min", "max", "gt", "lt", "choices")]
                assert any(v is not None for v in declared), f"{project.id} {f.name} declares no range"
    assert len(CASES) > 150


@pytest.mark.parametrize("project, item", ISSUE_CASES + CASES)
def test_bad_setting_is_one_line_exit_2_and_no_folder(project, item, capsys, tmp_path):
    out = tmp_path / "runs"
    code, err = run_cli(["run", project, "--preset", "smoke", "--set", item, "--out", str(out)], capsys)
    assert code == 2, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0, err
    assert item.split("=")[0] in err
    assert not out.exists(), "validation must happen before anything is written"


@pytest.mark.parametrize("seed", ["-1", str(2**32), str(2**67)])
def test_bad_seed_is_one_line(seed, capsys, tmp_path):
    code, err = run_cli(["run", "1.2.2", "--seed", seed, "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and "seed must be an integer from 0 to 4294967295" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_output_folder_that_is_a_file_or_under_one(capsys, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out, message in [(afile, "is a file, not a folder"), (afile / "sub", "cannot write to output folder")]:
        code, err = run_cli(["run", "1.2.2", "--out", str(out)], capsys)
        assert code == 2 and message in err and err.count("\n") == 1
    assert afile.read_text() == "x" and sorted(tmp_path.iterdir()) == [afile]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(capsys, tmp_path):
    tmp_path.chmod(0o500)
    try:
        code, err = run_cli(["run", "1.2.2", "--out", str(tmp_path)], capsys)
    finally:
        tmp_path.chmod(0o700)
    assert code == 2 and "cannot write to output folder" in err and list(tmp_path.iterdir()) == []

