"""The PyTorch training engine: one fit loop (`engine.Trainer`, settings in `engine.TrainConfig`), safetensors
checkpoints with exact resume (`checkpoint`), callbacks incl. early stopping and EMA (`callbacks`), evaluation
per batch and per corpus (`evaluation`) and learning-rate schedules as pure functions of the step
(`schedules`). Batches come from genai_roadmap.data.batches and genai_roadmap.data.text_batches."""

from .callbacks import EMA, Callback, EarlyStopping, EveryEpochs
from .checkpoint import load_checkpoint, load_weights, save_checkpoint, save_weights
from .engine import (
    TrainConfig,
    Trainer,
    amp_dtype,
    build_optimizer,
    param_groups,
    peak_memory_mb,
    pick_device,
    prefer_cpu_bf16,
)
from .evaluation import CorpusMetric, Meter, classification_step, evaluate, evaluate_corpus, predict
from .schedules import SCHEDULES, lr_factor

__all__ = ["EMA", "SCHEDULES", "Callback", "CorpusMetric", "EarlyStopping", "EveryEpochs", "Meter", "TrainConfig",
           "Trainer", "amp_dtype", "build_optimizer", "classification_step", "evaluate", "evaluate_corpus",
           "load_checkpoint", "load_weights", "lr_factor", "param_groups", "peak_memory_mb", "pick_device",
           "predict", "prefer_cpu_bf16", "save_checkpoint", "save_weights"]
