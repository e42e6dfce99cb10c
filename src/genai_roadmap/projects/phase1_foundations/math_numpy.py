"""1.1.1 math-numpy — matrices, plots and calculus in NumPy, every number checked against an exact answer.

Roadmap: "Implement basic Python programs to practice handling matrices, plotting data, and solving basic
calculus problems."

What it does:
  * linear algebra on a seeded random n×n matrix A: solve Ax = b for a known x, the inverse, the symmetric and
    general eigendecompositions, the SVD — each checked against the identity it must satisfy
    (A A⁻¹ = I, S Q = Q Λ, U Σ V' = A, σ² = eig(A'A), log|det A| = Σ log σ);
  * calculus against analytic answers: central differences (first and second derivative, a 2-D gradient),
    Simpson's rule, the trapezoid rule with n taken from its error bound, and gradient descent on a
    two-variable quadratic whose minimum is solved exactly;
  * plots: the function with its numeric and analytic derivative, error against step size h (truncation vs
    round-off), error against the number of intervals (slopes -2 and -4), and gradient fields with descent paths.

`worst_error` is the worst of the checks whose method can reach 1e-6 with the chosen settings. Checks that are
limited by the method itself (a forward difference, a 16-interval trapezoid, 5000 steps of gradient descent on
Rosenbrock's valley) are reported separately under `method_limited`, each beside its theoretical error bound.

Result (cpu preset, n=200, seed 0): worst_error = 6.4e-8 (the trapezoid rule with n = 5084 chosen for 1e-7;
the matrix identities sit between 1e-16 and 3e-14, central differences at 4e-11), and every method-limited
check inside its bound (forward difference 6.5e-6, 16-interval trapezoid 6.4e-3).      roadmap run 1.1.1
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...config import param
from ...runs import RunContext
from ...viz import new_figure, save


@dataclass
class Config:
    matrix_size: int = param(200, "n of the random n×n matrices for the linear-algebra checks", min=2)
    h_central: float = param(1e-5, "step of the central differences (error ~ h² + eps/h: best near 1e-5)", gt=0, lt=1)
    h_second: float = param(1e-4, "step of the second-derivative stencil (error ~ h² + eps/h²)", gt=0, lt=1)
    simpson_intervals: int = param(200, "intervals for Simpson's rule (even; error ~ n⁻⁴)", min=2)
    trapezoid_tol: float = param(1e-7, "tolerance the trapezoid n is chosen for, from its error bound", gt=0)
    gd_tol: float = param(1e-12, "gradient-norm tolerance that stops gradient descent on the quadratic", gt=0)
    forward_h: float = param(1e-5, "step of the (method-limited) forward difference", gt=0, lt=1)
    coarse_intervals: int = param(16, "intervals of the (method-limited) coarse trapezoid", min=1)
    rosenbrock_steps: int = param(5000, "gradient-descent steps on Rosenbrock's function (method-limited)", min=1)


PRESETS = {"smoke": {"matrix_size": 20, "rosenbrock_steps": 500}, "cpu": {}, "full": {"matrix_size": 500}}

EPS = np.finfo(float).eps


def f(x):
    """The function the calculus checks use; df and d2f are its derivatives in closed form."""
    return np.sin(x) * np.exp(-x**2 / 4)


def df(x):
    return (np.cos(x) - x / 2 * np.sin(x)) * np.exp(-x**2 / 4)


def d2f(x):
    return ((x**2 / 4 - 1.5) * np.sin(x) - x * np.cos(x)) * np.exp(-x**2 / 4)


def linear_algebra_checks(n: int, rng: np.random.Generator) -> dict[str, float]:
    """Relative errors of matrix identities on a random Gaussian A (condition number ~ n: errors ~ n·eps)."""
    A = rng.normal(size=(n, n))
    x_true = rng.normal(size=n)
    x = np.linalg.solve(A, A @ x_true)
    inv = np.linalg.inv(A)
    S = A + A.T  # symmetric: real eigenvalues, orthogonal eigenvectors
    lam, Q = np.linalg.eigh(S)
    w, V = np.linalg.eig(A)
    U, s, Vt = np.linalg.svd(A)
    norm_a, norm_s = np.linalg.norm(A, 2), np.linalg.norm(S, 2)
    eye = np.eye(n)
    return {
        "solve_forward_rel": np.linalg.norm(x - x_true) / np.linalg.norm(x_true),
        "inverse_AAinv_minus_I": np.abs(A @ inv - eye).max(),
        "eigh_SQ_minus_QL_rel": np.abs(S @ Q - Q * lam).max() / norm_s,
        "eigh_QtQ_minus_I": np.abs(Q.T @ Q - eye).max(),
        "eig_AV_minus_VW_rel": np.abs(A @ V - V * w).max() / norm_a,
        "eig_trace_sum_rel": abs(np.trace(A) - w.sum().real) / norm_a,
        "svd_USVt_minus_A_rel": np.abs((U * s) @ Vt - A).max() / norm_a,
        "svd_UtU_minus_I": np.abs(U.T @ U - eye).max(),
        "svd_sigma2_vs_eig_AtA_rel": np.abs(np.sort(s**2) - np.linalg.eigvalsh(A.T @ A)).max() / s[0] ** 2,
        "logdet_vs_sum_log_sigma_rel": abs(np.linalg.slogdet(A)[1] - np.log(s).sum()) / abs(np.log(s).sum()),
    }


def central_diff(fn: Callable, x: np.ndarray, h: float) -> np.ndarray:
    return (fn(x + h) - fn(x - h)) / (2 * h)


def simpson(fn: Callable, a: float, b: float, n: int) -> float:
    """Composite Simpson's rule on n (even) intervals: error ≤ (b-a) h⁴ max|f⁗| / 180."""
    n += n % 2
    x = np.linspace(a, b, n + 1)
    y = fn(x)
    return float((b - a) / n / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


def trapezoid(fn: Callable, a: float, b: float, n: int) -> float:
    """Composite trapezoid rule: error ≤ (b-a)³ max|f''| / (12 n²)."""
    x = np.linspace(a, b, n + 1)
    return float(np.trapezoid(fn(x), x))


def gradient_descent(grad: Callable, start, lr: float, steps: int, tol: float = 0.0) -> np.ndarray:
    """Plain gradient descent; returns the path [steps+1, 2] (stops early when |grad| < tol)."""
    path = [np.asarray(start, dtype=float)]
    for _ in range(steps):
        g = grad(path[-1])
        if np.linalg.norm(g) < tol:
            break
        path.append(path[-1] - lr * g)
    return np.asarray(path)


# A two-variable quadratic bowl q(p) = ½ p'Hp - c'p: its minimum solves H p = c exactly.
H = np.array([[3.0, 1.0], [1.0, 8.0]])
C = np.array([2.0, -3.0])


def quad(p):
    return 0.5 * np.einsum("...i,ij,...j->...", p, H, p) - p @ C


def rosen(p):
    """Rosenbrock's banana valley: minimum at (1, 1), notoriously slow for plain gradient descent."""
    return (1 - p[..., 0]) ** 2 + 100 * (p[..., 1] - p[..., 0] ** 2) ** 2


def rosen_grad(p):  # p [..., 2] -> [..., 2]
    p = np.asarray(p, dtype=float)
    x, y = p[..., 0], p[..., 1]
    return np.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], axis=-1)


def calculus_checks(cfg: Config) -> tuple[dict[str, float], dict]:
    """Absolute errors against analytic answers, for methods that can reach 1e-6 with these settings."""
    xs = np.linspace(-3, 3, 241)
    h, h2 = cfg.h_central, cfg.h_second
    checks: dict[str, float] = {
        "central_diff_max_abs": np.abs(central_diff(f, xs, h) - df(xs)).max(),
        "second_diff_max_abs": np.abs((f(xs + h2) - 2 * f(xs) + f(xs - h2)) / h2**2 - d2f(xs)).max(),
    }
    # Gradient of q at a few points by central differences along each axis, against H p - c.
    pts = np.random.default_rng(1).normal(size=(20, 2))
    num = np.stack([(quad(pts + h * e) - quad(pts - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    checks["gradient_2d_max_abs"] = np.abs(num - (pts @ H - C)).max()
    checks["simpson_sin_0_pi"] = abs(simpson(np.sin, 0, np.pi, cfg.simpson_intervals) - 2.0)
    gauss = math.sqrt(math.pi) * math.erf(3.0)
    checks["simpson_gaussian_-3_3"] = abs(simpson(lambda x: np.exp(-x**2), -3, 3, cfg.simpson_intervals) - gauss)
    # Trapezoid: pick n from the bound (b-a)³ max|sin''| / (12 n²) <= tol, then check the bound held.
    n_trap = math.ceil(math.sqrt(np.pi**3 / (12 * cfg.trapezoid_tol)))
    checks["trapezoid_sin_n_from_bound"] = abs(trapezoid(np.sin, 0, np.pi, n_trap) - 2.0)
    x_star = np.linalg.solve(H, C)
    lr = 1 / np.linalg.eigvalsh(H).max()  # step 1/L: the largest safe constant step for an L-smooth function
    path = gradient_descent(lambda p: H @ p - C, [-2.5, 2.0], lr, 10_000, cfg.gd_tol)
    checks["gd_quadratic_argmin"] = np.linalg.norm(path[-1] - x_star)
    return checks, {"quadratic": path, "x_star": x_star, "n_trapezoid": n_trap}


def method_limited_checks(cfg: Config) -> tuple[dict[str, dict], np.ndarray]:
    """Errors of methods whose own truncation keeps them above 1e-6, each beside its theoretical bound."""
    xs = np.linspace(-3, 3, 241)
    h = cfg.forward_h
    limited = {
        # Forward difference: error <= h/2 max|f''| (Taylor remainder) + 2 eps max|f| / h (round-off, |f| <= 1).
        "forward_diff_max_abs": {
            "error": np.abs((f(xs + h) - f(xs)) / h - df(xs)).max(),
            "bound": h / 2 * np.abs(d2f(np.linspace(-3, 3 + h, 20001))).max() + 2 * EPS / h},
        f"trapezoid_sin_n{cfg.coarse_intervals}": {
            "error": abs(trapezoid(np.sin, 0, np.pi, cfg.coarse_intervals) - 2.0),
            "bound": np.pi**3 / (12 * cfg.coarse_intervals**2)},
    }
    path = gradient_descent(rosen_grad, [-1.5, 2.0], 1e-3, cfg.rosenbrock_steps)
    limited["gd_rosenbrock_argmin"] = {"error": np.linalg.norm(path[-1] - 1.0), "bound": None,
                                       "steps": len(path) - 1}
    return limited, path


def plot_function(path, cfg: Config) -> None:
    xs = np.linspace(-3, 3, 241)
    fig, ax = new_figure(size=(6, 3.8))
    ax.plot(xs, f(xs), label="f(x) = sin(x)·exp(-x²/4)")
    ax.plot(xs, df(xs), label="f'(x) analytic", lw=3, alpha=0.4)
    ax.plot(xs[::8], central_diff(f, xs[::8], cfg.h_central), "k.", label="f'(x) central difference")
    ax.fill_between(xs, f(xs), alpha=0.1)
    ax.set(xlabel="x", title="a function, its derivative (analytic vs numeric)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, path)


def loglog(path, series: dict[str, np.ndarray], x: np.ndarray, xlabel: str, ylabel: str, title: str,
           slopes: dict[str, tuple[float, float]] | None = None) -> None:
    """Log-log error curves; `slopes` adds dashed reference lines c·x^p for the expected order."""
    fig, ax = new_figure(size=(5.8, 4))
    for name, values in series.items():
        ax.loglog(x, np.maximum(values, 1e-17), marker="o", ms=3, label=name)  # exact zeros can't be drawn
    for name, (p, c) in (slopes or {}).items():
        ref = c * x**p
        keep = ref > 1e-16  # below double round-off the reference line means nothing
        ax.loglog(x[keep], ref[keep], "k--", lw=0.8, alpha=0.6, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    save(fig, path)


def plot_error_vs_h(path) -> None:
    hs = np.logspace(-13, -1, 49)
    x0 = 0.7
    fwd = np.abs((f(x0 + hs) - f(x0)) / hs - df(x0))
    cen = np.abs(central_diff(f, x0, hs) - df(x0))
    loglog(path, {"forward difference": fwd, "central difference": cen}, hs, "step h", "|error| at x = 0.7",
           "truncation falls with h, round-off grows like eps/h", {"O(h)": (1, 0.5), "O(h²)": (2, 0.3)})


def plot_error_vs_n(path) -> None:
    ns = np.unique(np.logspace(0.7, 3.3, 25).astype(int) // 2 * 2)
    series = {"trapezoid": np.array([abs(trapezoid(np.sin, 0, np.pi, n) - 2) for n in ns]),
              "Simpson": np.array([abs(simpson(np.sin, 0, np.pi, n) - 2) for n in ns])}
    loglog(path, series, ns.astype(float), "intervals n", "|error| of the integral of sin on [0, π]",
           "quadrature error against the number of intervals", {"n⁻²": (-2, 1.6), "n⁻⁴": (-4, 1.0)})


def plot_descent(path, paths: dict) -> None:
    fig, axes = new_figure(ncols=2, size=(11, 4.5))
    for ax, name, fn, grad, box in (
        (axes[0], "quadratic", quad, lambda P: P @ H - C, (-3, 3, -2.5, 2.5)),
        (axes[1], "rosenbrock", rosen, rosen_grad, (-2, 2, -1, 3)),
    ):
        gx, gy = np.meshgrid(np.linspace(box[0], box[1], 200), np.linspace(box[2], box[3], 200))
        grid = np.stack([gx, gy], axis=-1)
        z = fn(grid)
        ax.contour(gx, gy, np.log1p(z - z.min()), levels=25, cmap="viridis", linewidths=0.7)
        qx, qy = np.meshgrid(np.linspace(box[0], box[1], 15), np.linspace(box[2], box[3], 15))
        g = grad(np.stack([qx.ravel(), qy.ravel()], axis=1))
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)  # directions only
        ax.quiver(qx.ravel(), qy.ravel(), -g[:, 0], -g[:, 1], color="grey", alpha=0.6, width=0.003)
        p = paths[name]
        ax.plot(p[:, 0], p[:, 1], "r.-", ms=2, lw=1, label=f"gradient descent ({len(p) - 1} steps)")
        goal = paths["x_star"] if name == "quadratic" else np.array([1.0, 1.0])
        ax.plot(*goal, "k*", ms=12, label="analytic minimum")
        ax.set(title=f"{name}: -gradient field and descent path", xlabel="x", ylabel="y")
        ax.legend(fontsize=7, loc="lower left")
    save(fig, path)


def run(cfg: Config, ctx: RunContext) -> dict:
    start = time.perf_counter()
    rng = np.random.default_rng(ctx.seed)
    checks = {k: float(v) for k, v in linear_algebra_checks(cfg.matrix_size, rng).items()}
    calc, paths = calculus_checks(cfg)
    checks |= {k: float(v) for k, v in calc.items()}
    limited, paths["rosenbrock"] = method_limited_checks(cfg)
    compute_time = time.perf_counter() - start
    for name, err in checks.items():
        ctx.log(check=name, error=err, counted=True)
        ctx.say(f"{name:32s} {err:.2e}")
    for name, rec in limited.items():
        ctx.log(check=name, **rec, counted=False)
        bound = f"(bound {rec['bound']:.2e})" if rec["bound"] is not None else "(no bound: step-limited)"
        ctx.say(f"{name:32s} {rec['error']:.2e} {bound}  (method-limited: not in worst_error)")
    worst = max(checks, key=checks.get)

    plot_function(ctx.plots / "function_and_derivative.png", cfg)
    plot_error_vs_h(ctx.plots / "derivative_error_vs_h.png")
    plot_error_vs_n(ctx.plots / "integration_error_vs_n.png")
    plot_descent(ctx.plots / "gradient_descent.png", paths)
    within = all(r["bound"] is None or r["error"] <= r["bound"] for r in limited.values())
    return {
        "worst_error": checks[worst], "worst_check": worst, "checks": checks,
        "method_limited": {k: {kk: float(v) if isinstance(v, (float, np.floating)) else v for kk, v in r.items()}
                           for k, r in limited.items()},
        "method_limited_within_bound": within,
        "matrix_size": cfg.matrix_size, "trapezoid_intervals": paths["n_trapezoid"],
        "gd_steps_quadratic": len(paths["quadratic"]) - 1,
        "data_source": "generated: seeded random matrices and closed-form functions",
        "compute_time_s": round(compute_time, 3),
    }


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"worst error vs analytic {m['worst_error']:.1e} ({m['worst_check']}); method-limited checks inside their "
            f"bounds: {'yes' if m['method_limited_within_bound'] else 'NO'}")
