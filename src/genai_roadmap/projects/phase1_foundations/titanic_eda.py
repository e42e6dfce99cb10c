"""1.3.1 titanic-eda — exploratory analysis of the Titanic passengers, and a baseline that survives 5-fold CV.

Roadmap: "Perform exploratory data analysis (EDA) on the Titanic dataset—clean the data, deal with missing values,
and visualize key patterns."

What it does: profiles the 891 passengers (types, missingness), engineers features from the raw columns (title
from the name, family size, travelling alone, cabin known, deck, log fare), chooses how to impute Age by measuring
it — the median age per title against the overall median and the median per class × sex, each scored by
cross-validated error on the ages that are known — and plots survival by sex, class, title and port, age and
fare by outcome, and the missingness. A baseline classifier (logistic regression, or a random forest) runs in a
scikit-learn Pipeline whose age imputer is fitted inside each CV fold, so no fold sees statistics of its test
rows; it is compared with the majority class and the "women survive" rule. Everything lands in report.md / .html.
With `--set csv=... --set target=...` it runs a generic EDA and the same kind of baseline on any CSV: features
are ranked by mutual information with the target (scikit-learn's estimator), the most informative ones are
plotted (rates by category, histograms by outcome, a correlation heatmap of the top numeric features), and
sections with nothing to show (no missing values, no categorical columns) are left out. `max_rows` takes a
seeded random sample stratified by the target, never the head of the file.

Result (cpu preset, seed 0): Age by title median (CV MAE 9.4 years, vs 10.4 by class × sex and 11.3 for the
overall median); 5-fold CV accuracy 0.825 ± 0.025 with logistic regression (target 0.78; the "women survive"
rule 0.787, majority class 0.616; a random forest also 0.825).
                                                                             roadmap run 1.3.1
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ...config import param
from ...data.tabular import load_titanic, read_user_csv, sample_rows
from ...errors import UserError
from ...runs import RunContext
from ...viz.tabular import (
    Report,
    correlation_heatmap,
    histogram_by_target_plot,
    missing_table,
    missingness_plot,
    rate_by_category_plot,
)

TITLES = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}  # French / modern forms of the common titles
COMMON_TITLES = ("Mr", "Mrs", "Miss", "Master")


@dataclass
class Config:
    csv: str = param("", "a CSV to analyse instead of Titanic (then --set target=... is required)")
    target: str = param("", "target column (Titanic: Survived)")
    model: Literal["logreg", "forest"] = param("logreg", "baseline: logistic regression or a random forest")
    folds: int = param(5, "cross-validation folds (stratified, shuffled with the run seed)", min=2)
    max_rows: int = param(0, "use only the first N rows (0 = all)", min=0)


PRESETS = {"smoke": {"max_rows": 400}, "cpu": {}, "full": {}}


AGE_RULES = {"overall median": (), "median by Pclass × Sex": ("Pclass", "Sex"), "median by Title": ("Title",)}


class GroupMedianImputer(BaseEstimator, TransformerMixin):
    """Fill `column` with its median within the groups of `by` (learned in fit), else the overall median."""

    def __init__(self, column: str = "Age", by: tuple[str, ...] = ("Title",)) -> None:
        self.column, self.by = column, by

    def fit(self, X: pd.DataFrame, y=None) -> GroupMedianImputer:
        self.overall_ = float(X[self.column].median())
        self.medians_ = X.groupby(list(self.by))[self.column].median().rename("_median") if self.by else None
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        if self.medians_ is not None:
            X[self.column] = X[self.column].fillna(X.join(self.medians_, on=list(self.by))["_median"])
        X[self.column] = X[self.column].fillna(self.overall_)
        return X


def engineer(df: pd.DataFrame) -> pd.DataFrame:
    """Row-wise features (no statistics across rows, so they are safe to compute before cross-validation)."""
    df = df.copy()
    title = df["Name"].str.extract(r",\s*([^.]+)\.", expand=False).str.strip().replace(TITLES)
    df["Title"] = title.where(title.isin(COMMON_TITLES), "Rare")
    df["FamilySize"] = df["SibSp"] + df["Parch"] + 1
    df["IsAlone"] = (df["FamilySize"] == 1).astype(int)
    df["HasCabin"] = df["Cabin"].notna().astype(int)
    df["Deck"] = df["Cabin"].str[0].fillna("U")
    df["LogFare"] = np.log1p(df["Fare"])
    df["AgeBand"] = pd.cut(df["Age"], [0, 12, 18, 30, 45, 60, 100], labels=["0-12", "12-18", "18-30", "30-45",
                                                                           "45-60", "60+"])
    return df


def imputation_choice(df: pd.DataFrame, folds: int, seed: int) -> pd.DataFrame:
    """Cross-validated mean absolute error of each way to guess a known age: the evidence for the choice."""
    from sklearn.model_selection import KFold

    known = df[df["Age"].notna()].reset_index(drop=True)
    rows = []
    for name, by in AGE_RULES.items():
        errors = [np.mean(np.abs(GroupMedianImputer("Age", by).fit(known.iloc[tr])
                                 .transform(known.iloc[te].assign(Age=np.nan))["Age"] - known["Age"].iloc[te]))
                  for tr, te in KFold(folds, shuffle=True, random_state=seed).split(known)]
        rows.append((name, float(np.mean(errors))))
    return pd.DataFrame(rows, columns=["rule", "cv_mae_years"]).set_index("rule").sort_values("cv_mae_years")


def make_pipeline(numeric: list[str], categorical: list[str], model: str, seed: int,
                  age_by: tuple[str, ...] | None):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         categorical)])
    clf = (LogisticRegression(max_iter=2000) if model == "logreg"
           else RandomForestClassifier(n_estimators=300, min_samples_leaf=3, random_state=seed, n_jobs=1))
    steps = [("impute_age", GroupMedianImputer("Age", age_by))] if age_by is not None else []
    return Pipeline([*steps, ("columns", columns), ("model", clf)])


def load(cfg: Config, seed: int) -> tuple[pd.DataFrame, str, str, bool]:
    titanic = not cfg.csv
    df = load_titanic() if titanic else read_user_csv(cfg.csv)
    target = cfg.target or ("Survived" if titanic else "")
    if not target or target not in df.columns:
        raise UserError(f"--set target=<column> must name a column of the CSV; columns: {', '.join(df.columns)}")
    df = sample_rows(df.dropna(subset=[target]), cfg.max_rows, seed, target).reset_index(drop=True)
    if not 2 <= df[target].nunique() <= 20:
        raise UserError(f"target {target!r} has {df[target].nunique()} distinct values; a classifier needs 2-20")
    counts = df[target].value_counts()
    if counts.min() < cfg.folds:
        raise UserError(f"class {counts.idxmin()!r} of {target!r} has {counts.min()} rows; {cfg.folds}-fold "
                        f"cross-validation needs at least {cfg.folds} per class (try --set folds=2 or more rows)")
    return df, target, "titanic:titanic_train.csv" if titanic else f"csv:{Path(cfg.csv).name}", titanic


def feature_lists(df: pd.DataFrame, target: str, titanic: bool) -> tuple[list[str], list[str], list[str]]:
    """(numeric, categorical, left out) columns for the model."""
    if titanic:
        return (["Age", "LogFare", "SibSp", "Parch", "FamilySize", "IsAlone", "HasCabin"],
                ["Sex", "Pclass", "Title", "Embarked", "Deck"], ["PassengerId", "Name", "Ticket", "Cabin"])
    numeric, categorical, dropped = [], [], []
    for col in df.columns.drop(target):
        s = df[col]
        id_like = pd.api.types.is_integer_dtype(s) and s.nunique() == len(s)
        if s.isna().all():
            dropped.append(col)  # no value at all: nothing to learn from, and imputers would drop it silently
        elif pd.api.types.is_numeric_dtype(s) and not id_like:
            numeric.append(col)
        elif not id_like and s.nunique() <= 30:
            categorical.append(col)
        else:
            dropped.append(col)  # identifiers and free text: one level per row carries no pattern to learn
    return numeric, categorical, dropped


def feature_information(df: pd.DataFrame, numeric: list[str], categorical: list[str], target: str,
                        seed: int) -> pd.DataFrame:
    """Mutual information (nats) of each feature with the target, most informative first; numeric features
    median-filled, categorical ones as codes (missing = a category of its own). Also |Pearson r| of numeric
    features with the target's codes when the target has two classes."""
    from sklearn.feature_selection import mutual_info_classif

    X = pd.concat([df[numeric].fillna(df[numeric].median()),
                   df[categorical].apply(lambda s: pd.Series(pd.factorize(s)[0], index=s.index))], axis=1)
    y = pd.factorize(df[target])[0]
    mi = mutual_info_classif(X.to_numpy(float), y, discrete_features=[c in categorical for c in X.columns],
                             random_state=seed)
    table = pd.DataFrame({"mutual information": mi, "kind": ["categorical" if c in categorical else "numeric"
                                                            for c in X.columns]}, index=X.columns)
    if df[target].nunique() == 2:
        table["|r| with target"] = [abs(X[c].corr(pd.Series(y, index=X.index))) if c in numeric else np.nan
                                    for c in X.columns]
    return table.rename_axis("feature").sort_values("mutual information", ascending=False)


def generic_eda(ctx: RunContext, report: Report, df: pd.DataFrame, plot_df: pd.DataFrame, numeric: list[str],
                categorical: list[str], target: str, binary: bool) -> dict:
    """Plots of the features that carry the most information about the target, not the first columns."""
    info = feature_information(df, numeric, categorical, target, ctx.seed)
    report.heading("Which features carry information about the target").text(
        "Mutual information with the target (0 = independent), estimated by scikit-learn's "
        "mutual_info_classif; the plots below show the most informative features.").table(info, ".4f")
    top_numeric = [c for c in info.index if c in numeric]
    top_categorical = [c for c in info.index if c in categorical][:3]
    if binary and top_categorical:
        rate_by_category_plot(ctx.plots / "target_by_category.png", plot_df, top_categorical, target,
                              f"{target} rate")
        report.image(ctx.plots / "target_by_category.png")
    if top_numeric:
        histogram_by_target_plot(ctx.plots / "numeric_by_target.png", df, top_numeric[:3], target)
        report.image(ctx.plots / "numeric_by_target.png")
    heat = top_numeric[:10] + ([target] if pd.api.types.is_numeric_dtype(df[target]) else [])
    if len(heat) >= 2:
        correlation_heatmap(ctx.plots / "correlations.png", df, heat,
                            title=f"correlations of the {len(heat) - (target in heat)} most informative "
                                  "numeric features")
        report.image(ctx.plots / "correlations.png")
    return {"mutual_information": {str(k): round(float(v), 4) for k, v in info["mutual information"].items()},
            "plotted_features": top_numeric[:3] + top_categorical}


def run(cfg: Config, ctx: RunContext) -> dict:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    start = time.perf_counter()
    raw, target, source, titanic = load(cfg, ctx.seed)
    df = engineer(raw) if titanic else raw.copy()
    y = df[target]
    numeric, categorical, dropped = feature_lists(df, target, titanic)
    if not numeric + categorical:
        raise UserError(f"no usable feature columns besides the target: {', '.join(map(str, dropped))} are empty, "
                        "identifiers or free text")
    ctx.say(f"{source}: {len(df)} rows, target {target} ({y.value_counts(normalize=True).round(3).to_dict()})")
    missing = missing_table(raw).rename_axis("column")
    report = Report(f"Exploratory data analysis — {source}")
    report.text(f"{len(df)} rows × {raw.shape[1]} columns; target `{target}`.").heading("Missing values")
    if len(missing):
        missingness_plot(ctx.plots / "missingness.png", raw)
        report.table(missing).image(ctx.plots / "missingness.png")
    else:
        report.text("None: every cell has a value.")

    binary = y.nunique() == 2
    y01 = (y == sorted(y.unique())[-1]).astype(int) if binary else None
    metrics: dict = {}
    plot_df = df.assign(**{target: y01}) if binary else df
    if titanic:
        choice = imputation_choice(df, cfg.folds, ctx.seed)
        by_title = df.groupby("Title")["Age"].agg(["median", "count", "size"]).rename(
            columns={"count": "known ages", "size": "passengers"})
        ctx.say(f"Age imputation, CV MAE in years: {choice['cv_mae_years'].round(2).to_dict()}")
        report.heading("Imputing Age").text(
            f"Age is missing for {int(raw['Age'].isna().sum())} passengers. Three rules were scored by "
            f"{cfg.folds}-fold cross-validated error on the ages that are known; the one with the lowest error, "
            f"{choice.index[0]}, is used. The title carries age (Master = boys, Miss = mostly young women), "
            "which is why it beats class and sex. In the model the medians are learned inside each CV fold "
            "(GroupMedianImputer in the Pipeline). Embarked (2 missing) gets the most frequent port; Cabin "
            "(77% missing) becomes HasCabin and Deck ('U' = unknown).")
        report.table(choice).table(by_title)
        metrics |= {"age_imputation_cv_mae": choice["cv_mae_years"].to_dict(),
                    "age_imputation_rule": choice.index[0]}
        report.heading("Engineered features").bullets([
            "Title: from Name (Mr, Mrs, Miss, Master, Rare)", "FamilySize = SibSp + Parch + 1; IsAlone",
            "HasCabin, Deck (first letter of Cabin)", "LogFare = log(1 + Fare): fares are heavily skewed"])
        cats = ["Sex", "Pclass", "Title", "Embarked"]
        rate_by_category_plot(ctx.plots / "survival_by_category.png", plot_df, cats, target, "survival rate")
        rate_by_category_plot(ctx.plots / "survival_by_family.png", plot_df, ["FamilySize", "AgeBand", "Deck"],
                              target, "survival rate")
        histogram_by_target_plot(ctx.plots / "age_fare_by_outcome.png", df, ["Age", "Fare", "LogFare"], target)
        rates = {c: plot_df.groupby(c, observed=True)[target].mean().round(3).to_dict() for c in cats}
        metrics["survival_rate_by"] = {c: {str(k): v for k, v in r.items()} for c, r in rates.items()}
        report.heading("Survival patterns")
        for col in cats:
            report.table(plot_df.groupby(col, observed=True)[target].agg(["mean", "size"]).rename(
                columns={"mean": "survival rate", "size": "passengers"}), ".3f")
        for name in ("survival_by_category", "survival_by_family", "age_fare_by_outcome"):
            report.image(ctx.plots / f"{name}.png")
    else:
        report.heading("Columns").bullets([f"numeric: {', '.join(numeric) or '-'}",
                                           f"categorical: {', '.join(categorical) or '-'}",
                                           f"left out (identifiers / free text / empty): {', '.join(dropped) or '-'}"])
        report.table(y.value_counts().rename("rows").to_frame())
        if numeric + categorical:
            metrics |= generic_eda(ctx, report, df, plot_df, numeric, categorical, target, binary)

    # Baseline: every statistic that fills or scales is fitted inside the folds by the Pipeline.
    X = df[numeric + categorical]
    age_by = AGE_RULES[metrics["age_imputation_rule"]] if titanic else None
    pipe = make_pipeline(numeric, categorical, cfg.model, ctx.seed, age_by)
    cv = StratifiedKFold(cfg.folds, shuffle=True, random_state=ctx.seed)
    fit_start = time.perf_counter()
    scores = cross_val_score(pipe, X, y, cv=cv, scoring="accuracy")
    cv_time = time.perf_counter() - fit_start
    majority = [float((y.iloc[te] == y.iloc[tr].mode()[0]).mean()) for tr, te in cv.split(X, y)]
    baselines = {"majority class": float(np.mean(majority))}
    if titanic:
        gender = (df["Sex"] == "female").astype(int)
        baselines["women survive, men do not"] = float(np.mean([(gender.iloc[te] == y.iloc[te]).mean()
                                                                 for _, te in cv.split(X, y)]))
    ctx.say(f"{cfg.folds}-fold CV accuracy ({cfg.model}): {scores.mean():.4f} ± {scores.std():.4f}; "
            f"baselines {', '.join(f'{k} {v:.3f}' for k, v in baselines.items())}")
    table = pd.DataFrame({"cv accuracy": [scores.mean(), *baselines.values()],
                          "std": [scores.std(), *([np.nan] * len(baselines))]},
                         index=pd.Index([f"{cfg.model} pipeline", *baselines], name="model"))
    report.heading("Baseline classifier").text(
        f"{cfg.folds}-fold stratified CV; numeric {numeric}, categorical {categorical}. "
        "Imputation, scaling and one-hot encoding are Pipeline steps, fitted on the training folds only.")
    report.table(table, ".4f").write(ctx.dir)

    return {**metrics, "cv_acc": float(scores.mean()), "cv_acc_std": float(scores.std()),
            "cv_fold_acc": [float(s) for s in scores], "model": cfg.model,
            "baseline_acc": baselines, "n_rows": len(df), "n_features_numeric": len(numeric),
            "n_features_categorical": len(categorical), "missing_cells_raw": int(raw.isna().sum().sum()),
            "cv_time_s": round(cv_time, 3), "eda_time_s": round(fit_start - start, 3), "data_source": source}


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"5-fold CV acc {m['cv_acc']:.3f} ± {m['cv_acc_std']:.3f} ({m['model']}, Age imputed by "
            f"{m['age_imputation_rule']}, imputation inside the CV pipeline)")
