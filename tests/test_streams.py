"""Continuous-stream training (Zaremba et al. 2014; docs/design.md, "Continuous streams"), input embeddings, tied embeddings and
dropout, against the numpy references of tests/reference.py: a stream read in windows with the state carried
gives what one pass over the whole stream gives (the clockwork RNN's clock included), the gradient stops at a
window's start, and an interrupted stream run resumes exactly.  float64, small sizes, one model per kind."""
import zlib

import numpy as np
import pytest

import reference as ref
import training
from cwrnn_aesara import CWRNNAesara
from dglstm_aesara import DGLSTMAesara
from errors import InputError
from gru_aesara import GRUAesara
from lstm_aesara import LSTMAesara
from rnn_aesara import RNNAesara
from utils import gradient_check_aesara, load_checkpoint, load_model_parameters_aesara, save_checkpoint, \
    save_model_parameters_aesara

V, H, B = 12, 6, 2
# name: (constructor, reference kind)
KINDS = {
    "rnn": (lambda: RNNAesara(V, H, bptt_truncate=-1), "rnn"),
    "lstm2": (lambda: LSTMAesara(V, H, bptt_truncate=-1, layers=2), "lstm2"),
    "gru": (lambda: GRUAesara(V, H), "gru"),
    "dglstm": (lambda: DGLSTMAesara(V, H), ref.dglstm_kind(2)),
    "cwrnn": (lambda: CWRNNAesara(V, H, periods=(1, 3)), ref.cwrnn_kind((1, 3))),
}


@pytest.fixture(scope="module")
def built():
    return {}


@pytest.fixture
def kind(built, request):
    """(model, reference kind) with fresh random parameters for this test."""
    name = request.param
    if name not in built:
        built[name] = KINDS[name][0]()
    model = built[name]
    rng = np.random.RandomState(zlib.crc32(request.node.name.encode()))
    for p in model.params:
        p.set_value(rng.uniform(-0.5, 0.5, p.get_value().shape))
    return model, KINDS[name][1]


def reference_stream(kind, P, data, states=None, t0=0):
    """Per stream (column of data): the summed loss of predicting data[t + 1] from data[..t], and the states
    after the last input, from the given states (zeros by default), the first input at time index t0."""
    total, finals = 0.0, []
    for b in range(data.shape[1]):
        start = ref.zero_state(kind, H) if states is None else tuple(s[b] for s in states)
        seen, out = ref.forward(kind, P, data[:-1, b], start, t0)
        total -= np.log(out[np.arange(len(data) - 1), data[1:, b]]).sum()
        finals.append(seen[-1])
    return total, [np.array(s) for s in zip(*finals)]


def windows_of(model, data, unroll, states=None, start=0):
    """Our stream read in windows of unroll steps, the state carried: (summed loss, final states)."""
    total = 0.0
    for first in training.windows(len(data), unroll):
        X, Y = training.stream_window(data, first, unroll)
        cost, states = model.stream_loss(X, Y, states, start + first)
        total += cost
    return total, states


@pytest.mark.parametrize("kind", list(KINDS), indirect=True)
def test_windows_with_the_state_carried_are_one_pass_over_the_stream(kind):
    model, name = kind
    data = np.random.RandomState(0).randint(0, V, (15, B)).astype(np.int32)
    P = {p.name: p.get_value() for p in model.params}
    expected, finals = reference_stream(name, P, data)
    for unroll in (4, 14):          # windows of 4 (the clock's period 3 falls across them) and one window
        total, states = windows_of(model, data, unroll)
        assert total == pytest.approx(expected, rel=1e-12)
        for ours, theirs in zip(states, finals):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    # picked up at position 7 from the reference's states there (7 mod 3 = 1: the slow module must wait)
    first_part, states = reference_stream(name, P, data[:8])
    continued, _ = windows_of(model, data[7:], 4, states=states, start=7)
    assert continued == pytest.approx(expected - first_part, rel=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "cwrnn"], indirect=True)
def test_the_gradient_stops_at_the_start_of_a_window(kind):
    model, name = kind
    rng = np.random.RandomState(1)
    X, Y = rng.randint(0, V, (2, 5, B)).astype(np.int32)
    before = [rng.uniform(-0.5, 0.5, (B, H)) for _ in model.state_names]
    start = 4
    P = {p.name: p.get_value() for p in model.params}

    def window_loss(P):          # the states before the window are constants; averaged over the streams
        total = 0.0
        for b in range(B):
            _, out = ref.forward(name, P, X[:, b], tuple(s[b] for s in before), start)
            total -= np.log(out[np.arange(len(X)), Y[:, b]]).sum()
        return total / B

    skip = (lambda n, ix: n == "W" and not ref.cwrnn_mask(H, (1, 3))[ix]) if name.startswith("cwrnn") else None
    expected = ref.numerical_gradients(window_loss, P, skip=skip)
    ours = model.compiled("grads", stream=True)(X, Y, *before, start)
    for p, g in zip(model.params, ours):
        np.testing.assert_allclose(g, expected[p.name], rtol=1e-6, atol=1e-8, err_msg=p.name)
    cost, _ = model.train_stream(X, Y, before, start, 0.1)
    assert cost == pytest.approx(window_loss(P) * B, rel=1e-12)           # reported before the update
    for p, g in zip(model.params, ours):
        np.testing.assert_allclose(p.get_value(), P[p.name] - 0.1 * g, rtol=1e-12, atol=1e-14, err_msg=p.name)


@pytest.mark.parametrize("kind", ["lstm2"], indirect=True)
def test_a_stream_run_stopped_mid_epoch_resumes_exactly(kind, tmp_path):
    """train_with_sgd in stream mode, stopped after 3 windows, checkpointed and resumed into a model whose
    parameters were wiped, ends where the uninterrupted run ends: the checkpoint carries the states the last
    window ended in."""
    model, _ = kind
    sentences = [list(np.random.RandomState(i).randint(1, V, 5 + i % 4)) for i in range(12)]
    X, Y = sentences, [s[1:] + [0] for s in sentences]
    start = [p.get_value() for p in model.params]

    def run(state, stop_after=None):
        calls = {"n": 0}

        def should_stop():
            calls["n"] += 1
            return calls["n"] == stop_after

        training.train_with_sgd(model, X, Y, state, 2, optimizer="sgd", clip=1.0, batch_size=B, unroll=4,
                                should_stop=should_stop)

    run(training.TrainingState(0.5))
    whole = [p.get_value() for p in model.params]
    for p, value in zip(model.params, start):
        p.set_value(value)
    state = training.TrainingState(0.5)
    with pytest.raises(training.Interrupted):
        run(state, stop_after=3)
    assert state.epoch == 0 and state.position == 3 and state.carry is not None
    path = str(tmp_path / "stream.npz")
    save_checkpoint(path, model, state, ["w%d" % i for i in range(V)], {"unroll": 4, "batch_size": B})
    for p in model.params:
        p.set_value(np.zeros_like(p.get_value()))
    state, _, _ = load_checkpoint(path, model)
    assert [s.shape for s in state.carry] == [(B, H)] * len(model.state_names)
    run(state)
    assert state.epoch == 2
    for p, value in zip(model.params, whole):
        np.testing.assert_array_equal(p.get_value(), value, err_msg=p.name)


def embedded_rnn_kind(tied):
    """The RNN reading an embedding of each word: E[:, x] (or, tied, the output matrix's row V[x])."""
    def step(P, token, state):
        e = P["V"][token] if tied else P["embedding"][:, token]
        return (np.tanh(P["U"] @ e + P["W"] @ state[0]),)
    return ref.register("rnn-tied" if tied else "rnn-embedded", step, ref.rnn_probs, 1)


@pytest.mark.parametrize("tied", [False, True])
def test_input_embeddings_follow_the_reference_and_the_gradient_check(tied, tmp_path):
    np.random.seed(5)
    model = RNNAesara(V, H, bptt_truncate=-1, embedding_dim=H if tied else 4, tied=tied)
    assert [p.name for p in model.params] == (["U", "V", "W"] if tied else ["embedding", "U", "V", "W"])
    assert model.U.get_value().shape == (H, H if tied else 4)
    x, y = [3, 0, 7, 7, 11], [0, 7, 7, 11, 2]
    P = {p.name: p.get_value() for p in model.params}
    _, expected = ref.forward(embedded_rnn_kind(tied), P, x, (np.zeros(H),))
    np.testing.assert_allclose(model.forward_propagation(x), expected, rtol=1e-12)
    gradient_check_aesara(model, x, y, h=1e-5, error_threshold=1e-5, verbose=False)   # V's two roles when tied
    path = str(tmp_path / "embedded.npz")
    save_model_parameters_aesara(model, path)
    loaded = load_model_parameters_aesara(path, RNNAesara, bptt_truncate=-1)
    assert (loaded.embedding_dim, loaded.tied) == (model.embedding_dim, tied)
    np.testing.assert_array_equal(loaded.forward_propagation(x), model.forward_propagation(x))


def test_dropout_masks_and_where_they_act():
    np.random.seed(6)
    model = LSTMAesara(V, H, bptt_truncate=-1, layers=2, embedding_dim=4, dropout=0.25)
    assert list(model.dropout_sites().items()) == [("input", 4), (0, H), (1, H)]
    masks = model.dropout_masks(50, 8)
    assert [m.shape for m in masks] == [(50, 8, 4), (50, 8, H), (50, 8, H)]
    values = np.concatenate([m.ravel() for m in masks])
    assert set(np.unique(values)) == {0.0, 1 / 0.75}
    assert abs((values == 0).mean() - 0.25) < 0.03
    assert not (masks[1][0] == masks[1][1]).all()                 # a fresh mask at every step
    model.variational = True
    assert all((m == m[:1]).all() for m in model.dropout_masks(5, 3))   # one mask per sequence

    rng = np.random.RandomState(7)
    X, Y = rng.randint(0, V, (2, 5, B)).astype(np.int32)
    zeros = [np.zeros((B, H)) for _ in model.state_names]
    train = model.compiled("train", optimizer="sgd", clip=0.0, stream=True)
    ones = [np.ones_like(m) for m in model.dropout_masks(5, B)]
    cost_without = model.stream_loss(X, Y, zeros, 0)[0]
    assert train(X, Y, *zeros, 0, *ones, 0.0)[0] == pytest.approx(cost_without, rel=1e-12)
    # dropping the whole top state leaves the output bias alone: every word predicted by softmax(b_V)
    b_V = model.b_V.get_value()
    log_p = b_V - np.log(np.exp(b_V).sum())
    assert train(X, Y, *zeros, 0, *ones[:2], np.zeros_like(ones[2]), 0.0)[0] == pytest.approx(-log_p[Y].sum(), rel=1e-12)
    with pytest.raises(InputError, match="in batches"):
        model.sgd_step([1, 2], [2, 3], 0.1)
    with pytest.raises(InputError, match="full BPTT"):
        LSTMAesara(V, H, bptt_truncate=4, dropout=0.5)
    with pytest.raises(InputError, match="tied"):
        LSTMAesara(V, H, embedding_dim=H + 1, tied=True)


def test_uniform_initialisation_replaces_every_parameter():
    np.random.seed(8)
    model = LSTMAesara(V, H, layers=2, embedding_dim=4)
    model.initialize_uniform(0.1)
    for p in model.params:
        value = p.get_value()
        assert np.abs(value).max() <= 0.1 and np.abs(value).max() > 0.05, p.name
    assert not np.any(model.b_f.get_value() == 1.0)               # the tutorial's forget bias of 1 is redrawn too
