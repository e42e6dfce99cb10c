"""2.2.2 — a TensorFlow digit classifier, exported and served the TensorFlow Serving way.

The roadmap asks for a basic TensorFlow model for handwritten digits, deployed with TensorFlow Serving. This run
trains a small Keras CNN on MNIST (two 3×3 conv + max-pool blocks, dropout, a 128-unit dense layer; Adam with
cosine decay, 8 epochs on 55,000 images, 5,000 held out for the curves), evaluates it on the 10,000 test images,
and exports it as a SavedModel in TF Serving's layout, `<run>/export/digits/1/`. Its one signature,
`serving_default`, takes `images`: float32 [None, 28, 28], pixels in [0, 1] (white digit on black, as MNIST) and
returns `probabilities`: float32 [None, 10]. The model adds the channel axis itself, so clients send plain 28×28
arrays; our server also accepts [28, 28, 1] instances (the real TF Serving would not).

Then it serves that folder in-process with `genai_roadmap.serving.tf_rest` (TF Serving's REST API on a free
localhost port), posts test images over HTTP with the same client `roadmap predict` uses, and compares the served
predictions with the in-memory Keras model: `served_matches_inmemory` is the fraction of equal predicted digits
(1.0 expected), `served_max_abs_prob_diff` the largest probability difference. Latency of one-image requests
(p50/p95) and of one 500-image request is recorded.

Result, `roadmap run 2.2.2` (cpu preset, seed 0, 2 CPU cores shared with other jobs): test accuracy 99.23%
(421,642 parameters, 70 s of training, 76 s wall); the 500 served predictions equal the in-memory ones (max
probability difference 0), one-image requests take 1.5 ms at the median. The same seed gives the same numbers
(seeded, with TF op determinism on). The reference is LeNet-5's 0.8% error (LeCun et al. 1998). After a run:

    roadmap serve tf-digits                       # the latest run's export/; --model-dir DIR --port 8501
    roadmap predict digit.png more.npy            # --url http://127.0.0.1:8501 --model digits

The same folder runs under the real TensorFlow Serving; not run here, as this machine has no Docker engine:

    docker run -p 8501:8501 -v "$PWD/runs/2.2.2-tf-digits/<timestamp>/export/digits:/models/digits" \\
        -e MODEL_NAME=digits tensorflow/serving

and `roadmap predict --url http://localhost:8501 ...` talks to it unchanged (same REST API). TensorFlow is an
optional extra: `pip install 'genai-roadmap[tf]'`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ...config import param
from ...data.images import load_mnist
from ...errors import UserError
from ...runs import RunContext
from ...serving import client
from ...serving.tf_rest import TFServingServer, export_for_serving, import_tf, load_latest
from ...viz import confusion_matrix_plot, curves, image_grid


@dataclass
class Config:
    epochs: int = param(8, "passes over the training images", min=1)
    batch_size: int = param(128, "images per gradient step", min=1)
    lr: float = param(1e-3, "Adam's initial learning rate, cosine-decayed to 0 over the run", gt=0)
    filters: list[int] = param([32, 64], "channels of the two conv blocks", min=1)
    dense: int = param(128, "units of the hidden dense layer", min=1)
    dropout: float = param(0.3, "dropout before each dense layer", min=0, lt=1)
    n_train: int | None = param(None, "training images to use (None = all 60,000)", min=2, max=60000)
    n_test: int | None = param(None, "test images to use (None = all 10,000)", min=1, max=10000)
    val_size: int = param(5000, "training images held out for the validation curves", min=1, max=59999)
    model_name: str = param("digits", "name under export/ and in the REST paths (/v1/models/<name>)")
    version: int = param(1, "SavedModel version folder", min=1)
    served_samples: int = param(500, "test images sent over HTTP and compared with the in-memory model", min=1)
    latency_requests: int = param(50, "one-image requests timed for the latency percentiles", min=1)

    def check(self) -> None:
        if self.val_size >= (self.n_train or 60000):
            raise UserError(f"val_size ({self.val_size}) must be smaller than n_train ({self.n_train or 60000})")


PRESETS = {
    "smoke": {"epochs": 2, "lr": 3e-3, "n_train": 2500, "n_test": 500, "val_size": 500, "filters": [8, 16], "dense": 32,
              "served_samples": 64, "latency_requests": 5},
    "cpu": {},
    "full": {"epochs": 15},
}


def build_model(cfg: Config, keras):
    layers = keras.layers
    return keras.Sequential([
        keras.Input((28, 28), name="images"),  # [B, 28, 28] in [0, 1]
        layers.Reshape((28, 28, 1)),  # [B, 28, 28, 1]: conv layers want a channel axis
        layers.Conv2D(cfg.filters[0], 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),  # [B, 14, 14, f0]
        layers.Conv2D(cfg.filters[1], 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),  # [B, 7, 7, f1]
        layers.Flatten(),
        layers.Dropout(cfg.dropout),
        layers.Dense(cfg.dense, activation="relu"),
        layers.Dropout(cfg.dropout),
        layers.Dense(10, activation="softmax"),  # probabilities: what the serving signature returns
    ])


def run(cfg: Config, ctx: RunContext) -> dict:
    if cfg.epochs < 1 or cfg.batch_size < 1 or len(cfg.filters) != 2:
        raise UserError("epochs and batch_size must be at least 1, and filters must name two channel counts")
    tf = import_tf()  # UserError naming the extra when TensorFlow is missing
    import keras

    keras.utils.set_random_seed(ctx.seed)  # python, NumPy and TF seeds
    tf.config.experimental.enable_op_determinism()  # same seed -> same weights -> same metrics on CPU

    data = load_mnist()
    if cfg.n_train or cfg.n_test:
        data = data.subset(cfg.n_train, cfg.n_test, seed=ctx.seed)
    x = data.x_train.astype(np.float32) / 255
    x_test = data.x_test.astype(np.float32) / 255
    perm = np.random.default_rng(ctx.seed).permutation(len(x))
    val, train = perm[:cfg.val_size], perm[cfg.val_size:]
    ctx.say(f"{data.source}: {len(train)} train / {len(val)} validation / {len(x_test)} test")

    model = build_model(cfg, keras)
    steps = -(-len(train) // cfg.batch_size) * cfg.epochs
    schedule = keras.optimizers.schedules.CosineDecay(cfg.lr, decay_steps=steps)  # small steps at the end settle it
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x[train], data.y_train[train], validation_data=(x[val], data.y_train[val]),
                        epochs=cfg.epochs, batch_size=cfg.batch_size, verbose=0,
                        callbacks=[_EpochLog(ctx, cfg.epochs, keras)])
    train_time = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(x_test, data.y_test, batch_size=1000, verbose=0)
    probs = model.predict(x_test, batch_size=1000, verbose=0)
    ctx.say(f"test accuracy {test_acc:.4f}")

    export_path = export_for_serving(model, ctx.dir / "export", cfg.model_name, cfg.version)
    ctx.say(f"exported SavedModel to {export_path}")
    served = serve_and_compare(ctx, cfg, x_test, probs)

    h = history.history
    curves(ctx.plots / "loss.png", {"train": h["loss"], "validation": h["val_loss"]}, ylabel="cross-entropy",
           title="Keras CNN: loss")
    curves(ctx.plots / "accuracy.png", {"train": h["accuracy"], "validation": h["val_accuracy"]},
           ylabel="accuracy", title="Keras CNN: accuracy")
    pred = probs.argmax(1)
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (data.y_test, pred), 1)
    confusion_matrix_plot(ctx.plots / "confusion.png", matrix, data.classes, title="test set (in-memory model)")
    shown = served.pop("_served_pred")[:30]
    pairs = list(zip(shown, data.y_test[:len(shown)], strict=True))
    image_grid(ctx.plots / "served_predictions.png", data.x_test[:len(shown)],
               titles=[f"served {p} (true {t})" for p, t in pairs],
               title_colors=["black" if p == t else "firebrick" for p, t in pairs],
               title=f"predictions returned by {cfg.model_name}:predict over HTTP")
    return {
        "test_acc": float(test_acc),
        "test_loss": float(test_loss),
        "val_acc": float(h["val_accuracy"][-1]),
        "n_params": int(model.count_params()),
        "data_source": data.source,
        "train_time_s": round(train_time, 2),
        "epoch_time_s": round(train_time / cfg.epochs, 2),
        "export_dir": str(export_path.relative_to(ctx.dir)),
        "serving_signature": "images: float32 [None,28,28] in [0,1] -> probabilities: float32 [None,10]",
        **served,
    }


def serve_and_compare(ctx: RunContext, cfg: Config, x_test: np.ndarray, probs: np.ndarray) -> dict:
    """Serve the exported folder on a free port, query it over HTTP, compare with the in-memory predictions."""
    n = min(cfg.served_samples, len(x_test))
    with TFServingServer(load_latest(ctx.dir / "export", cfg.model_name), port=0) as server:
        status = client.model_status(server.url, cfg.model_name)
        start = time.perf_counter()
        served = client.predict(server.url, cfg.model_name, x_test[:n])
        batch_ms = (time.perf_counter() - start) * 1000
        latencies = []
        for i in range(cfg.latency_requests):
            start = time.perf_counter()
            client.predict(server.url, cfg.model_name, x_test[i % n:i % n + 1])
            latencies.append((time.perf_counter() - start) * 1000)
    same = float(np.mean(served.argmax(1) == probs[:n].argmax(1)))
    ctx.say(f"served {n} images at {server.url}: predictions match the in-memory model on {same:.1%}; "
            f"one-image latency p50 {np.percentile(latencies, 50):.1f} ms")
    ctx.log(event="served", url=server.url, status=status, matches=same)
    return {
        "served_matches_inmemory": same,
        "served_max_abs_prob_diff": float(np.abs(served - probs[:n]).max()),
        "served_samples": n,
        "served_state": status["model_version_status"][0]["state"],
        "served_batch_latency_ms": round(batch_ms, 1),
        "served_latency_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "served_latency_p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "_served_pred": served.argmax(1),
    }


def _EpochLog(ctx: RunContext, epochs: int, keras):  # noqa: N802 - builds a Keras callback class lazily
    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            ctx.log(epoch=epoch + 1, **logs)
            ctx.say(f"epoch {epoch + 1}/{epochs}  loss {logs['loss']:.4f}  acc {logs['accuracy']:.4f}  "
                    f"val loss {logs['val_loss']:.4f}  val acc {logs['val_accuracy']:.4f}")

    return EpochLog()


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"test acc {m['test_acc']:.4f}; TF-Serving REST predictions = in-memory: "
            f"{m['served_matches_inmemory']:.0%} "
            f"({m['served_samples']} samples), p50 {m['served_latency_p50_ms']:.1f} ms")
