"""Project configs: dataclasses whose fields carry help text and their valid values, presets, and `--set`
overrides that are parsed, type-checked and range-checked before anything is written."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from .errors import UserError

PRESETS = ("smoke", "cpu", "full")


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,  # noqa: A002
          choices: tuple | list | None = None, gt: float | None = None, lt: float | None = None,
          finite: bool = True, resumable: bool = False, **kwargs: Any) -> Any:
    """A Config field with help text and its valid values, shown by `roadmap info` and checked before a run
    folder exists.

    `min` / `max` are inclusive bounds, `gt` / `lt` exclusive ones, `choices` the allowed values; for list fields
    they apply to each item, and None is always allowed for an Optional field. Float fields reject NaN and
    infinity unless `finite=False`. `resumable=True` marks a setting that `--resume DIR --set key=value` may
    change (e.g. more epochs); every other setting is fixed once a run has started.
    """
    meta = {"help": help, "min": min, "max": max, "gt": gt, "lt": lt,
            "choices": tuple(choices) if choices is not None else None, "finite": finite, "resumable": resumable}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kwargs)
    return dataclasses.field(default=default, metadata=meta, **kwargs)


def field_help(cfg_cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cfg_cls)}


def resumable_fields(cfg_cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cfg_cls) if f.metadata.get("resumable")}


def build_config(cfg_cls: type, presets: dict[str, dict], preset: str, overrides: list[str] | dict) -> Any:
    """The Config for `preset` (cpu = the dataclass defaults) with `key=value` overrides applied, every field
    checked against its declared type and range, then the Config's own `check()` for rules across fields."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = dict(presets.get(preset, {}))
    values.update(parse_overrides(cfg_cls, overrides))
    cfg = cfg_cls(**values)
    hints = typing.get_type_hints(cfg_cls)
    for f in dataclasses.fields(cfg_cls):
        check_value(f, hints[f.name], getattr(cfg, f.name))
    if hasattr(cfg, "check"):
        cfg.check()
    return cfg


def parse_overrides(cfg_cls: type, overrides: list[str] | dict) -> dict[str, Any]:
    """`key=value` strings (or a dict, e.g. a saved config.json) as typed values; unknown keys are an error."""
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    known = {f.name for f in dataclasses.fields(cfg_cls)}
    hints = typing.get_type_hints(cfg_cls)
    values = {}
    for key, raw in items:
        if key not in known:
            raise UserError(f"unknown setting {key!r}; known settings: {', '.join(sorted(known))}")
        values[key] = parse_value(raw, hints[key], key) if isinstance(raw, str) else coerce(raw, hints[key], key)
    return values


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects key=value, got {item!r}")
    return key.strip(), value.strip()


def parse_value(raw: str, hint: Any, key: str = "value") -> Any:
    """Parse a command-line string into the field's declared type, or raise a one-line UserError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null", "") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return parse_value(raw, inner[0], key)
    if origin in (list, tuple):
        inner = args[0] if args else str
        parts = [p for p in raw.split(",") if p.strip()]
        parsed = [parse_value(p.strip(), inner, key) for p in parts]
        return parsed if origin is list else tuple(parsed)
    if origin is typing.Literal:
        if raw not in [str(a) for a in args]:
            raise UserError(f"{key} must be one of {', '.join(map(str, args))}, got {raw!r}")
        return next(a for a in args if str(a) == raw)
    try:
        if hint is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if hint is str:
            return raw
    except ValueError:
        raise UserError(f"{key} expects {hint.__name__}, got {raw!r}") from None
    raise UserError(f"{key} cannot be set from the command line (type {hint})")


def coerce(value: Any, hint: Any, key: str) -> Any:
    """A Python value (from the API or a saved config.json) checked against the field's type; ints pass as
    floats, lists as tuples and back. Anything else is a one-line UserError, not a crash deep inside a run."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return coerce(value, next(a for a in args if a is not type(None)), key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{key} expects a list, got {value!r}")
        items = [coerce(v, args[0] if args else Any, key) for v in value]
        return items if origin is list else tuple(items)
    if origin is typing.Literal:
        if value not in args:
            raise UserError(f"{key} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is Any or (isinstance(hint, type) and isinstance(value, hint)
                       and not (hint is int and isinstance(value, bool))):
        return value
    raise UserError(f"{key} expects {getattr(hint, '__name__', hint)}, got {value!r}")


def check_value(f: dataclasses.Field, hint: Any, value: Any) -> None:
    """Raise a one-line UserError when `value` lies outside the field's declared range or choices."""
    if value is None:
        return  # the type allowed it (an Optional field, or a default of None)
    if isinstance(value, (list, tuple)):
        for item in value:
            check_value(f, hint, item)
        return
    meta, key = f.metadata, f.name
    choices = meta.get("choices") or _literal_choices(hint)
    if choices is not None and value not in choices:
        raise UserError(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        if meta.get("finite", True):
            raise UserError(f"{key} must be a finite number, got {value}")
        return
    if not in_range(meta, value):
        raise UserError(f"{key} must be {describe_range(meta)}, got {value}")


def in_range(meta: typing.Mapping, value: float) -> bool:
    return not ((meta.get("min") is not None and value < meta["min"])
                or (meta.get("max") is not None and value > meta["max"])
                or (meta.get("gt") is not None and value <= meta["gt"])
                or (meta.get("lt") is not None and value >= meta["lt"]))


def describe_range(meta: typing.Mapping) -> str:
    """The valid values as a person reads them: '>= 1', '> 0 and < 1', 'one of a, b', '' when unconstrained."""
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    parts = [f"{op} {_num(meta[k])}" for k, op in (("min", ">="), ("gt", ">"), ("max", "<="), ("lt", "<"))
             if meta.get(k) is not None]
    return " and ".join(parts)


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _literal_choices(hint: Any) -> tuple | None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return args
    if origin in (typing.Union, types.UnionType, list, tuple):
        for arg in args:
            found = _literal_choices(arg)
            if found is not None:
                return found
    return None


def field_range(cfg_cls: type, name: str) -> str:
    """What `roadmap info` shows in its 'valid' column for one field."""
    hints = typing.get_type_hints(cfg_cls)
    f = next(f for f in dataclasses.fields(cfg_cls) if f.name == name)
    meta = dict(f.metadata)
    if not meta.get("choices"):
        meta["choices"] = _literal_choices(hints[name])
    text = describe_range(meta)
    if typing.get_origin(hints[name]) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
            hints[name]):
        text = f"{text} or None" if text else "any or None"
    return text + (" (resumable)" if meta.get("resumable") else "")


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)
