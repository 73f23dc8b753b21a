"""The Minimal Gated Unit (mgu_aesara.py) against numpy written from Zhou et al. 2016's equations: the
probabilities, the sentence loss and every gradient of full BPTT (against central differences of the numpy
loss), and the degenerate case f = 1, an RNN with biases.  One model is compiled for the module."""
import numpy as np
import pytest

import reference as ref
from conftest import WORD_DIM, params_of, sentence
from mgu_aesara import MGUAesara

HIDDEN = 5


def mgu_probabilities(P, x):
    """Zhou et al.'s MGU, one word at a time from h_0 = 0: the output distribution after each word."""
    h, out = np.zeros(HIDDEN), []
    for word in x:
        f = ref.sigmoid(P["W_f"] @ h + P["U_f"][:, word] + P["b_f"])
        candidate = np.tanh(P["W_h"] @ (f * h) + P["U_h"][:, word] + P["b_h"])
        h = (1 - f) * h + f * candidate
        out.append(ref.softmax(P["V"] @ h + P["b_V"]))
    return np.array(out)


def mgu_loss(P, x, y):
    return -np.sum(np.log(mgu_probabilities(P, x)[np.arange(len(y)), y]))


@pytest.fixture(scope="module")
def mgu():
    np.random.seed(7)
    return MGUAesara(WORD_DIM, hidden_dim=HIDDEN, bptt_truncate=-1)


@pytest.fixture
def randomized(mgu, request):
    """The module's model with parameters drawn large enough that f is far from constant."""
    rng = np.random.RandomState(len(request.node.name))
    for p in mgu.params:
        p.set_value(rng.uniform(-0.8, 0.8, p.get_value().shape))
    return mgu, rng


def test_parameters_are_the_papers_in_draw_order(mgu):
    assert [p.name for p in mgu.params] == ["U_f", "U_h", "W_f", "W_h", "V", "b_f", "b_h", "b_V"]
    assert mgu.parameter_count() == 2 * HIDDEN * (WORD_DIM + HIDDEN + 1) + WORD_DIM * (HIDDEN + 1)


def test_probabilities_and_loss_match_the_equations(randomized):
    model, rng = randomized
    x, y = sentence(rng, 9)
    P = params_of(model)
    np.testing.assert_allclose(model.forward_propagation(x), mgu_probabilities(P, x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.calculate_total_loss([x], [y]), mgu_loss(P, x, y), rtol=1e-12)


def test_full_bptt_gradients_match_central_differences(randomized):
    model, rng = randomized
    x, y = sentence(rng, 7)
    P = params_of(model)
    unseen = lambda name, ix: name in ("U_f", "U_h") and ix[1] not in set(x.tolist())
    expected = ref.numerical_gradients(lambda Q: mgu_loss(Q, x, y), P, skip=unseen)
    got = {p.name: g for p, g in zip(model.params, model.bptt(x, y))}
    for name, g in got.items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-6, atol=1e-8, err_msg=name)


def test_a_gate_held_open_gives_an_rnn_with_biases(randomized):
    model, rng = randomized
    model.b_f.set_value(np.full(HIDDEN, 60.0))        # sigmoid(60) is 1 in float64
    x, _ = sentence(rng, 6)
    P, h, rnn = params_of(model), np.zeros(HIDDEN), []
    for word in x:
        h = np.tanh(P["W_h"] @ h + P["U_h"][:, word] + P["b_h"])
        rnn.append(ref.softmax(P["V"] @ h + P["b_V"]))
    np.testing.assert_allclose(model.forward_propagation(x), np.array(rnn), rtol=1e-12, atol=1e-14)
