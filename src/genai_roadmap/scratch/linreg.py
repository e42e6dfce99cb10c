"""Linear regression from scratch: the closed form (least squares) and gradient descent (batch / mini-batch).

Both models minimise the mean squared error  L(w, b) = mean((X w + b - y)^2)  and are scikit-learn estimators
(`get_params`, `fit`, `predict`, `score` = R², `coef_`, `intercept_`), so `clone`, `cross_val_score` and
`Pipeline` take them and they can be checked against `sklearn.linear_model.LinearRegression` directly. The
arithmetic is NumPy only; scikit-learn supplies the estimator plumbing (input validation, parameters) and the
metrics (R², RMSE, MAE).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class LinearRegression(RegressorMixin, BaseEstimator):
    """Ordinary least squares in closed form.

    method="lstsq" solves min ||[1 X] θ - y||² with an SVD-based solver (np.linalg.lstsq): stable even when
    X'X is ill-conditioned. method="normal" solves the normal equations (X'X) θ = X'y, the textbook formula;
    it squares the condition number, so it loses digits on collinear data (kept to show exactly that).
    X must be 2-D [n_samples, n_features], as everywhere in scikit-learn (one feature: X.reshape(-1, 1)).
    """

    def __init__(self, method: Literal["lstsq", "normal"] = "lstsq", fit_intercept: bool = True) -> None:
        self.method = method
        self.fit_intercept = fit_intercept

    def fit(self, X, y) -> LinearRegression:
        if self.method not in ("lstsq", "normal"):
            raise ValueError(f"method must be 'lstsq' or 'normal', got {self.method!r}")
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        A = np.hstack([np.ones((len(X), 1)), X]) if self.fit_intercept else X
        if self.method == "lstsq":
            theta = np.linalg.lstsq(A, y, rcond=None)[0]
        else:
            try:
                theta = np.linalg.solve(A.T @ A, A.T @ y)
            except np.linalg.LinAlgError:
                raise ValueError(f"the normal equations have no unique solution: X'X is singular with "
                                 f"{len(X)} sample(s) and {A.shape[1]} parameters; use method='lstsq'") from None
        self.intercept_ = float(theta[0]) if self.fit_intercept else 0.0
        self.coef_ = theta[1:] if self.fit_intercept else theta
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression trained by gradient descent on standardised features.

    Standardising (zero mean, unit variance per feature) makes the loss surface round enough that one
    learning rate suits every feature; the learned weights are mapped back to the original units at the end,
    so `coef_` / `intercept_` are comparable with the closed form. batch_size=None is full-batch gradient
    descent; an integer gives shuffled mini-batches (one epoch = one pass over the data), shuffled by `seed`.
    `loss_history_[e]` is the training MSE (original units of y) after epoch e; index 0 is before training.
    """

    def __init__(self, lr: float = 0.1, epochs: int = 500, batch_size: int | None = None,
                 standardize: bool = True, seed: int = 0) -> None:
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.standardize = standardize
        self.seed = seed

    def fit(self, X, y) -> GDRegressor:
        if not self.lr > 0 or self.epochs < 0 or (self.batch_size is not None and self.batch_size < 1):
            raise ValueError("lr must be > 0, epochs >= 0 and batch_size None or >= 1")
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        n, d = X.shape
        self.mean_ = X.mean(axis=0) if self.standardize else np.zeros(d)
        # Constant columns have std 0: leave them unscaled instead of dividing by zero.
        std = X.std(axis=0) if self.standardize else np.ones(d)
        self.scale_ = np.where(std > 0, std, 1.0)
        Z = (X - self.mean_) / self.scale_
        w, b = np.zeros(d), 0.0
        rng = np.random.default_rng(self.seed)
        batch = n if self.batch_size is None else min(self.batch_size, n)
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

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """R², RMSE and MAE from sklearn.metrics (the reference implementations)."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {"r2": float(r2_score(y_true, y_pred)),
            "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
            "mae": float(mean_absolute_error(y_true, y_pred))}
