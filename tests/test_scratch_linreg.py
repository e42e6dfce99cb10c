"""Linear regression from scratch against scikit-learn's LinearRegression and the closed-form optimum."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.metrics import mean_squared_error

from genai_roadmap.scratch.linreg import GDRegressor, LinearRegression, regression_metrics


def make_data(n: int, d: int, seed: int, noise: float = 0.5, scales=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * (np.asarray(scales) if scales is not None else 1.0) + rng.normal(size=d)
    y = X @ rng.normal(size=d) + 3.0 + noise * rng.normal(size=n)
    return X, y


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(20, 200), d=st.integers(1, 8), seed=st.integers(0, 10_000),
       method=st.sampled_from(["lstsq", "normal"]), intercept=st.booleans())
def test_closed_form_equals_sklearn(n, d, seed, method, intercept):
    X, y = make_data(n, d, seed)
    ours = LinearRegression(method=method, fit_intercept=intercept).fit(X, y)
    ref = SkLinearRegression(fit_intercept=intercept).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-8)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-7, abs=1e-8)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9, atol=1e-8)


def test_one_feature_is_a_column_and_a_1d_x_is_refused_as_in_sklearn():
    x = np.arange(10.0)
    model = LinearRegression().fit(x.reshape(-1, 1), 2 * x + 1)
    assert model.coef_ == pytest.approx([2.0]) and model.intercept_ == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Reshape your data"):
        LinearRegression().fit(x, 2 * x + 1)


def test_normal_equations_refuse_a_singular_system_in_one_sentence():
    X = np.ones((5, 2))  # two identical columns and the intercept: X'X has rank 1
    with pytest.raises(ValueError, match="singular.*method='lstsq'"):
        LinearRegression(method="normal").fit(X, np.arange(5.0))


def test_normal_equations_lose_digits_on_collinear_features():
    # Two nearly identical columns: cond(X) ~ 1e7, so X'X has cond ~ 1e14 and the normal equations lose
    # about half the digits that the SVD-based solver keeps.
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    X = np.column_stack([a, a + 1e-7 * rng.normal(size=500)])
    true = np.array([1.0, 2.0])
    y = X @ true
    err_lstsq = np.abs(LinearRegression("lstsq").fit(X, y).coef_ - true).max()
    err_normal = np.abs(LinearRegression("normal").fit(X, y).coef_ - true).max()
    assert err_lstsq < 1e-5 and err_normal > 100 * err_lstsq


def test_batch_gradient_descent_reaches_the_closed_form():
    X, y = make_data(300, 5, seed=1)
    exact = LinearRegression().fit(X, y)
    gd = GDRegressor(lr=0.1, epochs=3000).fit(X, y)
    np.testing.assert_allclose(gd.coef_, exact.coef_, rtol=1e-6, atol=1e-8)
    assert gd.intercept_ == pytest.approx(exact.intercept_, rel=1e-6)
    assert gd.loss_history_[-1] == pytest.approx(mean_squared_error(y, exact.predict(X)), rel=1e-9)


def test_batch_loss_never_increases_with_a_safe_step():
    # With step <= 1/L on an L-smooth convex loss, every gradient step lowers the loss.
    X, y = make_data(200, 4, seed=2)
    history = GDRegressor(lr=0.05, epochs=300).fit(X, y).loss_history_
    assert len(history) == 301
    optimum = mean_squared_error(y, LinearRegression().fit(X, y).predict(X))
    assert np.all(np.diff(history) <= 1e-12) and history[-1] == pytest.approx(optimum, rel=1e-6)


def test_standardisation_is_what_lets_one_step_size_fit_all_features():
    X, y = make_data(200, 3, seed=3, scales=[1.0, 100.0, 0.01])
    exact = LinearRegression().fit(X, y)
    gd = GDRegressor(lr=0.1, epochs=3000).fit(X, y)
    np.testing.assert_allclose(gd.predict(X), exact.predict(X), rtol=1e-6, atol=1e-6)
    with pytest.raises(FloatingPointError):  # the same step on raw features diverges along the wide one
        GDRegressor(lr=0.1, epochs=50, standardize=False).fit(X, y)


def test_minibatch_is_seeded_and_lands_near_the_optimum():
    X, y = make_data(400, 4, seed=4)
    optimum = mean_squared_error(y, LinearRegression().fit(X, y).predict(X))
    a = GDRegressor(lr=0.01, epochs=60, batch_size=16, seed=0).fit(X, y)
    b = GDRegressor(lr=0.01, epochs=60, batch_size=16, seed=0).fit(X, y)
    c = GDRegressor(lr=0.01, epochs=60, batch_size=16, seed=1).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    assert a.loss_history_[-1] < 1.05 * optimum and a.loss_history_[-1] < 0.1 * a.loss_history_[0]


def test_constant_feature_does_not_break_standardisation():
    X, y = make_data(100, 2, seed=5)
    X = np.column_stack([X, np.full(100, 7.0)])
    gd = GDRegressor(lr=0.1, epochs=2000).fit(X, y)
    assert np.all(np.isfinite(gd.coef_)) and gd.coef_[2] == 0.0
    np.testing.assert_allclose(gd.predict(X), LinearRegression().fit(X, y).predict(X), atol=1e-6)


def test_regression_metrics_match_their_definitions():
    y = np.array([3.0, -0.5, 2.0, 7.0])
    p = np.array([2.5, 0.0, 2.0, 8.0])
    m = regression_metrics(y, p)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(y - p)))
    assert m["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
