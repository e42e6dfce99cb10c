"""The PyTorch training engine: one fit loop (`engine.Trainer`), safetensors checkpoints with exact resume
(`checkpoint`), callbacks (`callbacks`) and learning-rate schedules as pure functions of the step
(`schedules`). Batches come from genai_roadmap.data.batches."""

from .callbacks import Callback, EarlyStopping, EveryEpochs
from .checkpoint import load_checkpoint, load_weights, save_checkpoint, save_weights
from .engine import (
    Trainer,
    amp_dtype,
    build_optimizer,
    classification_step,
    evaluate,
    param_groups,
    pick_device,
    predict,
    prefer_cpu_bf16,
)
from .schedules import SCHEDULES, lr_factor

__all__ = ["SCHEDULES", "Callback", "EarlyStopping", "EveryEpochs", "Trainer", "amp_dtype", "build_optimizer",
           "classification_step", "evaluate", "load_checkpoint", "load_weights", "lr_factor", "param_groups",
           "pick_device", "predict", "prefer_cpu_bf16", "save_checkpoint", "save_weights"]
