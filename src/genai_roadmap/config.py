"""Project configs: dataclasses whose fields carry help text, presets, and type-checked `--set` overrides."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import UserError

PRESETS = ("smoke", "cpu", "full")


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,  # noqa: A002
          choices: tuple | list | None = None, **kwargs: Any) -> Any:
    """A Config field with help text and its valid range (`min` / `max`, inclusive) or `choices`, shown by
    `roadmap info` and checked before a run folder exists. For list fields the range applies to each item."""
    meta = {"help": help, "min": min, "max": max, "choices": tuple(choices) if choices is not None else None}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kwargs)
    return dataclasses.field(default=default, metadata=meta, **kwargs)


def field_help(cfg_cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cfg_cls)}


def build_config(cfg_cls: type, presets: dict[str, dict], preset: str, overrides: list[str] | dict) -> Any:
    """The Config for `preset` (cpu = the dataclass defaults) with `key=value` overrides applied."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = dict(presets.get(preset, {}))
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    known = {f.name: f for f in dataclasses.fields(cfg_cls)}
    hints = typing.get_type_hints(cfg_cls)
    for key, raw in items:
        if key not in known:
            raise UserError(f"unknown setting {key!r}; known settings: {', '.join(sorted(known))}")
        values[key] = parse_value(raw, hints[key], key) if isinstance(raw, str) else raw
    return cfg_cls(**values)


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


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)
