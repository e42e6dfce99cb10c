"""Config building: presets, type-checked --set overrides, one-line errors."""

from dataclasses import dataclass
from typing import Literal

import pytest

from genai_roadmap.config import build_config, field_help, field_range, param, parse_value, resumable_fields
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


@dataclass
class Ranged:
    epochs: int = param(3, "passes", min=1, resumable=True)
    lr: float = param(0.1, "step", gt=0)
    dropout: float = param(0.2, "drop rate", min=0, lt=1)
    widths: list[int] = param([8, 16], "widths", min=1)
    n_train: int | None = param(None, "cap", min=2, max=100)
    device: str = param("auto", "where", choices=("auto", "cpu"))
    scale: float = param(1.0, "may be infinite", finite=False)
    val_size: int = param(5, "held out", min=1)

    def check(self):
        if self.val_size >= (self.n_train or 100):
            raise UserError(f"val_size ({self.val_size}) must be smaller than n_train ({self.n_train or 100})")


@pytest.mark.parametrize("item, message", [
    ("epochs=0", "epochs must be >= 1, got 0"),
    ("epochs=-3", "epochs must be >= 1, got -3"),
    ("lr=0", "lr must be > 0, got 0.0"),
    ("lr=-1", "lr must be > 0, got -1.0"),
    ("lr=inf", "lr must be a finite number, got inf"),
    ("lr=nan", "lr must be a finite number, got nan"),
    ("dropout=1", "dropout must be >= 0 and < 1, got 1.0"),
    ("widths=8,0", "widths must be >= 1, got 0"),
    ("n_train=1", "n_train must be >= 2 and <= 100, got 1"),
    ("n_train=101", "n_train must be >= 2 and <= 100, got 101"),
    ("device=tpu", "device must be one of auto, cpu, got 'tpu'"),
    ("val_size=100", "val_size (100) must be smaller than n_train (100)"),
])
def test_values_outside_the_declared_range_are_one_line(item, message):
    with pytest.raises(UserError) as exc:
        build_config(Ranged, PRESETS, "cpu", [item])
    assert str(exc.value) == message


def test_values_inside_the_range_pass():
    cfg = build_config(Ranged, PRESETS, "cpu", ["epochs=1", "dropout=0", "n_train=none", "widths=1", "scale=inf",
                                                "n_train=100", "val_size=99"])
    assert (cfg.epochs, cfg.dropout, cfg.n_train, cfg.widths, cfg.scale) == (1, 0.0, 100, [1], float("inf"))


def test_python_values_are_type_and_range_checked():
    # the path of the Python API and of a saved config.json on resume
    assert build_config(Ranged, PRESETS, "cpu", {"lr": 1, "widths": (4,)}).lr == 1.0
    for bad, message in [({"epochs": 2.5}, "epochs expects int"), ({"epochs": True}, "epochs expects int"),
                         ({"widths": 4}, "widths expects a list"), ({"epochs": 0}, "epochs must be >= 1")]:
        with pytest.raises(UserError, match=message):
            build_config(Ranged, PRESETS, "cpu", bad)
    with pytest.raises(UserError, match="optim must be one of sgd, adam"):
        build_config(Cfg, PRESETS, "cpu", {"optim": "rmsprop"})


def test_valid_values_are_described_for_info():
    assert field_range(Ranged, "epochs") == ">= 1 (resumable)"
    assert field_range(Ranged, "dropout") == ">= 0 and < 1"
    assert field_range(Ranged, "n_train") == ">= 2 and <= 100 or None"
    assert field_range(Ranged, "device") == "one of auto, cpu"
    assert field_range(Cfg, "optim") == "one of sgd, adam"
    assert resumable_fields(Ranged) == {"epochs"}
