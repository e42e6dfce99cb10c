"""The from-scratch models are scikit-learn estimators: sklearn's own estimator checks, and the tools built on
them (clone, cross_val_score, Pipeline, GridSearchCV) working with them."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from genai_roadmap.scratch import PCA, DecisionTreeClassifier, GDRegressor, LinearRegression, MLPClassifier

ESTIMATORS = [LinearRegression(), LinearRegression(method="normal"), GDRegressor(), GDRegressor(batch_size=16),
              DecisionTreeClassifier(), PCA(), PCA(solver="svd"), MLPClassifier()]

# Checks expected to fail, by estimator class: {check name: reason}. None is needed: every check passes.
# (sklearn itself skips check_array_api_input unless SCIPY_ARRAY_API=1: the models are NumPy-only by design.)
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


def expected_failures(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_clone_keeps_the_parameters_and_drops_the_fit(estimator):
    X, y = load_iris(return_X_y=True)
    fitted = clone(estimator).set_params().fit(X, y)
    copy = clone(fitted)
    assert copy.get_params() == estimator.get_params()
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(copy))


def test_set_params_reaches_fit():
    X, y = load_iris(return_X_y=True)
    tree = DecisionTreeClassifier().set_params(max_depth=1).fit(X, y)
    assert tree.get_params()["max_depth"] == 1 and tree.get_depth() == 1


def test_cross_val_score_in_a_pipeline_equals_sklearns_linear_regression():
    from sklearn.linear_model import LinearRegression as SkLinearRegression

    X, y = make_regression(n_samples=120, n_features=6, noise=5.0, random_state=0)
    for ours in (LinearRegression(), LinearRegression(method="normal"), GDRegressor(epochs=3000)):
        got = cross_val_score(make_pipeline(StandardScaler(), ours), X, y, cv=5)
        want = cross_val_score(make_pipeline(StandardScaler(), SkLinearRegression()), X, y, cv=5)
        np.testing.assert_allclose(got, want, rtol=1e-7)


def test_pca_in_a_pipeline_equals_sklearns_pca_there():
    from sklearn.decomposition import PCA as SkPCA
    from sklearn.linear_model import RidgeClassifier

    X, y = load_digits(return_X_y=True)
    ref = cross_val_score(make_pipeline(SkPCA(n_components=20), RidgeClassifier()), X, y, cv=3)
    for solver in ("covariance_eigh", "svd"):
        ours = cross_val_score(make_pipeline(PCA(n_components=20, solver=solver), RidgeClassifier()), X, y, cv=3)
        np.testing.assert_allclose(ours, ref, atol=1e-12)  # the same projection, so the same predictions


def test_grid_search_sets_the_tree_depth_and_scores_are_accuracies():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 3]}, cv=5).fit(X, y)
    assert search.best_params_ == {"max_depth": 3}
    assert search.cv_results_["mean_test_score"][0] == pytest.approx(2 / 3, abs=0.01)  # a stump finds one class


def test_mlp_in_a_pipeline_learns_digits():
    X, y = load_digits(return_X_y=True)
    scores = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier(hidden=(64,), epochs=15)), X, y, cv=3)
    assert scores.min() > 0.85  # unshuffled folds of digits are harder than a random split (chance: 0.1)
