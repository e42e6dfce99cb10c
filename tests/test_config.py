"""Config building: presets, type-checked --set overrides, one-line errors."""

from dataclasses import dataclass
from typing import Literal

import pytest

from genai_roadmap.config import build_config, field_help, param, parse_value
from genai_roadmap.errors import UserError


@dataclass
class Cfg:
    epochs: int = param(10, "passes over the data")
    lr: float = param(0.1, "learning rate")
    name: str = param("mnist", "dataset")
    flip: bool = param(True, "augment")
    widths: list[int] = param([64, 128], "layer widths")
    optim: Literal["sgd", "adam"] = param("sgd", "optimizer")
    limit: int | None = param(None, "cap on examples")


PRESETS = {"smoke": {"epochs": 1}, "cpu": {}, "full": {"epochs": 100}}


def test_presets_and_defaults():
    assert build_config(Cfg, PRESETS, "cpu", []).epochs == 10
    assert build_config(Cfg, PRESETS, "smoke", []).epochs == 1
    assert build_config(Cfg, PRESETS, "full", []).epochs == 100


def test_overrides_are_typed():
    cfg = build_config(Cfg, PRESETS, "smoke", ["epochs=3", "lr=1e-3", "flip=no", "widths=8,16,32",
                                               "optim=adam", "limit=none", "name=digits"])
    assert (cfg.epochs, cfg.lr, cfg.flip, cfg.widths, cfg.optim, cfg.limit, cfg.name) == (
        3, 1e-3, False, [8, 16, 32], "adam", None, "digits")
    assert build_config(Cfg, PRESETS, "cpu", ["limit=5"]).limit == 5


@pytest.mark.parametrize("item, message", [
    ("epochs=ten", "epochs expects int, got 'ten'"),
    ("colour=red", "unknown setting 'colour'"),
    ("optim=rmsprop", "optim must be one of sgd, adam"),
    ("flip=maybe", "flip expects bool"),
    ("novalue", "--set expects key=value"),
])
def test_bad_overrides_are_one_clear_line(item, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        build_config(Cfg, PRESETS, "cpu", [item])
    assert "\n" not in str(exc.value)


def test_unknown_preset():
    with pytest.raises(UserError, match="unknown preset 'huge'"):
        build_config(Cfg, PRESETS, "huge", [])


def test_help_text_is_carried():
    assert field_help(Cfg)["lr"] == "learning rate"
    assert parse_value("2", float) == 2.0
