"""Tabular datasets as pandas DataFrames: Boston Housing, Titanic, Iris (from scikit-learn), any user CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError
from .splits import stratified_subset
from .store import resolve_file

BOSTON_ETHICS_NOTE = (
    "Boston Housing has a known ethical problem: feature `b` = 1000(Bk - 0.63)^2 encodes the share of Black "
    "residents by a non-monotonic formula that presumes racial self-segregation affects prices; it is used here "
    "only to teach regression, and the results should not be read as a model of housing value."
)


def load_boston() -> pd.DataFrame:
    """506 × 14; target column `medv` (median home value, $1000s)."""
    return pd.read_csv(resolve_file("boston_housing", "BostonHousing.csv"))


def load_titanic() -> pd.DataFrame:
    """Kaggle Titanic train: 891 × 12; target column `Survived`."""
    return pd.read_csv(resolve_file("titanic", "titanic_train.csv"))


def load_iris() -> pd.DataFrame:
    """Iris from scikit-learn (ships with it): 150 × 4 features + `species`."""
    from sklearn.datasets import load_iris as sk_load_iris

    frame = sk_load_iris(as_frame=True)
    df = frame.frame.rename(columns={"target": "species"})
    df["species"] = pd.Categorical.from_codes(df["species"], frame.target_names)
    return df


def read_user_csv(path: str | Path) -> pd.DataFrame:
    """A CSV the user passes with --set csv=...: a clear error instead of a pandas traceback."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"CSV file not found: {path}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"could not read {path} as CSV: {exc}") from None
    if df.empty:
        raise UserError(f"{path} has no rows")
    return df


def sample_rows(df: pd.DataFrame, n: int, seed: int, target: str = "", max_classes: int = 50) -> pd.DataFrame:
    """At most n rows, a seeded random sample kept in file order: stratified by `target` when it looks like a
    class label (at most `max_classes` values; missing values count as one more), plain random otherwise.
    Never the head of the file: a file sorted by its target would give a subset with one class."""
    if not n or n >= len(df):
        return df
    y = None
    if target and target in df.columns and df[target].nunique(dropna=False) <= max_classes:
        y = pd.factorize(df[target], use_na_sentinel=True)[0]  # NaN -> -1: a stratum of its own
    return df.iloc[stratified_subset(y, n, seed, total=len(df))]
