"""Linear regression from scratch: the closed form (least squares) and gradient descent (batch / mini-batch).

Both models minimise the mean squared error  L(w, b) = mean((X w + b - y)^2)  and expose sklearn's
interface (`fit`, `predict`, `coef_`, `intercept_`), so they can be checked against
`sklearn.linear_model.LinearRegression` directly. Metrics (R², RMSE, MAE) come from `sklearn.metrics`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def _as_2d(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(-1, 1) if X.ndim == 1 else X


class LinearRegression:
    """Ordinary least squares in closed form.

    method="lstsq" solves min ||[1 X] θ - y||² with an SVD-based solver (np.linalg.lstsq): stable even when
    X'X is ill-conditioned. method="normal" solves the normal equations (X'X) θ = X'y, the textbook formula;
    it squares the condition number, so it loses digits on collinear data (kept to show exactly that).
    """

    def __init__(self, method: Literal["lstsq", "normal"] = "lstsq", fit_intercept: bool = True) -> None:
        if method not in ("lstsq", "normal"):
            raise ValueError(f"method must be 'lstsq' or 'normal', got {method!r}")
        self.method = method
        self.fit_intercept = fit_intercept

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearRegression:
        X, y = _as_2d(X), np.asarray(y, dtype=np.float64)
        A = np.hstack([np.ones((len(X), 1)), X]) if self.fit_intercept else X
        lstsq = self.method == "lstsq"
        theta = np.linalg.lstsq(A, y, rcond=None)[0] if lstsq else np.linalg.solve(A.T @ A, A.T @ y)
        self.intercept_ = float(theta[0]) if self.fit_intercept else 0.0
        self.coef_ = theta[1:] if self.fit_intercept else theta
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _as_2d(X) @ self.coef_ + self.intercept_


class GDRegressor:
    """Linear regression trained by gradient descent on standardised features.

    Standardising (zero mean, unit variance per feature) makes the loss surface round enough that one
    learning rate suits every feature; the learned weights are mapped back to the original units at the end,
    so `coef_` / `intercept_` are comparable with the closed form. batch_size=None is full-batch gradient
    descent; an integer gives shuffled mini-batches (one epoch = one pass over the data).
    `loss_history_[e]` is the training MSE (original units of y) after epoch e; index 0 is before training.
    """

    def __init__(self, lr: float = 0.1, epochs: int = 500, batch_size: int | None = None,
                 standardize: bool = True, seed: int = 0) -> None:
        self.lr, self.epochs, self.batch_size = lr, epochs, batch_size
        self.standardize, self.seed = standardize, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> GDRegressor:
        X, y = _as_2d(X), np.asarray(y, dtype=np.float64)
        n, d = X.shape
        self.mean_ = X.mean(axis=0) if self.standardize else np.zeros(d)
        # Constant columns have std 0: leave them unscaled instead of dividing by zero.
        std = X.std(axis=0) if self.standardize else np.ones(d)
        self.scale_ = np.where(std > 0, std, 1.0)
        Z = (X - self.mean_) / self.scale_
        w, b = np.zeros(d), 0.0
        rng = np.random.default_rng(self.seed)
        batch = n if self.batch_size is None else max(1, min(self.batch_size, n))
        history = [self._mse(Z, y, w, b)]
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported below
            for _ in range(self.epochs):
                order = np.arange(n) if batch == n else rng.permutation(n)
                for start in range(0, n, batch):
                    idx = order[start:start + batch]
                    residual = Z[idx] @ w + b - y[idx]  # [B]
                    # dL/dw = 2/B Z'r, dL/db = 2/B Σr  for L = mean(r²)
                    w -= self.lr * 2.0 * (Z[idx].T @ residual) / len(idx)
                    b -= self.lr * 2.0 * residual.mean()
                history.append(self._mse(Z, y, w, b))
                if not np.isfinite(history[-1]):
                    raise FloatingPointError(f"gradient descent diverged (lr={self.lr} too large)")
        self.loss_history_ = np.asarray(history)
        self.coef_ = w / self.scale_
        self.intercept_ = float(b - self.coef_ @ self.mean_)
        return self

    @staticmethod
    def _mse(Z: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
        return float(np.mean((Z @ w + b - y) ** 2))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _as_2d(X) @ self.coef_ + self.intercept_


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """R², RMSE and MAE from sklearn.metrics (the reference implementations)."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {"r2": float(r2_score(y_true, y_pred)),
            "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
            "mae": float(mean_absolute_error(y_true, y_pred))}
