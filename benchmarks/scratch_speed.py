"""Fit time of the from-scratch PCA and CART tree against scikit-learn's, measured in the same process.

    PYTHONPATH=src ROADMAP_DATA_DIR=... python benchmarks/scratch_speed.py [--repeats 5] [--tree-fits 50]

PCA: MNIST's 60000×784 training pixels scaled to [0, 1] (as project 1.3.2 fits them). Each repeat times,
one after the other, our PCA with solver="auto" (the covariance eigendecomposition here) and sklearn's
PCA(n_components=0.95) (what 1.3.2 compares with; its "auto" solver is also covariance_eigh here); with
--with-svd also our SVD route, which is what fitting did before. Tree: Iris, the stratified 70/30 split
1.2.2 uses (seed 0), default settings; each repeat takes the fastest of `tree_fits` fits per model.
Medians over repeats; ratios = ours / sklearn.
Interleaving the models inside each repeat means a busy neighbour slows both sides of a ratio alike;
absolute times still move with the machine's load. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def timed(fit) -> float:
    start = time.perf_counter()
    fit()
    return time.perf_counter() - start


def pca_times(repeats: int, with_svd: bool) -> dict:
    from sklearn.decomposition import PCA as SkPCA

    from genai_roadmap.data.images import load_mnist
    from genai_roadmap.scratch import PCA

    data = load_mnist()
    X = data.x_train.reshape(len(data.x_train), -1).astype(np.float64) / 255.0
    runs = {"ours_auto": [], "ours_svd": [], "sklearn": []} if with_svd else {"ours_auto": [], "sklearn": []}
    for _ in range(repeats):
        runs["ours_auto"].append(timed(lambda: PCA().fit(X)))
        if with_svd:
            runs["ours_svd"].append(timed(lambda: PCA(solver="svd").fit(X)))
        runs["sklearn"].append(timed(lambda: SkPCA(n_components=0.95, random_state=0).fit(X)))
    ours, sk = PCA().fit(X), SkPCA(n_components=0.95, random_state=0).fit(X)
    return {"data": f"MNIST train {X.shape[0]}x{X.shape[1]} float64", "ours_solver": ours.solver_,
            "sklearn_solver": sk._fit_svd_solver, "k95_ours": ours.n_components_for(0.95),
            "k95_sklearn": int(sk.n_components_),
            **summary(runs, *[name for name in runs if name != "sklearn"])}


def tree_times(repeats: int, fits: int) -> dict:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier as SkTree

    from genai_roadmap.scratch import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    runs = {"ours": [], "sklearn": []}
    for _ in range(repeats):
        runs["ours"].append(min(timed(lambda: DecisionTreeClassifier().fit(X_tr, y_tr)) for _ in range(fits)))
        runs["sklearn"].append(min(timed(lambda: SkTree(random_state=0).fit(X_tr, y_tr)) for _ in range(fits)))
    return {"data": f"Iris train {X_tr.shape[0]}x{X_tr.shape[1]}", "fits_per_repeat": fits,
            **summary(runs, "ours")}


def summary(runs: dict[str, list[float]], *ours: str) -> dict:
    out = {f"{name}_median_s": float(np.median(t)) for name, t in runs.items()}
    out |= {f"{name}_all_s": [round(x, 5) for x in t] for name, t in runs.items()}
    for name in ours:
        out[f"{name}_vs_sklearn_ratio"] = out[f"{name}_median_s"] / out["sklearn_median_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing rounds; medians are reported")
    parser.add_argument("--tree-fits", type=int, default=50, help="tree fits per round (fastest kept)")
    parser.add_argument("--with-svd", action="store_true", help="also time our SVD route (~10x slower)")
    parser.add_argument("--skip-pca", action="store_true", help="time the tree only (no MNIST needed)")
    args = parser.parse_args()
    result = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cpus",
              "caveat": "timings move with other processes on the machine; compare ratios, not seconds"}
    if not args.skip_pca:
        result["pca"] = pca_times(args.repeats, args.with_svd)
    result["tree"] = tree_times(args.repeats, args.tree_fits)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
