"""1.2.2 tree-iris — a CART decision tree from scratch on Iris, beside scikit-learn's.

Roadmap: "Implement a decision tree classifier to predict species of flowers using the Iris dataset."

What it does: a stratified, seeded 70/30 split of the 150 flowers; our CART (genai_roadmap.scratch.tree:
vectorised split search, gini or entropy, max_depth / min_samples_split / min_samples_leaf) and sklearn's
DecisionTreeClassifier with the same settings; test accuracy of both, the test points where they disagree, the
fit-time ratio. sklearn breaks ties between equally good splits (Iris has several: petal length and petal width
separate setosa equally well) by a random feature order, so the run also fits sklearn with 20 random_states and
reports the range of its accuracies — ours should fall inside it. Plots: the learned tree, the decision regions
of both trees on petal length × petal width, and the confusion matrix.

Result (cpu preset, seed 0): test accuracy 0.956 (43/45) for ours, 0.978 for sklearn with random_state=0
(1 sample apart, target ±1), sklearn's range over random_states 0.956-0.978.       roadmap run 1.2.2
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np

from ...config import param
from ...data.tabular import load_iris
from ...runs import RunContext
from ...scratch.tree import DecisionTreeClassifier
from ...viz import confusion_matrix_plot, new_figure, save
from ...viz.tabular import Report, draw_tree

TARGET = "species"
BOUNDARY_FEATURES = ("petal length (cm)", "petal width (cm)")


@dataclass
class Config:
    test_size: float = param(0.3, "fraction of flowers held out (stratified by species)", gt=0, lt=1)
    criterion: Literal["gini", "entropy"] = param("gini", "split quality: gini or entropy")
    max_depth: int | None = param(None, "deepest level allowed (None = grow until leaves are pure)", min=1)
    min_samples_split: int = param(2, "a node with fewer samples is not split", min=2)
    min_samples_leaf: int = param(1, "each child of a split keeps at least this many samples", min=1)
    timing_repeats: int = param(20, "fits timed per model; the fastest is kept", min=1)
    tie_states: int = param(20, "sklearn random_states tried to show the spread its tie-breaking causes", min=1)


PRESETS = {"smoke": {"timing_repeats": 2, "tie_states": 3}, "cpu": {}, "full": {}}


def settings(cfg: Config) -> dict:
    return {"criterion": cfg.criterion, "max_depth": cfg.max_depth, "min_samples_split": cfg.min_samples_split,
            "min_samples_leaf": cfg.min_samples_leaf}


def timed_fit(make, X, y, repeats: int):
    """Fit a fresh model `repeats` times; return the last one and the fastest fit time."""
    best, model = np.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        model = make().fit(X, y)
        best = min(best, time.perf_counter() - start)
    return model, best


def plot_boundaries(path, models: dict, X_tr, y_tr, X_te, y_te, classes, names) -> None:
    """Decision regions of each model on two features, training points as dots, test points as crosses."""
    lo, hi = np.minimum(X_tr.min(0), X_te.min(0)) - 0.3, np.maximum(X_tr.max(0), X_te.max(0)) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    codes = {c: i for i, c in enumerate(classes)}
    light = [plt.get_cmap("tab20").colors[2 * i + 1] for i in range(10)]  # pale twin of point colour C{i}
    fig, axes = new_figure(ncols=len(models), size=(5.2 * len(models), 4.4))
    for ax, (title, model) in zip(np.atleast_1d(axes), models.items(), strict=True):
        z = np.vectorize(codes.get)(model.predict(grid)).reshape(gx.shape)
        ax.contourf(gx, gy, z, levels=np.arange(len(classes) + 1) - 0.5, colors=light[: len(classes)], alpha=0.8)
        for i, c in enumerate(classes):
            color = f"C{i}"
            ax.scatter(*X_tr[y_tr == c].T, s=14, color=color, edgecolor="k", lw=0.3, label=f"{c} (train)")
            ax.scatter(*X_te[y_te == c].T, s=28, color=color, marker="x", label=f"{c} (test)")
        acc = float(np.mean(model.predict(X_te) == y_te))
        ax.set(xlabel=names[0], ylabel=names[1], title=f"{title}: test acc {acc:.3f}")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper left")
    save(fig, path)


def run(cfg: Config, ctx: RunContext) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier as SkTree
    from sklearn.tree import export_text

    df = load_iris()
    features = [c for c in df.columns if c != TARGET]
    X, y = df[features].to_numpy(np.float64), df[TARGET].astype(str).to_numpy()
    classes = sorted(set(y))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=cfg.test_size, random_state=ctx.seed, stratify=y)
    ctx.say(f"Iris: {len(X_tr)} train / {len(X_te)} test flowers (stratified), settings {settings(cfg)}")

    ours, t_ours = timed_fit(lambda: DecisionTreeClassifier(**settings(cfg)), X_tr, y_tr, cfg.timing_repeats)
    sk, t_sk = timed_fit(lambda: SkTree(**settings(cfg), random_state=ctx.seed), X_tr, y_tr, cfg.timing_repeats)
    pred, sk_pred = ours.predict(X_te), sk.predict(X_te)
    acc, sk_acc = accuracy_score(y_te, pred), accuracy_score(y_te, sk_pred)
    gap_samples = int(round(abs(acc - sk_acc) * len(y_te)))
    tie_accs = [accuracy_score(y_te, SkTree(**settings(cfg), random_state=r).fit(X_tr, y_tr).predict(X_te))
                for r in range(cfg.tie_states)]
    ctx.say(f"test accuracy: ours {acc:.4f}, sklearn {sk_acc:.4f} ({gap_samples} sample(s) apart; "
            f"sklearn over {cfg.tie_states} random_states: {min(tie_accs):.4f}-{max(tie_accs):.4f})")
    ctx.say(f"fit time: ours {t_ours * 1e3:.2f} ms, sklearn {t_sk * 1e3:.2f} ms")

    # Two-feature trees for the decision-region picture.
    cols = [features.index(f) for f in BOUNDARY_FEATURES]
    two = {"ours": DecisionTreeClassifier(**settings(cfg)).fit(X_tr[:, cols], y_tr),
           "sklearn": SkTree(**settings(cfg), random_state=ctx.seed).fit(X_tr[:, cols], y_tr)}
    plot_boundaries(ctx.plots / "decision_boundary.png", two, X_tr[:, cols], y_tr, X_te[:, cols], y_te,
                    classes, BOUNDARY_FEATURES)
    draw_tree(ctx.plots / "tree.png", ours, features, list(ours.classes_),
              title=f"our CART on Iris ({cfg.criterion}), train acc {accuracy_score(y_tr, ours.predict(X_tr)):.3f}")
    confusion_matrix_plot(ctx.plots / "confusion_matrix.png", confusion_matrix(y_te, pred, labels=classes),
                          classes, title=f"our tree, test acc {acc:.3f}")
    (Report("Decision tree from scratch — Iris")
     .text(f"Stratified split {len(X_tr)}/{len(X_te)} (seed {ctx.seed}); settings {settings(cfg)}.")
     .bullets([f"ours: test accuracy {acc:.4f}, {ours.node_count} nodes, depth {ours.get_depth()}",
               f"sklearn (random_state={ctx.seed}): {sk_acc:.4f}, {sk.tree_.node_count} nodes, "
               f"depth {sk.get_depth()}",
               f"test points where the two disagree: {int(np.sum(pred != sk_pred))}",
               f"sklearn over random_states 0..{cfg.tie_states - 1}: {min(tie_accs):.4f}-{max(tie_accs):.4f} "
               "(its tie-breaking between equally good splits is random)"])
     .heading("Our tree").text("```\n" + ours.to_text(features) + "```")
     .heading("sklearn's tree").text("```\n" + export_text(sk, feature_names=features) + "```")
     .image(ctx.plots / "tree.png").image(ctx.plots / "decision_boundary.png")
     .write(ctx.dir))

    return {
        "test_acc": float(acc), "sklearn_test_acc": float(sk_acc), "acc_gap_samples": gap_samples,
        "within_one_sample_of_sklearn": gap_samples <= 1,
        "n_test_disagreements": int(np.sum(pred != sk_pred)),
        "sklearn_acc_min_over_random_states": float(min(tie_accs)),
        "sklearn_acc_max_over_random_states": float(max(tie_accs)),
        "within_sklearn_tie_range": bool(min(tie_accs) <= acc <= max(tie_accs)),
        "train_acc": float(accuracy_score(y_tr, ours.predict(X_tr))),
        "n_nodes": ours.node_count, "depth": ours.get_depth(), "n_leaves": ours.get_n_leaves(),
        "sklearn_n_nodes": int(sk.tree_.node_count), "sklearn_depth": int(sk.get_depth()),
        "boundary_test_acc_ours": float(np.mean(two["ours"].predict(X_te[:, cols]) == y_te)),
        "boundary_test_acc_sklearn": float(np.mean(two["sklearn"].predict(X_te[:, cols]) == y_te)),
        "fit_time_s": t_ours, "sklearn_fit_time_s": t_sk, "fit_time_ratio_vs_sklearn": t_ours / t_sk,
        "n_train": len(X_tr), "n_test": len(X_te), "data_source": "iris:sklearn.datasets.load_iris",
    }


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"test acc {m['test_acc']:.3f} vs sklearn {m['sklearn_test_acc']:.3f} ({m['acc_gap_samples']} "
            f"sample(s) apart; "
            f"sklearn over random_states {m['sklearn_acc_min_over_random_states']:.3f}-"
            f"{m['sklearn_acc_max_over_random_states']:.3f}); fit {m['fit_time_ratio_vs_sklearn']:.1f}x sklearn's time")
