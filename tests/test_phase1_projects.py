"""Phase 1 projects: one smoke run each (seconds) asserting real properties; cpu presets in the slow tier."""

import json

import numpy as np
import pandas as pd
import pytest

from genai_roadmap import registry
from genai_roadmap.errors import UserError
from genai_roadmap.runs import execute


def run(project_id, tmp_path, preset="smoke", **overrides):
    return execute(registry.get(project_id), preset=preset, overrides=overrides, out=tmp_path, quiet=True)


def plots(run_dir):
    return {p.name for p in (run_dir / "plots").glob("*.png") if p.stat().st_size > 1000}


def test_math_numpy(tmp_path):
    run_dir, m = run("1.1.1", tmp_path)
    assert m["worst_error"] <= 1e-6 and m["worst_error"] == max(m["checks"].values())
    assert len(m["checks"]) >= 15 and m["method_limited_within_bound"]
    # The method-limited checks are honestly larger than 1e-6: that is why they are reported apart.
    assert all(rec["error"] > 1e-6 for rec in m["method_limited"].values())
    assert {"gradient_descent.png", "derivative_error_vs_h.png", "integration_error_vs_n.png"} <= plots(run_dir)


def test_math_numpy_coarse_settings_break_the_bound(tmp_path):
    # A visibly too-large step must show up in worst_error: the checks are not hard-wired to pass.
    _, m = run("1.1.1", tmp_path, h_central=0.1)
    assert m["worst_error"] > 1e-6 and m["worst_check"] in ("central_diff_max_abs", "gradient_2d_max_abs")


@pytest.mark.realdata
def test_pandas_wrangling_titanic(tmp_path, need_data):
    run_dir, m = run("1.1.2", tmp_path)
    assert m["missing_before"] > 0 and m["missing_after"] == 0
    cleaned = pd.read_csv(run_dir / "tables" / "cleaned.csv")
    assert cleaned.notna().all().all() and len(cleaned) == m["rows_out"] == 200
    assert {"port", "ticket_group_size", "has_Cabin"} <= set(cleaned.columns) and "Cabin" not in cleaned
    summary = (run_dir / "summary.md").read_text()
    assert "## Merges" in summary and "median within Pclass" in summary
    assert (run_dir / "summary.html").exists() and "missingness.png" in plots(run_dir)


def _user_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"city": rng.choice(["a", "b", "c"], n), "x": rng.normal(size=n),
                       "label": rng.choice([0, 1], n), "shop": rng.choice(["s1", "s2"], n)})
    df.loc[::7, "x"] = np.nan
    df.loc[::11, "city"] = None
    df.loc[::13, "label"] = np.nan
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    pd.DataFrame({"shop": ["s1", "s2"], "size": [10, 20]}).to_csv(tmp_path / "shops.csv", index=False)
    return path, df


def test_pandas_wrangling_any_csv(tmp_path):
    path, df = _user_csv(tmp_path)
    run_dir, m = run("1.1.2", tmp_path, preset="cpu", csv=str(path), target="label", group="city",
                     merge_csv=str(tmp_path / "shops.csv"), merge_on="shop")
    assert m["missing_after"] == 0 and m["rows_dropped"] == int(df["label"].isna().sum())
    cleaned = pd.read_csv(run_dir / "tables" / "cleaned.csv")
    assert set(cleaned["size"]) == {10, 20}  # the merged column arrived on every row
    merges = pd.read_csv(run_dir / "tables" / "merges.csv")
    assert merges["rows unmatched"].sum() == 0


def test_pandas_wrangling_bad_input(tmp_path):
    with pytest.raises(UserError, match="not found"):
        run("1.1.2", tmp_path, csv=str(tmp_path / "missing.csv"))
    path, _ = _user_csv(tmp_path)
    with pytest.raises(UserError, match="target column"):
        run("1.1.2", tmp_path, csv=str(path), target="nope")


@pytest.mark.realdata
def test_linreg_boston(tmp_path, need_data):
    run_dir, m = run("1.2.1", tmp_path)
    assert m["r2_diff_vs_sklearn"] <= 1e-6 and m["coef_max_diff_vs_sklearn"] < 1e-8
    assert 0.5 < m["r2_test"] < 0.9 and m["rmse_test"] > m["mae_test"] > 0
    assert m["gd_batch_final_train_mse"] < 1.5 * m["closed_form_train_mse"]
    assert "Black residents" in m["ethics_note"] and "Ethics note" in (run_dir / "report.md").read_text()
    assert {"predicted_vs_actual.png", "loss_curve.png", "coefficients.png"} <= plots(run_dir)
    losses = [r["train_mse"] for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines())
              if r.get("model") == "gd_batch"]
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.realdata
def test_linreg_boston_target_fails_when_gradient_descent_has_not_converged(tmp_path, need_data):
    """The target used to compare np.linalg.lstsq with sklearn: it held whatever the code written here did."""
    _, m = run("1.2.1", tmp_path, preset="cpu", timing_repeats=1)
    assert registry.get("1.2.1").target.met(m) and m["r2_gap_normal_eq_and_gd_vs_sklearn"] <= 1e-6
    _, m = run("1.2.1", tmp_path, preset="cpu", timing_repeats=1, gd_epochs=20)
    assert m["r2_diff_vs_sklearn"] <= 1e-6  # the library solvers still agree...
    assert not registry.get("1.2.1").target.met(m)  # ...but 20 steps of gradient descent are not the optimum


@pytest.mark.realdata
def test_linreg_boston_same_seed_same_metrics(tmp_path, need_data):
    _, a = run("1.2.1", tmp_path)
    _, b = run("1.2.1", tmp_path)
    keys = [k for k in a if not k.endswith("time_s") and "time_ratio" not in k]
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_tree_iris(tmp_path):
    run_dir, m = run("1.2.2", tmp_path)
    assert m["test_acc"] >= 0.93 and m["acc_gap_samples"] <= 1 and m["within_sklearn_tie_range"]
    assert m["train_acc"] == 1.0 and m["n_nodes"] == 2 * m["n_leaves"] - 1
    assert {"tree.png", "decision_boundary.png", "confusion_matrix.png"} <= plots(run_dir)
    assert "petal" in (run_dir / "report.md").read_text()


def test_tree_iris_depth_limit(tmp_path):
    _, m = run("1.2.2", tmp_path, max_depth=1, criterion="entropy")
    assert m["depth"] == 1 and m["n_leaves"] == 2 and m["test_acc"] < 0.7  # a stump can only split off setosa


@pytest.mark.realdata
def test_titanic_eda(tmp_path, need_data):
    run_dir, m = run("1.3.1", tmp_path)
    assert m["cv_acc"] >= 0.78 and m["cv_acc"] > m["baseline_acc"]["majority class"] + 0.1
    assert m["age_imputation_rule"] == "median by Title"
    assert m["survival_rate_by"]["Sex"]["female"] > m["survival_rate_by"]["Sex"]["male"]
    report = (run_dir / "report.md").read_text()
    assert "Imputing Age" in report and "GroupMedianImputer" in report
    assert {"missingness.png", "survival_by_category.png", "age_fare_by_outcome.png"} <= plots(run_dir)


def test_titanic_eda_any_csv(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n)
    color = rng.choice(["red", "blue"], n)
    label = ((x + (color == "red") + 0.3 * rng.normal(size=n)) > 0.5).astype(int)
    df = pd.DataFrame({"id": np.arange(n), "x": x, "color": color, "label": label})
    df.loc[::9, "x"] = np.nan
    df.to_csv(tmp_path / "d.csv", index=False)
    run_dir, m = run("1.3.1", tmp_path, csv=str(tmp_path / "d.csv"), target="label")
    assert m["cv_acc"] > m["baseline_acc"]["majority class"] + 0.15
    assert m["n_features_numeric"] == 1 and m["n_features_categorical"] == 1  # id left out
    with pytest.raises(UserError, match="distinct values"):
        run("1.3.1", tmp_path, csv=str(tmp_path / "d.csv"), target="x")


def test_pca_digits(tmp_path):
    run_dir, m = run("1.3.2", tmp_path, dataset="digits")
    assert m["k95_diff_vs_sklearn"] == 0 and 20 < m["k95"] < 40 and m["data_source"] == "digits:sklearn-8x8"
    assert m["evr_max_diff_vs_sklearn"] < 1e-10
    mse = [m["test_recon_mse"][k] for k in sorted(m["test_recon_mse"], key=int)]
    assert all(a > b for a, b in zip(mse, mse[1:], strict=False))  # more components, better reconstructions
    assert {"explained_variance.png", "scatter_2d.png", "reconstructions.png"} <= plots(run_dir)


@pytest.mark.realdata
def test_pca_mnist_smoke(tmp_path, need_data):
    _, m = run("1.3.2", tmp_path)
    assert m["data_source"].startswith("mnist") and m["n_features"] == 784 and m["n_train"] == 2000
    assert m["k95_diff_vs_sklearn"] == 0 and 100 < m["k95"] < 200


def _sorted_numeric_csv(tmp_path, n=400):
    """All-numeric, sorted by its 0/1 target (as an export often is); `signal` carries the target, `noise*` not."""
    rng = np.random.default_rng(0)
    label = np.repeat([0, 1], n // 2)
    df = pd.DataFrame({f"noise{i}": rng.normal(size=n) for i in range(4)})
    df.insert(2, "signal", label * 2.0 + rng.normal(size=n))
    df["signal_copy"] = df["signal"] * 3 + rng.normal(scale=0.1, size=n)
    df["label"] = label
    path = tmp_path / "sorted.csv"
    df.to_csv(path, index=False)
    return path


def test_titanic_eda_any_csv_sorted_by_target_with_max_rows(tmp_path):
    """max_rows took the head of the file: one class only ("target has 1 distinct values")."""
    path = _sorted_numeric_csv(tmp_path)
    run_dir, m = run("1.3.1", tmp_path, csv=str(path), target="label", max_rows=100)
    assert m["n_rows"] == 100 and m["baseline_acc"]["majority class"] == pytest.approx(0.5, abs=0.06)


def test_titanic_eda_all_numeric_csv_shows_informative_features(tmp_path):
    """On an all-numeric CSV the EDA plotted the first three columns, an empty missing table and a blank plot."""
    path = _sorted_numeric_csv(tmp_path)
    run_dir, m = run("1.3.1", tmp_path, csv=str(path), target="label")
    mi = m["mutual_information"]
    assert set(list(mi)[:2]) == {"signal", "signal_copy"} and min(mi["signal"], mi["signal_copy"]) > max(
        v for k, v in mi.items() if k.startswith("noise"))
    assert m["plotted_features"][:2] in (["signal", "signal_copy"], ["signal_copy", "signal"])
    assert {"correlations.png", "numeric_by_target.png"} <= plots(run_dir)
    assert "missingness.png" not in plots(run_dir)
    report = (run_dir / "report.md").read_text()
    assert "mutual information" in report.lower() and "None: every cell has a value." in report


def test_titanic_eda_csv_whose_features_are_all_empty_is_one_user_error(tmp_path):
    path = tmp_path / "empty.csv"
    pd.DataFrame({"a": [np.nan] * 20, "b": [None] * 20, "label": [0, 1] * 10}).to_csv(path, index=False)
    with pytest.raises(UserError, match="no usable feature columns"):
        run("1.3.1", tmp_path, csv=str(path), target="label")
    with pytest.raises(UserError, match="needs at least 5 per class"):
        run("1.3.1", tmp_path, csv=str(_sorted_numeric_csv(tmp_path, n=8)), target="label")


def test_pandas_wrangling_cleaned_table_has_no_target_derived_column(tmp_path):
    """cleaned.csv gained `group_target_mean`: a model trained on it would see the target."""
    path, df = _user_csv(tmp_path)
    run_dir, m = run("1.1.2", tmp_path, preset="cpu", csv=str(path), target="label", group="city")
    cleaned = pd.read_csv(run_dir / "tables" / "cleaned.csv")
    assert set(cleaned.columns) <= set(df.columns) | {"group_size"}
    group_means = pd.read_csv(run_dir / "tables" / "group_means.csv", index_col=0)
    assert "label" in group_means.index  # the target's mean per group: in the summary, not in the table
    with pytest.raises(UserError, match="same column"):
        run("1.1.2", tmp_path, csv=str(path), target="label", group="label")


def test_pandas_wrangling_edge_cases(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("a,b,label\n1,x,0\n")
    with pytest.raises(UserError, match="1 data row"):
        run("1.1.2", tmp_path, csv=str(one))
    run_dir, m = run("1.1.2", tmp_path, csv=str(_sorted_numeric_csv(tmp_path)), target="label", max_rows=50)
    cleaned = pd.read_csv(run_dir / "tables" / "cleaned.csv")  # not a glob: the refused run left a failed folder
    assert m["rows_out"] == 50 and sorted(cleaned["label"].value_counts().tolist()) == [25, 25]
