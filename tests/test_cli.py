"""The `roadmap` command: lists 42 projects, user mistakes exit 2 with one line."""

import pytest

from genai_roadmap import registry
from genai_roadmap.cli import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_registry_has_42_unique_projects():
    assert len(registry.PROJECTS) == 42
    assert len({p.id for p in registry.PROJECTS}) == 42 and len({p.slug for p in registry.PROJECTS}) == 42
    assert {p.phase for p in registry.PROJECTS} == set(range(1, 9))


def test_every_implemented_project_follows_the_contract():
    for project in registry.PROJECTS:
        if project.implemented:
            module = project.load()
            assert module.__doc__ and callable(module.run), project.id
            assert set(module.PRESETS) == {"smoke", "cpu", "full"}, project.id
            assert module.PRESETS["cpu"] == {}, f"{project.id}: the Config defaults are the cpu preset"


def test_list_shows_all_42(capsys):
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0
    assert all(p.id in out for p in registry.PROJECTS)
    assert "planned" in out and "implemented" in out


@pytest.mark.parametrize("args, message", [
    (["info", "9.9.9"], "unknown project '9.9.9'"),
    (["run", "no-such-slug"], "unknown project 'no-such-slug'"),
    (["run", "1.2.2", "--set", "nope=1"], "unknown setting 'nope'"),
    (["run", "1.2.2", "--set", "max_depth=deep"], "max_depth expects int"),
    (["run", "8.1.2"], "planned, not implemented yet"),
    (["data", "path", "nosuch"], "unknown dataset 'nosuch'"),
])
def test_user_mistakes_exit_2_with_one_line(args, message, capsys, tmp_path):
    code, _, err = run_cli(args + (["--out", str(tmp_path)] if args[0] == "run" else []), capsys)
    assert code == 2
    assert message in err and err.strip().count("\n") == 0


def test_info_shows_settings_per_preset(capsys):
    code, out, _ = run_cli(["info", "tree-iris"], capsys)
    assert code == 0 and "smoke" in out and "max_depth" in out and "Reference" in out


def test_info_shows_each_settings_valid_values(capsys):
    code, out, _ = run_cli(["info", "tree-iris"], capsys)
    assert code == 0 and "valid" in out
    assert "> 0 and < 1" in out and "one of gini, entropy" in out and ">= 1 or None" in out
