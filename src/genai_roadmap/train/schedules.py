"""Learning-rate schedules as pure functions of the step: `lr = base_lr * lr_factor(kind, step, total, ...)`.

Stateless on purpose: the factor depends only on the global step, so an exactly resumed run needs nothing but the
step count (no scheduler object to checkpoint), and custom training steps with several optimizers share one rule.
"""

from __future__ import annotations

import math

from ..errors import UserError

SCHEDULES = ("cosine", "onecycle", "linear", "step", "none")


def warmup_steps(warmup: float, total: int) -> int:
    """`warmup` < 1 is a fraction of all steps, ≥ 1 a step count."""
    if warmup < 0:
        raise UserError(f"warmup must be >= 0, got {warmup}")
    return int(round(warmup * total)) if warmup < 1 else int(warmup)


def lr_factor(kind: str, step: int, total: int, warmup: int = 0, final: float = 0.0, step_every: int = 0,
              gamma: float = 0.1) -> float:
    """Multiplier of the base learning rate before optimizer step `step` (0-based) of `total`.

    cosine:   linear warmup, then half a cosine from 1 down to `final`.
    onecycle / linear: linear warmup, then a straight line down to `final` (airbench's triangle; the usual
              one-cycle shape without the momentum cycling).
    step:     linear warmup, then ×gamma every `step_every` steps.
    none:     linear warmup, then constant.
    """
    if kind not in SCHEDULES:
        raise UserError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup and step < warmup:
        return (step + 1) / warmup  # never exactly 0: the first step already moves the weights
    if kind == "none":
        return 1.0
    if kind == "step":
        return gamma ** ((step - warmup) // step_every) if step_every > 0 else 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "cosine":
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))
    return final + (1 - final) * (1 - progress)
