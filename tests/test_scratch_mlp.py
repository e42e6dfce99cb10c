"""The NumPy MLP: backprop vs finite differences, and forward/backward/optimiser steps vs PyTorch on equal weights."""

import numpy as np
import pytest
import torch

from genai_roadmap.scratch import mlp
from genai_roadmap.scratch.mlp import MLP, SGD, Adam, gradient_check, torch_twin


def _data(n=16, d=12, c=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.integers(0, c, n)


def test_backprop_matches_finite_differences():
    x, y = _data()
    model = MLP([12, 9, 7, 5], np.random.default_rng(1), dtype=np.float64)
    assert gradient_check(model, x, y, per_param=30) < 1e-7


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    # A ReLU that forgets its mask is the classic backprop bug: the check must flag it, or it proves nothing.
    monkeypatch.setattr(mlp.ReLU, "backward", lambda self, dy: dy)
    x, y = _data()
    model = MLP([12, 9, 5], np.random.default_rng(1), dtype=np.float64)
    assert gradient_check(model, x, y, per_param=30) > 1e-2


def test_he_initialisation_scale():
    layer = mlp.Linear(400, 300, np.random.default_rng(0))
    assert layer.W.dtype == np.float32 and np.all(layer.b == 0)
    assert layer.W.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)


@pytest.mark.parametrize("sizes", [[20, 32, 10], [20, 32, 16, 10]])
def test_forward_and_backward_match_torch(sizes):
    x, y = _data(n=64, d=20, c=10, dtype=np.float32)
    model = MLP(sizes, np.random.default_rng(0))
    net = torch_twin(model)
    loss_np = model.loss(x, y)
    model.backward()
    loss_t = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    loss_t.backward()
    assert loss_np == pytest.approx(loss_t.item(), rel=1e-5)
    torch_linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for lin, twin in zip(model.linears, torch_linears, strict=True):
        np.testing.assert_allclose(lin.dW, twin.weight.grad.numpy().T, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(lin.db, twin.bias.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_predict_proba_matches_torch_softmax_across_chunk_sizes():
    x, _ = _data(n=50, d=20, c=10, dtype=np.float32)
    model = MLP([20, 16, 10], np.random.default_rng(0))
    expected = torch.softmax(torch_twin(model)(torch.from_numpy(x)), dim=1).detach().numpy()
    for chunk in (7, 50, 1000):  # different batch sizes use different reused buffers
        np.testing.assert_allclose(model.predict_proba(x, batch_size=chunk), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_optimiser_steps_match_torch(kind):
    model = MLP([20, 16, 10], np.random.default_rng(0))
    net = torch_twin(model)
    if kind == "sgd":
        opt, opt_t = SGD(model.params_and_grads(), lr=0.1, momentum=0.9), torch.optim.SGD(net.parameters(), lr=0.1,
                                                                                         momentum=0.9)
    else:
        opt, opt_t = Adam(model.params_and_grads(), lr=0.01), torch.optim.Adam(net.parameters(), lr=0.01)
    for step in range(5):
        x, y = _data(n=32, d=20, c=10, seed=step, dtype=np.float32)
        model.loss(x, y)
        model.backward()
        opt.step()
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt_t.step()
    torch_linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for lin, twin in zip(model.linears, torch_linears, strict=True):
        np.testing.assert_allclose(lin.W, twin.weight.detach().numpy().T, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(lin.b, twin.bias.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_training_learns_sklearn_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16).astype(np.float32)
    y = digits.target
    model = MLP([64, 64, 10], np.random.default_rng(0))
    opt = Adam(model.params_and_grads(), lr=3e-3)
    rng = np.random.default_rng(0)
    first = model.loss(x, y)
    for _ in range(15):
        for idx in np.array_split(rng.permutation(len(x)), len(x) // 64):
            model.loss(x[idx], y[idx])
            model.backward()
            opt.step()
    assert model.loss(x, y) < first / 10
    assert (model.predict_proba(x).argmax(1) == y).mean() > 0.97


def test_classifier_fit_is_the_hand_written_training_loop():
    # MLPClassifier.fit must be exactly the loop 2.1.1 runs: init, then one permutation per epoch from the same
    # generator, mini-batch Adam, learning rate decayed after every epoch.
    x, y = _data(n=100, d=12, c=3, seed=3, dtype=np.float32)
    est = mlp.MLPClassifier(hidden=(16,), lr=0.01, lr_decay=0.5, epochs=3, batch_size=32, seed=7).fit(x, y)
    rng = np.random.default_rng(7)
    model = MLP([12, 16, 3], rng)
    opt = Adam(model.params_and_grads(), lr=0.01)
    for epoch in range(3):
        perm = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = perm[start:start + 32]
            model.loss(x[idx], y[idx])
            model.backward()
            opt.step()
        opt.lr = 0.01 * 0.5 ** (epoch + 1)
    for ours, ref in zip(est.model_.linears, model.linears, strict=True):
        np.testing.assert_array_equal(ours.W, ref.W)
    np.testing.assert_array_equal(est.predict_proba(x), model.predict_proba(x))


def test_classifier_learns_digits_with_string_labels_and_sgd():
    from sklearn.datasets import load_digits

    digits = load_digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    est = mlp.MLPClassifier(hidden=(64,), optimizer="sgd", lr=0.05, epochs=15, batch_size=64)
    est.fit(digits.data / 16, names[digits.target])
    assert est.loss_curve_[-1] < est.loss_curve_[0] / 5
    assert est.score(digits.data / 16, names[digits.target]) > 0.97
    assert set(est.predict(digits.data[:20] / 16)) <= set(names)


def test_classifier_reports_divergence():
    x, y = _data(n=64, d=12, c=3, seed=0, dtype=np.float32)
    with pytest.raises(FloatingPointError, match="diverged"):
        mlp.MLPClassifier(optimizer="sgd", lr=1e6, epochs=5).fit(x * 1e3, y)
