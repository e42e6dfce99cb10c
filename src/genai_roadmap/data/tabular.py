"""Tabular datasets as pandas DataFrames: Boston Housing, Titanic, Iris (from scikit-learn), any user CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError
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
