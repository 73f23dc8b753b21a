"""The float32 kernels (kernels.py) against numpy references: the session runs in float64, so these
tests build float32 graphs explicitly, which is where the vectorised tanh and sigmoid are used."""
import numpy as np
import pytest

import backend
from backend import at, function
from kernels import sigmoid, tanh
from lstm_aesara import LSTMAesara

SPECIAL = [0.0, -0.0, 1e-45, -1e-40, 1e-30, 3e-5, 9.99e-5, 1e-4, 1.01e-4, -1e-4, 0.5, 1.0, 9.0, 9.99, 10.0,
           10.01, 20.0, 87.0, 89.0, 104.0, 109.9, 110.0, 111.0, 1e30, 3.4e38, np.inf, -np.inf]


def inputs32():
    grid = np.linspace(-30, 30, 600_001)
    tiny = np.geomspace(1e-38, 1e-2, 20_001)
    return np.concatenate([grid, tiny, -tiny, SPECIAL, -np.asarray(SPECIAL)]).astype(np.float32)


def ulps(a, b):
    """Distance in units in the last place between float32 arrays, across zero too."""
    ia, ib = (v.astype(np.float32).view(np.int32).astype(np.int64) for v in (a, b))
    ia, ib = (np.where(i < 0, np.int64(-2**31) - i, i) for i in (ia, ib))   # order negative floats too
    return np.abs(ia - ib)


@pytest.fixture(scope="module")
def float32_functions():
    x = at.fvector("x")
    return {"tanh": function([x], tanh(x)), "sigmoid": function([x], sigmoid(x)),
            "tanh'": function([x], at.grad(tanh(x).sum(), x)), "sigmoid'": function([x], at.grad(sigmoid(x).sum(), x))}


def logistic(x):
    """1 / (1 + e^-x) without cancellation or overflow, in float64."""
    e = np.exp(-np.abs(x))
    return np.where(x < 0, e, 1) / (1 + e)


@pytest.mark.parametrize("name, reference", [("tanh", np.tanh), ("sigmoid", logistic)])
def test_float32_tanh_and_sigmoid_are_rounded_float64_values(float32_functions, name, reference):
    x = inputs32()
    ours = float32_functions[name](x)
    assert ours.dtype == np.float32
    want = reference(x.astype(np.float64)).astype(np.float32)
    assert ulps(ours, want).max() <= 1, x[np.argmax(ulps(ours, want))]
    # signs of zero and the saturated ends exactly
    assert np.array_equal(np.signbit(ours), np.signbit(want))
    nan = float32_functions[name](np.array([np.nan], np.float32))
    assert np.isnan(nan).all()


@pytest.mark.parametrize("name, derivative", [
    ("tanh'", lambda x: 1 - np.tanh(x) ** 2),
    ("sigmoid'", lambda x: 0.25 / np.cosh(0.5 * x) ** 2),
])
def test_float32_derivatives_are_the_calculus_ones(float32_functions, name, derivative):
    x = np.linspace(-12, 12, 4001).astype(np.float32)
    np.testing.assert_allclose(float32_functions[name](x), derivative(x.astype(np.float64)), rtol=2e-6, atol=1e-7)


def test_float64_keeps_the_library_functions():
    x = at.dvector("x")
    values = np.linspace(-20, 20, 2001)
    f = function([x], [tanh(x), sigmoid(x), at.grad(tanh(x).sum(), x)])
    t, s, dt = f(values)
    np.testing.assert_allclose(t, np.tanh(values), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(s, logistic(values), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dt, 1 - np.tanh(values) ** 2, rtol=1e-12, atol=1e-15)


def test_float32_stacked_lstm_batch_equals_float64():
    """The whole float32 graph (column-major tables, chunked softmax with its bias, fast gates, one
    scan per layer) against the same model in float64: the loss and one SGD step's parameters."""
    X = np.random.RandomState(0).randint(0, 50, (6, 5)).astype(np.int32)
    Y = np.random.RandomState(1).randint(0, 50, (6, 5)).astype(np.int32)
    lengths = np.array([6, 5, 3, 6, 1], np.int32)
    results = {}
    for bits in (32, 64):
        backend.set_float(bits)
        try:
            np.random.seed(7)
            model = LSTMAesara(50, hidden_dim=8, bptt_truncate=-1, layers=2)
            loss = model.train_batch(X, Y, lengths, 0.5, clip=5.0)
            results[bits] = loss, [p.get_value() for p in model.params]
        finally:
            backend.set_float(64)
    (loss32, params32), (loss64, params64) = results[32], results[64]
    assert params32[0].dtype == np.float32 and params32[0].flags.f_contiguous
    assert loss32 == pytest.approx(loss64, rel=1e-6)
    for p32, p64 in zip(params32, params64):
        np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)
