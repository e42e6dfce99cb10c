"""Callbacks: small objects the engine calls at fixed points; their state is checkpointed with the run.

A callback overrides any of `on_fit_start`, `on_step_end`, `on_epoch_end`, `on_fit_end`. Setting
`trainer.stop = True` ends training after the current epoch. A callback with state that must survive a
resume (early stopping's best value, a sampler's fixed noise) implements `state_dict` / `load_state_dict`
with tensors, numbers, strings, lists and dicts — the engine stores them in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .engine import Trainer


class Callback:
    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EarlyStopping(Callback):
    """Stop when `monitor` (a key of the epoch record, e.g. "val_acc") has not improved for `patience` epochs.

    With `restore_best`, the best epoch's weights are kept (on CPU) and put back into the model at the end.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 5, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError("mode must be 'min' or 'max'")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.restore_best = restore_best
        self.best: float | None = None
        self.best_epoch = -1
        self.bad_epochs = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.monitor not in record:
            return  # no validation this epoch
        value = float(record[self.monitor])
        if self._better(value):
            self.best, self.best_epoch, self.bad_epochs = value, record["epoch"], 0
            if self.restore_best:
                self.best_weights = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.say(f"early stopping: {self.monitor} best {self.best:.4f} at epoch {self.best_epoch}")
                trainer.stop = True

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]
        self.best_weights = state["best_weights"]


class EveryEpochs(Callback):
    """Call `fn(trainer, epoch)` every `every` epochs and after the last one (sample grids, GIF frames)."""

    def __init__(self, fn: Callable[[Trainer, int], None], every: int = 1) -> None:
        self.fn, self.every = fn, every

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        epoch = record["epoch"]
        if epoch % self.every == 0 or epoch == trainer.epochs:
            self.fn(trainer, epoch)
