"""Evaluation pieces the engine and projects share: batches on the device, running means, per-batch evaluation,
predictions, and corpus-level evaluation (BLEU, ROUGE, span F1, FID: metrics of a whole set of outputs).

A batch is a tuple of tensors `(x, y, ...)` or a dict of tensors (`input_ids`, `attention_mask`, `labels`, ...
as Hugging Face models take them); both move to the device whole. A step may report `"weight"` (e.g. the
number of non-padding tokens): the batch's scalars then count with that weight instead of the batch size, so
a per-token loss averages per token over the whole set, not per sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Batch = tuple[torch.Tensor, ...] | dict[str, torch.Tensor]
StepFn = Callable[[nn.Module, Batch, Any], dict[str, Any]]
WEIGHT = "weight"  # the key a step returns to weight its scalars (tokens, pixels, ...) instead of the batch size


def to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor inside a tuple / list / dict batch on `device`; other values as they are."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def batch_size(batch: Any) -> int:
    """Rows in a batch: the first dimension of its first tensor."""
    values = batch.values() if isinstance(batch, dict) else batch
    for v in values:
        if torch.is_tensor(v) and v.ndim > 0:
            return int(v.shape[0])
    raise ValueError("a batch needs at least one tensor with a batch dimension")


def split_weight(out: dict[str, Any], batch: Any) -> tuple[dict[str, Any], Any]:
    """(the step's scalars without "weight", the weight: the step's, else the batch size)."""
    if WEIGHT not in out:
        return out, batch_size(batch)
    scalars = {k: v for k, v in out.items() if k != WEIGHT}
    return scalars, out[WEIGHT]


def classification_step(label_smoothing: float = 0.0) -> StepFn:
    """Cross-entropy on (x, y) batches; reports loss and accuracy."""

    def step(model: nn.Module, batch: Batch, trainer: Any = None) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = model(x)  # [B, K]
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        return {"loss": loss, "acc": (logits.argmax(1) == y).float().mean()}

    return step


class Meter:
    """Weighted running means of whatever scalars each step reports: a key counts over the steps that reported
    it (a GAN step that updates G every fifth batch reports g_loss every fifth batch). Values stay on the device
    until `flush` (one sync per flush, not per step); they are added in step order as Python floats, so the
    sums never depend on when we flushed."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self._pending: list[tuple[tuple[str, ...], torch.Tensor, torch.Tensor | float]] = []

    def add(self, values: dict[str, Any], n: Any) -> None:
        keys = tuple(values)
        row = [v.detach().float().reshape(()) if torch.is_tensor(v) else torch.tensor(float(v))
               for v in values.values()]
        device = next((r.device for r in row if r.device.type != "cpu"), None)
        row = [r.to(device) if device else r for r in row]
        if torch.is_tensor(n):
            row.append(n.detach().float().reshape(()).to(row[0].device) if row else n.detach().float())
            n = None  # read back with the values, in the same sync
        self._pending.append((keys, torch.stack(row) if row else torch.zeros(0), n))

    def flush(self) -> None:
        if not self._pending:
            return
        flat = torch.cat([p.cpu() for _, p, _ in self._pending]).double().tolist()
        i = 0
        for keys, _, n in self._pending:
            values = flat[i:i + len(keys)]
            i += len(keys)
            if n is None:  # a tensor weight, stored after the values
                n = flat[i]
                i += 1
            for k, v in zip(keys, values, strict=True):
                self.sums[k] = self.sums.get(k, 0.0) + v * n
                self.counts[k] = self.counts.get(k, 0) + n
        self._pending = []

    def means(self) -> dict[str, float]:
        self.flush()
        return {k: s / max(self.counts[k], 1e-12) for k, s in self.sums.items()}

    def state_dict(self) -> dict[str, Any]:
        self.flush()
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = dict(state["sums"])
        # checkpoints written before per-key counts had one count for every key
        self.counts = dict(state["counts"]) if "counts" in state else {k: state["count"] for k in self.sums}
        self._pending = []


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else nullcontext()


def evaluate(model: nn.Module, batches: Iterable[Batch], step: StepFn | None = None, *,
             device: torch.device | None = None, amp: torch.dtype | None = None) -> dict[str, float]:
    """Weighted means of the step's scalars over all batches (weight: the step's "weight", else the batch
    size), in eval mode without gradients."""
    step = step or classification_step()
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    meter = Meter()
    with torch.inference_mode():
        for batch in batches:
            batch = to_device(batch, device)
            with autocast(device, amp):
                out = step(model, batch, None)
            meter.add(*split_weight(out, batch))
    model.train(was_training)
    return meter.means()


def _forward(model: nn.Module, batch: Batch) -> torch.Tensor:
    """The default prediction: the model on the batch's inputs (dict batches as keyword arguments, without
    labels); Hugging Face outputs give their logits."""
    out = model(**{k: v for k, v in batch.items() if k != "labels"}) if isinstance(batch, dict) else model(batch[0])
    return out.logits if hasattr(out, "logits") else out


def predict(model: nn.Module, batches: Iterable[Batch], fn: Callable[[nn.Module, Batch], torch.Tensor] | None = None,
            *, device: torch.device | None = None, amp: torch.dtype | None = None,
            flip_tta: bool = False) -> torch.Tensor:
    """`fn(model, batch)` (default: the model's output on the batch's inputs) for every batch, float32 on CPU,
    concatenated along the batch dimension. `flip_tta` is an image option: it averages the output on images
    [B, C, H, W] and on their left-right mirror."""
    fn = fn or _forward
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for batch in batches:
            batch = to_device(batch, device)
            with autocast(device, amp):
                y = fn(model, batch).float()
                if flip_tta:
                    x = batch[0]
                    if x.ndim != 4:
                        raise ValueError(f"flip_tta mirrors images [B, C, H, W]; this batch's input is {x.ndim}-d")
                    y = 0.5 * (y + fn(model, (x.flip(3), *batch[1:])).float())
            out.append(y.cpu())
    model.train(was_training)
    return torch.cat(out)


@dataclass
class CorpusMetric:
    """A metric over the whole evaluation set: `predict(model, batch) -> (predictions, references)` per batch
    (lists: strings, token lists, tag sequences, images...), then `score(predictions, references) -> {name:
    value}` once over everything collected (sacreBLEU, rouge-score, seqeval, FID)."""

    predict: Callable[[nn.Module, Batch], tuple[Sequence[Any], Sequence[Any]]]
    score: Callable[[list[Any], list[Any]], dict[str, float]]


def evaluate_corpus(model: nn.Module, batches: Iterable[Batch], metric: CorpusMetric, *,
                    device: torch.device | None = None, amp: torch.dtype | None = None) -> dict[str, float]:
    """Collect `metric.predict` over every batch (eval mode, no gradients), then score the corpus once."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    predictions: list[Any] = []
    references: list[Any] = []
    with torch.inference_mode():
        for batch in batches:
            batch = to_device(batch, device)
            with autocast(device, amp):
                preds, refs = metric.predict(model, batch)
            if len(preds) != len(refs):
                raise ValueError(f"corpus metric: {len(preds)} predictions for {len(refs)} references in a batch")
            predictions.extend(preds)
            references.extend(refs)
    model.train(was_training)
    return metric.score(predictions, references)
