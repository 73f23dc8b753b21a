"""The three models against numpy references written from the equations: forward pass, losses,
gradients in every truncation mode, the update rules, the draw order, and the WildML tutorial's degenerate LSTM."""
import re

import numpy as np
import pytest

import reference as ref
from conftest import CLASSES, HIDDEN_DIM, WORD_DIM, params_of, sentence
from errors import InputError
from kernels import Float32Exp

KINDS = ["rnn", "lstm", "gru"]
all_kinds = pytest.mark.parametrize("model", KINDS, indirect=True)


def rng_for(seed):
    return np.random.RandomState(seed)


def kind_of(model):
    return type(model).__name__[:-len("Aesara")].lower()


@all_kinds
@pytest.mark.parametrize("length", [1, 9])
def test_forward_and_losses_match_numpy(model, length):
    kind = kind_of(model)
    x, y = sentence(rng_for(length), length)
    P = params_of(model)
    _, expected = ref.forward(kind, P, x, ref.zero_state(kind, HIDDEN_DIM))
    probs = model.predict(x) if kind == "gru" else model.forward_propagation(x)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(model.ce_error(x, y), ref.sentence_loss(kind, P, x, y, HIDDEN_DIM), rtol=1e-12)
    best = model.predict_class(x) if kind == "gru" else model.predict(x)
    np.testing.assert_array_equal(best, np.argmax(expected, axis=1))
    X, Y = [x, x[:3]], [y, y[:3]]
    total = sum(ref.sentence_loss(kind, P, a, b, HIDDEN_DIM) for a, b in zip(X, Y))
    np.testing.assert_allclose(model.calculate_total_loss(X, Y), total, rtol=1e-12)
    np.testing.assert_allclose(model.calculate_loss(X, Y), total / (length + min(length, 3)), rtol=1e-12)


def check_gradients(model, loss, x, y):
    expected = ref.numerical_gradients(loss, params_of(model))
    for p, g in zip(model.params, model.bptt(x, y)):
        np.testing.assert_allclose(g, expected[p.name], rtol=1e-6, atol=1e-8, err_msg=p.name)


@all_kinds
def test_full_bptt_gradients_are_the_loss_gradient(model):
    kind = kind_of(model)
    x, y = sentence(rng_for(3), 7)
    model.bptt_truncate = -1
    check_gradients(model, lambda P: ref.sentence_loss(kind, P, x, y, HIDDEN_DIM), x, y)


@all_kinds
@pytest.mark.parametrize("length,k", [(9, 3), (3, 4)])
def test_theano_truncation_differentiates_last_k_outputs_from_held_state(model, length, k):
    kind = kind_of(model)
    x, y = sentence(rng_for(length), length)
    model.truncation, model.bptt_truncate = "theano", k
    frozen = ref.frozen_states(kind, params_of(model), x, HIDDEN_DIM)
    check_gradients(model, lambda P: ref.theano_truncated_loss(kind, P, x, y, k, frozen), x, y)


@all_kinds
@pytest.mark.parametrize("length,k", [(9, 2), (3, 4)])
def test_bptt_truncation_is_per_output(model, length, k):
    kind = kind_of(model)
    x, y = sentence(rng_for(length + 100), length)
    model.truncation, model.bptt_truncate = "bptt", k
    frozen = ref.frozen_states(kind, params_of(model), x, HIDDEN_DIM)
    check_gradients(model, lambda P: ref.per_output_truncated_loss(kind, P, x, y, k, frozen), x, y)


@pytest.mark.parametrize("model", ["rnn"], indirect=True)
@pytest.mark.parametrize("k", [1, 4])
def test_bptt_truncation_equals_the_tutorials_numpy_bptt(model, k):
    x, y = sentence(rng_for(k), 11)
    model.truncation, model.bptt_truncate = "bptt", k
    expected = ref.tutorial_rnn_bptt(params_of(model), x, y, k)
    for p, g in zip(model.params, model.bptt(x, y)):
        np.testing.assert_allclose(g, expected[p.name], rtol=1e-10, atol=1e-13, err_msg=p.name)


@pytest.mark.parametrize("model", ["rnn"], indirect=True)
def test_each_truncation_follows_its_own_reference_and_both_are_full_bptt_without_truncation(model):
    """On one sentence: with k = 4 each mode's gradient is its own reference's (theano: the last k outputs
    from a held state; bptt: every output k steps back), which differ; with k = -1 both are the numerical
    gradient of the whole sentence's loss."""
    kind = kind_of(model)
    x, y = sentence(rng_for(5), 10)
    frozen = ref.frozen_states(kind, params_of(model), x, HIDDEN_DIM)
    own = {"theano": lambda P: ref.theano_truncated_loss(kind, P, x, y, 4, frozen),
           "bptt": lambda P: ref.per_output_truncated_loss(kind, P, x, y, 4, frozen)}
    truncated = {}
    for mode in ("theano", "bptt"):
        model.truncation, model.bptt_truncate = mode, 4
        check_gradients(model, own[mode], x, y)
        truncated[mode] = model.bptt(x, y)
        model.bptt_truncate = -1
        check_gradients(model, lambda P: ref.sentence_loss(kind, P, x, y, HIDDEN_DIM), x, y)
    dV = 1   # V's gradient: theano mode only sees the last 4 outputs, the tutorial's bptt sees all
    assert not np.allclose(truncated["theano"][dV], truncated["bptt"][dV])


@pytest.mark.parametrize("model", ["rnn", "lstm"], indirect=True)
def test_sgd_step_moves_against_the_gradient(model):
    x, y = sentence(rng_for(8), 8)
    for _ in range(2):
        before = params_of(model)
        grads = model.bptt(x, y)
        model.sgd_step(x, y, 0.05)
        for p, g in zip(model.params, grads):
            np.testing.assert_allclose(p.get_value(), before[p.name] - 0.05 * g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("model", ["gru"], indirect=True)
def test_gru_sgd_step_is_the_tutorials_rmsprop(model):
    x, y = sentence(rng_for(9), 6)
    caches = {p.name: np.zeros_like(p.get_value()) for p in model.params}
    for slot in model.slots:
        slot.set_value(np.zeros_like(slot.get_value()))
    for lr, decay in ((0.01, 0.9), (0.02, 0.5)):
        before = params_of(model)
        grads = model.bptt(x, y)
        if decay == 0.9:
            model.sgd_step(x, y, lr)          # decay defaults to 0.9
        else:
            model.sgd_step(x, y, lr, decay)
        for p, g in zip(model.params, grads):
            caches[p.name] = decay * caches[p.name] + (1 - decay) * g ** 2
            expected = before[p.name] - lr * g / np.sqrt(caches[p.name] + 1e-6)
            np.testing.assert_allclose(p.get_value(), expected, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(getattr(model, "m" + p.name).get_value(), caches[p.name], rtol=1e-12)


@pytest.mark.parametrize("model", ["lstm"], indirect=True)
def test_lstm_with_gates_forced_open_is_an_rnn_with_one_more_tanh(model):
    """The WildML tutorial's claim (part 4): f=0, i=1, o=1 give s_t = tanh(tanh(U x_t + W s_{t-1}))."""
    H = HIDDEN_DIM
    for gate, bias in (("f", -1e4), ("i", 1e4), ("o", 1e4)):   # saturate the gates exactly
        getattr(model, "U_" + gate).set_value(np.zeros((H, WORD_DIM)))
        getattr(model, "W_" + gate).set_value(np.zeros((H, H)))
        getattr(model, "b_" + gate).set_value(np.full(H, bias))
    model.b_g.set_value(np.zeros(H))
    model.b_V.set_value(np.zeros(WORD_DIM))
    U, W, V = model.U_g.get_value(), model.W_g.get_value(), model.V.get_value()
    x, _ = sentence(rng_for(2), 8)
    s, expected, plain = np.zeros(H), [], []
    for token in x:
        plain.append(ref.softmax(V @ np.tanh(U[:, token] + W @ s)))
        s = np.tanh(np.tanh(U[:, token] + W @ s))
        expected.append(ref.softmax(V @ s))
    probs = model.forward_propagation(x)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    assert not np.allclose(probs, plain, rtol=1e-3)   # the extra tanh is really there


def test_stacked_lstm_layers_feed_each_other():
    model = CLASSES["lstm"](WORD_DIM, hidden_dim=HIDDEN_DIM, bptt_truncate=-1, layers=2)
    assert model.state_names == ("c", "s", "c2", "s2")
    rng = rng_for(11)
    for p in model.params:
        p.set_value(rng.uniform(-0.6, 0.6, p.get_value().shape))
    x, y = sentence(rng, 6)
    P = params_of(model)
    _, expected = ref.forward("lstm2", P, x, ref.zero_state("lstm2", HIDDEN_DIM))
    np.testing.assert_allclose(model.forward_propagation(x), expected, rtol=1e-12)
    loss = lambda P: -np.sum(np.log(ref.forward("lstm2", P, x, ref.zero_state("lstm2", HIDDEN_DIM))[1][range(6), y]))
    check_gradients(model, loss, x, y)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_parameters_in_the_documented_order(kind):
    V, H = 11, 4
    np.random.seed(77)
    model = CLASSES[kind](V, hidden_dim=H)
    np.random.seed(77)
    u = lambda n, shape: np.random.uniform(-np.sqrt(1. / n), np.sqrt(1. / n), shape)
    if kind == "rnn":
        expected = {"U": u(V, (H, V)), "V": u(H, (V, H)), "W": u(H, (H, H))}
    elif kind == "lstm":
        expected = {f"U_{g}": u(V, (H, V)) for g in "ifog"}
        expected.update({f"W_{g}": u(H, (H, H)) for g in "ifog"})
        expected["V"] = u(H, (V, H))
        expected.update(b_i=np.zeros(H), b_f=np.ones(H), b_o=np.zeros(H), b_g=np.zeros(H), b_V=np.zeros(V))
    else:
        expected = {"E": u(V, (H, V)), "U": u(H, (6, H, H)), "W": u(H, (6, H, H))}
        expected.update(b=np.zeros((6, H)), V=u(H, (V, H)), c=np.zeros(V))
    names = {"rnn": "U V W", "lstm": "U_i U_f U_o U_g W_i W_f W_o W_g V b_i b_f b_o b_g b_V",
             "gru": "E U W b V c"}[kind].split()
    assert [p.name for p in model.params] == names
    for name in names:
        value = getattr(model, name).get_value()
        assert value.dtype == np.float64
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    if kind == "lstm":       # lstm_theano.py's one non-zero bias: the forget gate starts open
        assert np.all(model.b_f.get_value() == 1.0), "the forget-gate bias b_f must start at 1"
    if kind == "gru":
        for name in names:
            np.testing.assert_array_equal(getattr(model, "m" + name).get_value(), np.zeros_like(expected[name]))


@pytest.mark.parametrize("kind,defaults", [("rnn", (100, 4)), ("lstm", (100, 4)), ("gru", (128, -1))])
def test_constructor_defaults(kind, defaults):
    model = CLASSES[kind](3)
    assert (model.hidden_dim, model.bptt_truncate, model.truncation) == defaults + ("theano",)


@pytest.mark.parametrize("model", ["rnn"], indirect=True)
@pytest.mark.parametrize("bad", [[], [0, WORD_DIM], [-1, 2], [[1, 2]], [0.5, 1.0]])
def test_bad_token_ids_get_a_clear_error(model, bad):
    with pytest.raises(InputError):
        model.forward_propagation(bad)


@pytest.mark.parametrize("args", [(0, 5, 4), (10, 0, 4), (10, 5, 0), (10, 5, -2), (10.5, 5, 4)])
def test_bad_sizes_get_a_clear_error(args):
    with pytest.raises(InputError):
        CLASSES["rnn"](args[0], hidden_dim=args[1], bptt_truncate=args[2])


def backward_loops(function):
    """The inner graphs of the backward loops (scan's gradient loops) in a compiled function."""
    graph = getattr(function, "fn", function).maker.fgraph
    return [node.op.fgraph for node in graph.apply_nodes
            if type(node.op).__name__ == "Scan" and node.op.name.startswith("grad_of")]


def computes_activation(node):
    """Whether a node computes tanh or sigmoid (kernels'), alone or fused with other arithmetic."""
    scalar_op = getattr(node.op, "scalar_op", None)
    fused = getattr(scalar_op, "fgraph", None)
    return any(isinstance(op, Float32Exp) for op in ([n.op for n in fused.apply_nodes] if fused else [scalar_op]))


@pytest.mark.parametrize("model", ["lstm"], indirect=True)
def test_backward_loop_reads_the_forward_loops_gates(model):
    """Full BPTT through the LSTM: the backward loop takes the gates' values from the forward loop
    instead of recomputing them, so it multiplies by W once per step (the state's gradient), and
    computes no tanh or sigmoid."""
    model.bptt_truncate = -1
    model.bptt(*sentence(rng_for(3), 7))
    loops = backward_loops(model.compiled("grads"))
    assert loops
    for inner in loops:
        products = [n for n in inner.apply_nodes if re.search("Gemm|Gemv|Dot|Ger", type(n.op).__name__)]
        assert len(products) == 1, products
        assert not [n for n in inner.apply_nodes if computes_activation(n)]
