"""A multilayer perceptron in NumPy with every forward and backward pass written out.

    x [B, D] -> Linear -> ReLU -> ... -> Linear -> logits [B, C] -> softmax cross-entropy -> loss (scalar)

Each layer keeps what its backward pass needs from its forward pass. Speed comes from doing the work the way
PyTorch does on CPU: float32 throughout, every matmul a single BLAS call, and every intermediate written into
an array allocated once per batch size (`out=` arguments, in-place ReLU and softmax) instead of a fresh one per
step. `MLPClassifier` wraps network, optimiser and mini-batch loop as a scikit-learn estimator (`fit`,
`predict`, `predict_proba`, `score`; clone / cross_val_score / Pipeline work). `gradient_check` compares
backprop with central finite differences; `torch_twin` builds the same network in PyTorch with identical
weights, so tests (and the 2.1.1 project's timing) compare the two directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class _Buffers:
    """Arrays reused across steps, keyed by (role, shape): a batch size seen once never allocates again."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, role: str, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        key = (role, shape)
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = np.empty(shape, dtype or self.dtype)
        return arr

    def __getstate__(self) -> dict:
        # Scratch space is not state: a pickle without it is smaller, and a copy loaded read-only (joblib's
        # memory maps) would otherwise try to write into read-only buffers.
        return {"dtype": self.dtype, "_arrays": {}}


class Linear:
    """y = x @ W + b with W [D_in, D_out] (row-major batches, so no transposes in the forward pass)."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, dtype: Any = np.float32) -> None:
        # He init: std = sqrt(2 / fan_in) keeps the activations' variance constant through ReLU layers.
        self.W = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        self.b = np.zeros(n_out, dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._x: np.ndarray | None = None
        self._buf = _Buffers(self.W.dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:  # [B, D_in] -> [B, D_out]
        out = self._buf.get("out", (len(x), self.W.shape[1]))
        np.matmul(x, self.W, out=out)
        out += self.b
        self._x = x
        return out

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:  # [B, D_out] -> [B, D_in]
        np.matmul(self._x.T, dy, out=self.dW)  # dL/dW = x^T dy      [D_in, D_out]
        np.sum(dy, axis=0, out=self.db)  # dL/db = sum over batch   [D_out]
        if not need_dx:  # the first layer's input gradient is never used: skip its matmul
            return None
        dx = self._buf.get("dx", (len(dy), self.W.shape[0]))
        np.matmul(dy, self.W.T, out=dx)  # dL/dx = dy W^T         [B, D_in]
        return dx


class ReLU:
    """max(x, 0), in place: the Linear output below it is not needed again."""

    def __init__(self) -> None:
        self._buf = _Buffers(np.dtype(bool))
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._mask = self._buf.get("mask", x.shape, bool)
        np.greater(x, 0, out=self._mask)
        np.maximum(x, 0, out=x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        np.multiply(dy, self._mask, out=dy)  # gradient flows only where the input was positive
        return dy


class SoftmaxCrossEntropy:
    """Mean over the batch of -log softmax(logits)[y]; backward gives (softmax - onehot) / B."""

    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._y: np.ndarray | None = None

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:  # logits [B, C] (overwritten), y [B]
        logits -= logits.max(axis=1, keepdims=True)  # shift for stability: softmax is shift-invariant
        rows = np.arange(len(y))
        picked = logits[rows, y]  # the true class's shifted logit, copied out before exp overwrites it
        probs = np.exp(logits, out=logits)
        sums = probs.sum(axis=1, keepdims=True)
        probs /= sums
        self._probs, self._y = probs, y
        return float(np.mean(np.log(sums[:, 0]) - picked))  # log-sum-exp minus the true logit

    def backward(self) -> np.ndarray:
        grad = self._probs  # reused in place: probabilities are not needed after this
        grad[np.arange(len(self._y)), self._y] -= 1
        grad /= len(self._y)
        return grad


class MLP:
    """Linear/ReLU stack ending in logits; `sizes` = [D_in, hidden..., C]."""

    def __init__(self, sizes: Sequence[int], rng: np.random.Generator, dtype: Any = np.float32) -> None:
        self.sizes = list(sizes)
        self.dtype = np.dtype(dtype)
        self.layers: list[Linear | ReLU] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            self.layers.append(Linear(n_in, n_out, rng, dtype))
            if i < len(sizes) - 2:
                self.layers.append(ReLU())
        self.loss_fn = SoftmaxCrossEntropy()

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits [B, C]. The array is a reused buffer: copy it if you keep it past the next call."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.loss_fn.forward(self.forward(x), y)

    def backward(self) -> None:
        """Fill every Linear's dW, db from the last `loss` call."""
        grad = self.loss_fn.backward()
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            grad = layer.backward(grad, need_dx=i > 0) if isinstance(layer, Linear) else layer.backward(grad)

    def params_and_grads(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [pair for lin in self.linears for pair in ((lin.W, lin.dW), (lin.b, lin.db))]

    def predict_proba(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Softmax probabilities [N, C], computed in chunks (a fresh array, safe to keep)."""
        out = np.empty((len(x), self.sizes[-1]), self.dtype)
        for start in range(0, len(x), batch_size):
            logits = self.forward(x[start:start + batch_size])
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            out[start:start + batch_size] = logits / logits.sum(axis=1, keepdims=True)
        return out


# ---- optimisers: same update rules (and defaults) as torch.optim.SGD / torch.optim.Adam -----------------

class SGD:
    """v = momentum * v + g;  p -= lr * v   (PyTorch's form, no dampening)."""

    def __init__(self, params: list[tuple[np.ndarray, np.ndarray]], lr: float, momentum: float = 0.0) -> None:
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity = [np.zeros_like(p) for p, _ in params]
        self.scratch = [np.empty_like(p) for p, _ in params]

    def step(self) -> None:
        for (p, g), v, tmp in zip(self.params, self.velocity, self.scratch, strict=True):
            if self.momentum:
                v *= self.momentum
                v += g
                g = v
            np.multiply(g, self.lr, out=tmp)
            p -= tmp


class Adam:
    """m, v = running means of g and g²; p -= lr * m̂ / (sqrt(v̂) + eps), m̂ and v̂ bias-corrected (Kingma & Ba)."""

    def __init__(self, params: list[tuple[np.ndarray, np.ndarray]], lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params, self.lr, (self.b1, self.b2), self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p, _ in params]
        self.v = [np.zeros_like(p) for p, _ in params]
        self.scratch = [np.empty_like(p) for p, _ in params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        step_size = self.lr / (1 - self.b1 ** self.t)
        sqrt_bc2 = np.sqrt(1 - self.b2 ** self.t)
        for (p, g), m, v, tmp in zip(self.params, self.m, self.v, self.scratch, strict=True):
            m *= self.b1
            np.multiply(g, 1 - self.b1, out=tmp)
            m += tmp
            v *= self.b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - self.b2
            v += tmp
            np.sqrt(v, out=tmp)  # denominator written as PyTorch does: sqrt(v) / sqrt(bc2) + eps
            tmp /= sqrt_bc2
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


# ---- training, as a scikit-learn estimator -------------------------------------------------------------------

def train_epoch(model: MLP, opt: Adam | SGD, x: np.ndarray, y: np.ndarray, perm: np.ndarray, batch: int) -> float:
    """One pass over the samples in the order `perm`; the mean training loss. Batches reuse one gathered array."""
    buf = np.empty((batch, x.shape[1]), model.dtype)
    total = 0.0
    for start in range(0, len(perm), batch):
        idx = perm[start:start + batch]
        xb = np.take(x, idx, axis=0, out=buf[:len(idx)]) if len(idx) == batch else x[idx]
        total += model.loss(xb, y[idx]) * len(idx)
        model.backward()
        opt.step()
    return total / len(perm)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """The NumPy MLP trained by mini-batch Adam or SGD with momentum, as a scikit-learn classifier.

    Training: `epochs` passes, each over a fresh permutation of the samples in batches of `batch_size`; the
    learning rate is multiplied by `lr_decay` after every epoch. Every random draw (He init, then one
    permutation per epoch) comes from one generator seeded with `seed`, in that order, so a fit is the same
    computation as the 2.1.1 project's loop with the same seed. Computation is in float32 (inputs are cast).
    Fitted: `model_` (the MLP), `classes_`, `loss_curve_` (mean training loss per epoch), `n_features_in_`.
    """

    def __init__(self, hidden: Sequence[int] = (100,), optimizer: str = "adam", lr: float = 1e-3,
                 momentum: float = 0.9, lr_decay: float = 1.0, epochs: int = 20, batch_size: int = 128,
                 seed: int = 0) -> None:
        self.hidden = hidden
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X, y) -> MLPClassifier:
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or any(h < 1 for h in self.hidden):
            raise ValueError("epochs, batch_size and every hidden width must be >= 1, and lr > 0")
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        rng = np.random.default_rng(self.seed)
        self.model_ = MLP([X.shape[1], *self.hidden, len(self.classes_)], rng)
        params = self.model_.params_and_grads()
        opt = Adam(params, lr=self.lr) if self.optimizer == "adam" else \
            SGD(params, lr=self.lr, momentum=self.momentum)
        self.loss_curve_ = []
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported below
            for epoch in range(self.epochs):
                loss = train_epoch(self.model_, opt, X, codes, rng.permutation(len(X)), self.batch_size)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"training diverged in epoch {epoch + 1} (lr={self.lr} too large?)")
                self.loss_curve_.append(loss)
                opt.lr = self.lr * self.lr_decay ** (epoch + 1)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self.model_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# ---- checks ------------------------------------------------------------------------------------------------

def gradient_check(model: MLP, x: np.ndarray, y: np.ndarray, eps: float = 1e-5, per_param: int = 20,
                   seed: int = 0) -> float:
    """Worst relative error ||analytic - numeric|| / (||analytic|| + ||numeric||) over the parameter arrays.

    For each array, `per_param` random entries get a numeric gradient by central differences,
    (L(p + eps) - L(p - eps)) / 2 eps. Norms over the sampled entries (not entry by entry) keep a gradient that
    is nearly zero from turning round-off into a huge ratio. Use a float64 model: in float32 the round-off of L
    swamps the difference. Below ~1e-7 means backprop is right; a wrong backward gives ~1e-1.
    """
    model.loss(x, y)
    model.backward()
    rng = np.random.default_rng(seed)
    worst = 0.0
    for p, g in model.params_and_grads():
        idx = rng.choice(p.size, size=min(per_param, p.size), replace=False)
        analytic = g.flat[idx].copy()
        numeric = np.empty_like(analytic)
        for k, i in enumerate(idx):
            old = p.flat[i]
            p.flat[i] = old + eps
            up = model.loss(x, y)
            p.flat[i] = old - eps
            down = model.loss(x, y)
            p.flat[i] = old
            numeric[k] = (up - down) / (2 * eps)
        denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
        if denom > 0:  # an array with all-zero gradient (dead units) has nothing to compare
            worst = max(worst, float(np.linalg.norm(analytic - numeric) / denom))
    return worst


def torch_twin(model: MLP):
    """The same network as a torch.nn.Sequential with identical weights (torch stores W transposed)."""
    import torch

    modules = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            lin = torch.nn.Linear(*layer.W.shape, dtype=torch.float64 if model.dtype == np.float64 else torch.float32)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b))
            modules.append(lin)
        else:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)
