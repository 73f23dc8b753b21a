"""Padded, masked minibatches compute exactly the per-sentence quantities."""
import numpy as np
import pytest

from conftest import params_of, sentence
from training import pad

all_kinds = pytest.mark.parametrize("model", ["rnn", "lstm", "gru"], indirect=True)


def ragged(seed, lengths=(7, 2, 5, 1)):
    rng = np.random.RandomState(seed)
    pairs = [sentence(rng, n) for n in lengths]
    return [list(x) for x, _ in pairs], [list(y) for _, y in pairs]


@all_kinds
def test_masked_batch_loss_is_the_sum_of_sentence_losses(model):
    X, Y = ragged(0)
    xb, yb, lengths = pad(X, Y, range(len(X)))
    assert xb.shape == (7, 4)
    expected = sum(model.ce_error(x, y) for x, y in zip(X, Y))
    np.testing.assert_allclose(model.batch_loss(xb, yb, lengths), expected, rtol=1e-12)


# every truncation mode for the RNN; the gated cells share them out (each GRU case compiles for a minute)
@pytest.mark.parametrize("model,truncation,k", [("rnn", "theano", 3), ("rnn", "bptt", 2), ("rnn", "theano", -1),
                                                ("lstm", "bptt", 2), ("lstm", "theano", -1), ("gru", "theano", 3)],
                         indirect=["model"])
def test_a_batch_step_follows_the_mean_of_sentence_gradients(model, truncation, k):
    model.truncation, model.bptt_truncate = truncation, k
    X, Y = ragged(1)
    grads = [model.bptt(x, y) for x, y in zip(X, Y)]
    before = params_of(model)
    model.train_batch(*pad(X, Y, range(len(X))), 0.1)
    for i, p in enumerate(model.params):
        mean = sum(g[i] for g in grads) / len(X)
        np.testing.assert_allclose(p.get_value(), before[p.name] - 0.1 * mean, rtol=1e-10, atol=1e-14,
                                   err_msg=p.name)


@pytest.mark.parametrize("model", ["gru"], indirect=True)
def test_a_batch_of_one_is_the_tutorials_step(model):
    x, y = sentence(np.random.RandomState(2), 6)
    start = params_of(model)
    for slot in model.slots:
        slot.set_value(np.zeros_like(slot.get_value()))
    model.sgd_step(x, y, 0.01)
    after_step = {v.name: v.get_value() for v in model.params + model.slots}
    for p in model.params:
        p.set_value(start[p.name])
    for slot in model.slots:
        slot.set_value(np.zeros_like(slot.get_value()))
    model.train_batch(*pad([x], [y], [0]), 0.01, optimizer="rmsprop")
    for name, value in after_step.items():
        np.testing.assert_allclose(getattr(model, name).get_value(), value, rtol=1e-12, err_msg=name)


def flat_norm(arrays):
    return np.sqrt(sum(np.sum(a ** 2) for a in arrays))


@pytest.mark.parametrize("model", ["lstm"], indirect=True)
def test_clipping_scales_the_whole_gradient_to_the_bound(model):
    """Sparse (input matrix) and dense gradients must enter the global norm alike."""
    model.bptt_truncate = -1
    X, Y = ragged(3)
    grads = [sum(g) / len(X) for g in zip(*[model.bptt(x, y) for x, y in zip(X, Y)])]
    norm = flat_norm(grads)
    before = params_of(model)
    model.train_batch(*pad(X, Y, range(len(X))), 0.1, clip=norm / 3)
    for p, g in zip(model.params, grads):
        np.testing.assert_allclose(p.get_value(), before[p.name] - 0.1 * g / 3, rtol=1e-9, atol=1e-13,
                                   err_msg=p.name)


@pytest.mark.parametrize("model", ["rnn"], indirect=True)
def test_adam_follows_kingma_and_ba(model):
    model.bptt_truncate = -1
    X, Y = ragged(4)
    for slot in model.slots:
        slot.set_value(np.zeros_like(slot.get_value()))
    m = {p.name: 0.0 for p in model.params}
    v = dict(m)
    for t in (1, 2):
        grads = [sum(g) / len(X) for g in zip(*[model.bptt(x, y) for x, y in zip(X, Y)])]
        before = params_of(model)
        model.train_batch(*pad(X, Y, range(len(X))), 0.01, optimizer="adam")
        for p, g in zip(model.params, grads):
            m[p.name] = 0.9 * m[p.name] + 0.1 * g
            v[p.name] = 0.999 * v[p.name] + 0.001 * g ** 2
            m_hat, v_hat = m[p.name] / (1 - 0.9 ** t), v[p.name] / (1 - 0.999 ** t)
            expected = before[p.name] - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
            np.testing.assert_allclose(p.get_value(), expected, rtol=1e-10, atol=1e-14, err_msg=p.name)


@pytest.mark.parametrize("model", ["gru"], indirect=True)
def test_rmsprop_follows_the_gru_tutorial(model):
    """m <- decay m + (1 - decay) g^2; p <- p - lr g / sqrt(m + 1e-6), the epsilon inside the root, as in
    gru_theano.py; written out here in numpy, not through optimizers.py."""
    model.bptt_truncate = -1
    X, Y = ragged(5)
    for slot in model.slots:
        slot.set_value(np.zeros_like(slot.get_value()))
    m = {p.name: 0.0 for p in model.params}
    for decay in (0.9, 0.5):
        grads = [sum(g) / len(X) for g in zip(*[model.bptt(x, y) for x, y in zip(X, Y)])]
        before = params_of(model)
        model.train_batch(*pad(X, Y, range(len(X))), 0.01, optimizer="rmsprop", decay=decay)
        for p, g in zip(model.params, grads):
            m[p.name] = decay * m[p.name] + (1 - decay) * g ** 2
            expected = before[p.name] - 0.01 * g / np.sqrt(m[p.name] + 1e-6)
            np.testing.assert_allclose(p.get_value(), expected, rtol=1e-10, atol=1e-14, err_msg=p.name)
            np.testing.assert_allclose(getattr(model, "m" + p.name).get_value(), m[p.name], rtol=1e-10, atol=1e-16)
