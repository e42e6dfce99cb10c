"""Callbacks: small objects the engine calls at fixed points; their state is checkpointed with the run.

A callback overrides any of `on_fit_start`, `on_step_end` (after each update), `on_evaluate` (after each
`eval_every_steps` validation), `on_epoch_end`, `on_fit_end`. Setting
`trainer.stop = True` ends training after the current epoch. A callback with state that must survive a
resume (early stopping's best value, a sampler's fixed noise) implements `state_dict` / `load_state_dict`
with tensors, numbers, strings, lists and dicts — the engine stores them in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .engine import Trainer


class Callback:
    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...

    def on_evaluate(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EarlyStopping(Callback):
    """Stop when `monitor` (a key of the epoch record, e.g. "val_acc") has not improved for `patience` epochs.

    With `restore_best`, the best epoch's weights are put back into the model at the end. They are kept in the
    run's checkpoints folder (<name>-best.safetensors, trainable parameters only when the checkpoints are),
    not as a second full copy in memory and in every checkpoint; without a run folder, in memory on CPU.
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
        self.best_weights: dict[str, torch.Tensor] | None = None  # only when the trainer has no run folder
        self.on_disk = False

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
                self.on_disk = trainer.save_best()
                if not self.on_disk:
                    self.best_weights = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.say(f"early stopping: {self.monitor} best {self.best:.4f} at epoch {self.best_epoch}")
                trainer.stop = True

    def on_fit_end(self, trainer: Trainer) -> None:
        if not self.restore_best:
            return
        if self.on_disk:
            trainer.load_best()
        elif self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "on_disk": self.on_disk, "best_weights": None if self.on_disk else self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]
        self.on_disk = state.get("on_disk", False)
        self.best_weights = state["best_weights"]


class EMA(Callback):
    """An exponential moving average of the trainable weights (generators, diffusion models sample from it):
    after every update, ema = decay * ema + (1 - decay) * weights, kept in float32 on the model's device and
    saved with the checkpoint. `with ema.applied(trainer.model): ...` evaluates or samples with the averaged
    weights and puts the trained ones back; `ema.copy_to(model)` keeps them.

    `warmup` uses decay min(decay, (1 + n) / (10 + n)) at update n, so early averages are not dominated by the
    random initial weights."""

    def __init__(self, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.shadow: dict[str, torch.Tensor] = {}
        self.updates = 0

    def _averaged(self, model: torch.nn.Module) -> torch.nn.Module:
        """The part of the model that is averaged (GeneratorEMA: the generator only)."""
        return model

    def _params(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The trainable weights, and the floating-point buffers: a model sampled with averaged weights needs
        batch-norm running statistics that belong to those weights, not to the last trained ones."""
        module = self._averaged(model)
        return ({n: p for n, p in module.named_parameters() if p.requires_grad}
                | {n: b for n, b in module.named_buffers() if b.is_floating_point()})

    def on_fit_start(self, trainer: Trainer) -> None:
        params = self._params(trainer.model)
        for n, p in params.items():  # all of them on a fresh start; on resume, any a checkpoint lacks
            self.shadow.setdefault(n, p.detach().float().clone())
        self.shadow = {n: t.to(params[n].device) for n, t in self.shadow.items()}

    @torch.no_grad()
    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates)) if self.warmup else self.decay
        for n, p in self._params(trainer.model).items():
            self.shadow[n].lerp_(p.detach().float(), 1.0 - decay)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        for n, p in self._params(model).items():
            p.copy_(self.shadow[n].to(p.dtype))

    @contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        trained = {n: p.detach().clone() for n, p in self._params(model).items()}
        self.copy_to(model)
        try:
            yield model
        finally:
            with torch.no_grad():
                for n, p in self._params(model).items():
                    p.copy_(trained[n])

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = state["updates"]
        self.shadow = {n: t.clone() for n, t in state["shadow"].items()}


class EveryEpochs(Callback):
    """Call `fn(trainer, epoch)` every `every` epochs and after the last one (sample grids, GIF frames)."""

    def __init__(self, fn: Callable[[Trainer, int], None], every: int = 1) -> None:
        self.fn, self.every = fn, every

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        epoch = record["epoch"]
        if epoch % self.every == 0 or epoch == trainer.epochs:
            self.fn(trainer, epoch)
