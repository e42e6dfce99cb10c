"""PCA from scratch against scikit-learn's PCA and NumPy's SVD."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA as SkPCA

from genai_roadmap.scratch.pca import PCA, thin_svd


def correlated(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Decaying scales give a spectrum with distinct eigenvalues, so directions are defined up to sign only.
    return (rng.normal(size=(n, d)) * np.geomspace(5, 0.1, d)) @ np.linalg.qr(rng.normal(size=(d, d)))[0] + 3


@pytest.mark.parametrize("shape", [(400, 12), (30, 50)])
def test_matches_sklearn(shape):
    X = correlated(*shape, seed=0)
    ours, ref = PCA().fit(X), SkPCA().fit(X)
    r = min(shape[0] - 1, shape[1])  # centring removes one dimension when n <= d
    np.testing.assert_allclose(ours.explained_variance_[:r], ref.explained_variance_[:r], rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_[:r], ref.explained_variance_ratio_[:r], atol=1e-12)
    np.testing.assert_allclose(ours.components_[:r], ref.components_[:r], atol=1e-8)  # same sign convention
    np.testing.assert_allclose(ours.transform(X)[:, :r], ref.transform(X)[:, :r], atol=1e-8)
    np.testing.assert_allclose(ours.mean_, ref.mean_)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 120), d=st.integers(2, 30),
       variance=st.floats(0.05, 0.999))
def test_components_for_variance_equal_sklearns(seed, n, d, variance):
    X = correlated(n, d, seed)
    assert PCA().fit(X).n_components_for(variance) == SkPCA(n_components=variance).fit(X).n_components_


def test_thin_svd_equals_numpy_on_tall_and_wide():
    rng = np.random.default_rng(1)
    for A in (rng.normal(size=(500, 20)), rng.normal(size=(15, 40))):
        s, vt = thin_svd(A)
        np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False), rtol=1e-10)
        np.testing.assert_allclose(vt @ vt.T, np.eye(len(s)), atol=1e-10)
        # A V = U S has orthogonal columns with norms S: V' are right singular vectors of A.
        av = A @ vt.T
        np.testing.assert_allclose(av.T @ av, np.diag(s**2), atol=1e-8 * s[0] ** 2)


def test_reconstruction_is_exact_with_all_components_and_improves_with_k():
    X = correlated(200, 10, seed=2)
    pca = PCA().fit(X)
    np.testing.assert_allclose(pca.reconstruct(X, 10), X, atol=1e-10)
    errors = [np.mean((pca.reconstruct(X, k) - X) ** 2) for k in range(1, 11)]
    assert all(a >= b for a, b in zip(errors, errors[1:], strict=False))
    # Error of the rank-k reconstruction = variance left in the dropped directions (Eckart-Young).
    k = 3
    dropped = pca.explained_variance_[k:].sum() * (len(X) - 1) / len(X) / X.shape[1]
    assert errors[k - 1] == pytest.approx(dropped, rel=1e-9)


def test_kept_components_and_bad_variance():
    X = correlated(100, 8, seed=3)
    pca = PCA(n_components=3).fit(X)
    assert pca.components_.shape == (3, 8) and pca.transform(X).shape == (100, 3)
    assert pca.n_components_for(0.999) > 3  # counts every direction found, not only the kept ones
    with pytest.raises(ValueError):
        pca.n_components_for(1.5)


@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_both_solvers_match_sklearn_on_tall_data(solver):
    X = correlated(2000, 30, seed=4)
    ours, ref = PCA(n_components=10, solver=solver).fit(X), SkPCA(n_components=10, svd_solver="full").fit(X)
    assert ours.solver_ == solver
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(ours.fit_transform(X), ref.transform(X), atol=1e-8)


def test_auto_takes_the_covariance_route_only_when_samples_dwarf_features():
    assert PCA().fit(correlated(300, 30, seed=5)).solver_ == "covariance_eigh"
    assert PCA().fit(correlated(299, 30, seed=5)).solver_ == "svd"
    assert PCA().fit(correlated(20, 40, seed=5)).solver_ == "svd"


def test_fit_takes_and_ignores_y():
    X = correlated(100, 6, seed=6)
    a, b = PCA().fit(X), PCA().fit(X, np.arange(100))
    np.testing.assert_array_equal(a.components_, b.components_)
