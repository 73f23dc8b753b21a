"""The LSTM-family variants (docs/design.md, "The cells"; docs/models.md): the peephole LSTM and the coupled input-forget
gate (CIFG) options of LSTMAesara, the depth-gated LSTM (DGLSTMAesara) and the clockwork RNN (CWRNNAesara),
against the numpy references of tests/reference.py written from the papers' equations: forward pass, losses,
gradients in every truncation mode, the degenerate cases that reduce them to the plain models, parameter names,
shapes and counts, the draws after a fixed random seed, the constructors' defaults and their errors.

Compiling costs seconds per graph, so each configuration below is built once per session (on first use) and the
tests set random parameter values on it, restored afterwards.
"""
import contextlib
import inspect
import zlib

import numpy as np
import pytest

import reference as ref
from conftest import HIDDEN_DIM, WORD_DIM, params_of, sentence
from cwrnn_aesara import CWRNNAesara
from dglstm_aesara import DGLSTMAesara
from errors import InputError
from lstm_aesara import LSTMAesara

TUTORIAL_LSTM = "U_i U_f U_o U_g W_i W_f W_o W_g V b_i b_f b_o b_g b_V".split()

# name: (constructor, reference kind, hidden size).  Hidden 7 where a test compares with conftest's plain models.
CONFIGS = {
    "peephole": (lambda: LSTMAesara(WORD_DIM, hidden_dim=HIDDEN_DIM, peephole=True),
                 ref.lstm_variant_kind(1, peephole=True), HIDDEN_DIM),
    "cifg": (lambda: LSTMAesara(WORD_DIM, hidden_dim=HIDDEN_DIM, coupled=True),
             ref.lstm_variant_kind(1, coupled=True), HIDDEN_DIM),
    "peephole_cifg": (lambda: LSTMAesara(WORD_DIM, hidden_dim=HIDDEN_DIM, peephole=True, coupled=True),
                      ref.lstm_variant_kind(1, peephole=True, coupled=True), HIDDEN_DIM),
    "peephole2": (lambda: LSTMAesara(WORD_DIM, hidden_dim=HIDDEN_DIM, layers=2, peephole=True),
                  ref.lstm_variant_kind(2, peephole=True), HIDDEN_DIM),
    "dglstm2": (lambda: DGLSTMAesara(WORD_DIM, hidden_dim=HIDDEN_DIM),          # default layers=2
                ref.dglstm_kind(2), HIDDEN_DIM),
    "dglstm3": (lambda: DGLSTMAesara(WORD_DIM, hidden_dim=6, layers=3), ref.dglstm_kind(3), 6),
    "cwrnn": (lambda: CWRNNAesara(WORD_DIM, hidden_dim=8),                       # default periods (1, 2, 4, 8)
              ref.cwrnn_kind((1, 2, 4, 8)), 8),
    "cwrnn235": (lambda: CWRNNAesara(WORD_DIM, hidden_dim=6, periods=(2, 3, 5)), ref.cwrnn_kind((2, 3, 5)), 6),
    "cwrnn1": (lambda: CWRNNAesara(WORD_DIM, hidden_dim=HIDDEN_DIM, periods=(1,) * HIDDEN_DIM),   # modules of 1 unit
               ref.cwrnn_kind((1,) * HIDDEN_DIM), HIDDEN_DIM),
}
PERIODS = {"cwrnn": (1, 2, 4, 8), "cwrnn235": (2, 3, 5), "cwrnn1": (1,) * HIDDEN_DIM}
ALL = list(CONFIGS)
# Compiling a two-layer gradient costs about a minute, and the truncation windows are shared code that
# tests/test_models.py proves for the RNN, the LSTM and the two-layer GRU, so the truncated modes run on a
# one-layer LSTM variant and on both clockwork RNNs, whose clock must follow the windows.
TRUNCATED = ["cifg", "cwrnn", "cwrnn235"]
FULL_BPTT = [name for name in ALL if name != "dglstm3"]   # dglstm3: forward and loss only (its layer 3)
THEANO_K, BPTT_K = 4, 3


def variants(*names):
    return pytest.mark.parametrize("variant", list(names), indirect=True)


@pytest.fixture(scope="session")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            np.random.seed(4321)
            cache[name] = CONFIGS[name][0]()
        return cache[name]
    return get


def randomize(model, rng, scale=0.6):
    """Every parameter uniform in ±scale: W's unused blocks of a clockwork RNN too, so that using them shows."""
    for p in model.params:
        p.set_value(rng.uniform(-scale, scale, p.get_value().shape))


@pytest.fixture
def variant(built, request):
    """(model, reference kind, hidden size, name) of the configuration named by the test's `variant` parameter,
    with fresh random parameters; parameters and truncation restored afterwards."""
    name = request.param
    model = built(name)
    defaults = model.truncation, model.bptt_truncate
    saved = [p.get_value() for p in model.params]
    randomize(model, np.random.RandomState(zlib.crc32(request.node.name.encode())))
    yield model, CONFIGS[name][1], CONFIGS[name][2], name
    for p, v in zip(model.params, saved):
        p.set_value(v)
    model.truncation, model.bptt_truncate = defaults


@contextlib.contextmanager
def borrowed(model):
    """A session model used beside a test's own: its parameters and truncation are restored afterwards."""
    saved = [p.get_value() for p in model.params]
    defaults = model.truncation, model.bptt_truncate
    try:
        yield model
    finally:
        for p, v in zip(model.params, saved):
            p.set_value(v)
        model.truncation, model.bptt_truncate = defaults


def rng_for(seed):
    return np.random.RandomState(seed)


def set_params(model, values):
    for p in model.params:
        if p.name in values:
            p.set_value(np.array(values[p.name], dtype=np.float64))


def gradients(model, x, y):
    return {p.name: g for p, g in zip(model.params, model.bptt(x, y))}


def unused_input_columns(x):
    """The first layer's input matrices' columns of words not in x, which no loss depends on."""
    words = set(int(w) for w in x)
    return lambda name, ix: name in ("U", "U_i", "U_f", "U_o", "U_g") and ix[1] not in words


def check_gradients(model, loss, x, y, name):
    expected = ref.numerical_gradients(loss, params_of(model), skip=unused_input_columns(x))
    got = gradients(model, x, y)
    assert set(got) == set(expected)
    for pname, g in got.items():
        np.testing.assert_allclose(g, expected[pname], rtol=1e-6, atol=1e-8, err_msg=pname)
    if name in PERIODS:   # the clockwork RNN: W's blocks below the diagonal never get a gradient
        unused = ~ref.cwrnn_mask(model.W.get_value().shape[0], PERIODS[name])
        np.testing.assert_array_equal(got["W"][unused], 0.0)
    return got


# ---------------------------------------------------------------------------------------------------------------
# Forward pass, losses, gradients against the references

@variants(*ALL)
@pytest.mark.parametrize("length", [1, 10])
def test_forward_probabilities_and_ce_error_match_numpy(variant, length):
    model, kind, hidden, _ = variant
    x, y = sentence(rng_for(length + 40), length)
    P = params_of(model)
    _, expected = ref.forward(kind, P, x, ref.zero_state(kind, hidden))
    probs = model.forward_propagation(x)
    np.testing.assert_allclose(probs, expected, rtol=1e-10)
    np.testing.assert_allclose(model.ce_error(x, y), ref.sentence_loss(kind, P, x, y, hidden), rtol=1e-10)
    np.testing.assert_array_equal(model.predict(x), np.argmax(expected, axis=1))


@variants(*FULL_BPTT)
def test_full_bptt_gradients_are_the_loss_gradient(variant):
    model, kind, hidden, name = variant
    x, y = sentence(rng_for(3), 9)
    model.bptt_truncate = -1
    check_gradients(model, lambda P: ref.sentence_loss(kind, P, x, y, hidden), x, y, name)


@variants(*TRUNCATED)
@pytest.mark.parametrize("length", [9, 3])
def test_theano_truncation_differentiates_last_k_outputs_from_held_state(variant, length):
    model, kind, hidden, name = variant
    x, y = sentence(rng_for(length), length)
    model.truncation, model.bptt_truncate = "theano", THEANO_K
    frozen = ref.frozen_states(kind, params_of(model), x, hidden)
    check_gradients(model, lambda P: ref.theano_truncated_loss(kind, P, x, y, THEANO_K, frozen), x, y, name)


@variants(*TRUNCATED)
def test_bptt_truncation_is_per_output(variant):
    model, kind, hidden, name = variant
    x, y = sentence(rng_for(109), 9)
    model.truncation, model.bptt_truncate = "bptt", BPTT_K
    frozen = ref.frozen_states(kind, params_of(model), x, hidden)
    check_gradients(model, lambda P: ref.per_output_truncated_loss(kind, P, x, y, BPTT_K, frozen), x, y, name)


@variants("cwrnn")   # the update is shared code (tests/test_models.py); here: W's unused blocks stay put
def test_sgd_step_moves_against_the_gradient(variant):
    model, _, hidden, name = variant
    x, y = sentence(rng_for(8), 8)
    for _ in range(2):
        before = params_of(model)
        grads = gradients(model, x, y)
        model.sgd_step(x, y, 0.05)
        for p in model.params:
            np.testing.assert_allclose(p.get_value(), before[p.name] - 0.05 * grads[p.name], rtol=1e-12,
                                       atol=1e-15, err_msg=p.name)
    if name in PERIODS:
        unused = ~ref.cwrnn_mask(hidden, PERIODS[name])
        np.testing.assert_array_equal(model.W.get_value()[unused], before["W"][unused])


# ---------------------------------------------------------------------------------------------------------------
# Degenerate cases

def assert_same_numbers(model, plain, x, y, expected):
    """model's probabilities equal the reference's and plain's, and its loss plain's; returns its probabilities
    and both models' full-BPTT gradients, by name."""
    probs = model.forward_propagation(x)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(probs, plain.forward_propagation(x), rtol=1e-13)
    np.testing.assert_allclose(model.ce_error(x, y), plain.ce_error(x, y), rtol=1e-13)
    model.bptt_truncate = plain.bptt_truncate = -1
    return probs, gradients(model, x, y), gradients(plain, x, y)


@variants("peephole")
@pytest.mark.parametrize("model", ["lstm"], indirect=True)
def test_zero_peepholes_are_the_plain_lstm(variant, model):
    peep, _, hidden, _ = variant
    plain = params_of(model)
    set_params(peep, plain)
    set_params(peep, {k: np.zeros(hidden) for k in ("p_i", "p_f", "p_o")})
    x, y = sentence(rng_for(21), 9)
    _, expected = ref.forward("lstm", plain, x, ref.zero_state("lstm", hidden))
    probs, mine, theirs = assert_same_numbers(peep, model, x, y, expected)
    for name in TUTORIAL_LSTM:
        np.testing.assert_allclose(mine[name], theirs[name], rtol=1e-11, atol=1e-14, err_msg=name)
    # and the peepholes do something once they are not zero
    set_params(peep, {"p_o": np.full(hidden, 0.5)})
    assert not np.allclose(peep.forward_propagation(x), probs, rtol=1e-6)


@variants("peephole2")
def test_zero_peepholes_in_two_layers_are_the_stacked_lstm(variant):
    model, _, hidden, _ = variant
    set_params(model, {k + s: np.zeros(hidden) for k in ("p_i", "p_f", "p_o") for s in ("", "2")})
    P = {k: v for k, v in params_of(model).items() if not k.startswith("p_")}
    x, y = sentence(rng_for(22), 9)
    _, expected = ref.forward("lstm2", P, x, ref.zero_state("lstm2", hidden))
    np.testing.assert_allclose(model.forward_propagation(x), expected, rtol=1e-12)


def mirrored_forget_gate(values, layers, peephole):
    """Forget-gate parameters that make f = σ(-(input gate's pre-activation)) = 1 - i, exactly the CIFG."""
    out = dict(values)
    for l in range(1, layers + 1):
        s = ref.suffix_of(l)
        for a in ("U", "W", "b") + (("p",) if peephole else ()):
            out[f"{a}_f{s}"] = -values[f"{a}_i{s}"]
    return out


def check_cifg_against_mirrored_lstm(cifg, full, x, y):
    """`full` (an uncoupled model with the mirrored forget gate) computes what `cifg` does; since θ_f = -θ_i
    there, the CIFG's input-gate gradient is full's dθ_i - dθ_f and its other gradients are full's."""
    probs = cifg.forward_propagation(x)
    np.testing.assert_allclose(probs, full.forward_propagation(x), rtol=1e-10)
    np.testing.assert_allclose(cifg.ce_error(x, y), full.ce_error(x, y), rtol=1e-12)
    cifg.bptt_truncate = full.bptt_truncate = -1
    mine, theirs = gradients(cifg, x, y), gradients(full, x, y)
    assert not any("_f" in name for name in mine)
    for name, g in mine.items():
        expected = theirs[name] - theirs[name.replace("_i", "_f")] if "_i" in name else theirs[name]
        np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12, err_msg=name)


@variants("cifg")
@pytest.mark.parametrize("model", ["lstm"], indirect=True)
def test_cifg_is_the_lstm_with_f_equal_to_one_minus_i(variant, model):
    cifg, _, _, _ = variant
    set_params(model, mirrored_forget_gate(params_of(cifg), 1, peephole=False))
    check_cifg_against_mirrored_lstm(cifg, model, *sentence(rng_for(23), 9))


@pytest.mark.parametrize("variant", ["peephole_cifg"], indirect=True)
def test_peephole_cifg_is_the_peephole_lstm_with_f_equal_to_one_minus_i(variant, built):
    cifg, _, _, _ = variant
    with borrowed(built("peephole")) as full:
        set_params(full, mirrored_forget_gate(params_of(cifg), 1, peephole=True))
        check_cifg_against_mirrored_lstm(cifg, full, *sentence(rng_for(24), 9))


@variants("cifg")
def test_cifg_with_the_input_gate_saturated(variant):
    """i ≡ 1 ⇒ f ≡ 0: the old cell is forgotten completely, c_t = g_t; i ≡ 0 ⇒ f ≡ 1 and the cell stays 0."""
    model, _, H, _ = variant
    set_params(model, {"U_i": np.zeros((H, WORD_DIM)), "W_i": np.zeros((H, H)), "b_i": np.full(H, 1e4)})
    P = params_of(model)
    x, _ = sentence(rng_for(25), 9)
    s, expected = np.zeros(H), []
    for token in x:
        g = np.tanh(P["U_g"][:, token] + P["W_g"] @ s + P["b_g"])
        o = ref.sigmoid(P["U_o"][:, token] + P["W_o"] @ s + P["b_o"])
        s = o * np.tanh(g)
        expected.append(ref.softmax(P["V"] @ s + P["b_V"]))
    np.testing.assert_allclose(model.forward_propagation(x), expected, rtol=1e-12)
    model.b_i.set_value(np.full(H, -1e4))
    np.testing.assert_allclose(model.forward_propagation(x), [ref.softmax(P["b_V"])] * len(x), rtol=1e-12)


@variants("dglstm2")
def test_closed_depth_gate_is_a_stacked_peephole_lstm(variant, built):
    dg, _, H, _ = variant
    set_params(dg, {"b_d2": np.full(H, -1e4), "U_d2": np.zeros((H, H)), "p_d2": np.zeros(H), "q_d2": np.zeros(H)})
    with borrowed(built("peephole2")) as stacked:
        set_params(stacked, params_of(dg))
        x, y = sentence(rng_for(26), 9)
        P = {k: v for k, v in params_of(dg).items() if not k.endswith("_d2")}
        _, expected = ref.forward(CONFIGS["peephole2"][1], P, x, ref.zero_state(CONFIGS["peephole2"][1], H))
        probs, mine, theirs = assert_same_numbers(dg, stacked, x, y, expected)
        assert set(mine) - set(theirs) == {"U_d2", "p_d2", "q_d2", "b_d2"}
        for name, g in theirs.items():
            np.testing.assert_allclose(mine[name], g, rtol=1e-11, atol=1e-14, err_msg=name)
        # the depth gate is really there: opened, it changes the numbers
        dg.b_d2.set_value(np.zeros(H))
        assert not np.allclose(dg.forward_propagation(x), probs, rtol=1e-6)


@variants("cwrnn1")
@pytest.mark.parametrize("model", ["rnn"], indirect=True)
def test_clockwork_rnn_with_every_period_1_is_an_rnn_with_a_block_upper_triangular_w(variant, model):
    """Seven modules of one unit, all of period 1: the RNN whose W has its lower triangle zeroed.  The clockwork
    RNN is given the whole W and must ignore the part below the blocks."""
    cw, _, hidden, name = variant
    set_params(cw, params_of(model))
    upper = ref.cwrnn_mask(hidden, PERIODS[name])
    assert upper.sum() == hidden * (hidden + 1) // 2
    model.W.set_value(np.where(upper, model.W.get_value(), 0.0))
    x, y = sentence(rng_for(27), 9)
    np.testing.assert_allclose(cw.forward_propagation(x), model.forward_propagation(x), rtol=1e-13)
    np.testing.assert_allclose(cw.ce_error(x, y), model.ce_error(x, y), rtol=1e-13)
    cw.bptt_truncate = model.bptt_truncate = -1
    mine, theirs = gradients(cw, x, y), gradients(model, x, y)
    assert set(mine) == set(theirs) == {"U", "V", "W"}
    theirs["W"] = np.where(upper, theirs["W"], 0.0)     # the RNN's gradient reaches its zeroed entries too
    for p in mine:
        np.testing.assert_allclose(mine[p], theirs[p], rtol=1e-11, atol=1e-14, err_msg=p)


def test_reference_clockwork_with_all_periods_1_is_a_block_triangular_rnn():
    """Keeps the reference honest: all modules at period 1 = an RNN with W's lower blocks zeroed."""
    rng = rng_for(28)
    P = {"U": rng.uniform(-1, 1, (6, WORD_DIM)), "W": rng.uniform(-1, 1, (6, 6)), "V": rng.uniform(-1, 1, (WORD_DIM, 6))}
    masked = dict(P, W=P["W"] * ref.cwrnn_mask(6, (1, 2, 3)))
    x, _ = sentence(rng, 9)
    kind = ref.cwrnn_kind((1, 1, 1))
    _, out = ref.forward(kind, P, x, ref.zero_state(kind, 6))
    _, expected = ref.forward("rnn", masked, x, ref.zero_state("rnn", 6))
    np.testing.assert_allclose(out, expected, rtol=1e-14)


@variants("cwrnn", "cwrnn235")
def test_clockwork_modules_hold_their_state_between_ticks(variant):
    """With V reading one module only, the output changes exactly at that module's ticks t mod T_i = 0."""
    model, _, hidden, name = variant
    x, _ = sentence(rng_for(29), 12)
    V = model.V.get_value()
    for rows, T in ref.cwrnn_modules(hidden, PERIODS[name]):
        only = np.zeros_like(V)
        only[:, rows] = V[:, rows]
        model.V.set_value(only)
        probs = model.forward_propagation(x)
        uniform = np.full(WORD_DIM, 1.0 / WORD_DIM)   # softmax(V·0) before a module's first tick
        for t in range(len(x)):
            previous = probs[t - 1] if t else uniform
            if t % T == 0:
                assert not np.allclose(probs[t], previous, rtol=1e-6), (rows, T, t)
            else:
                np.testing.assert_allclose(probs[t], previous, rtol=1e-14, err_msg=f"module {rows} period {T} step {t}")


def restarted_clock_loss(kind, P, x, y, k, frozen, per_output):
    """The truncated losses computed with the clock wrongly restarted at 0 in every window."""
    def window(first, last, outputs):
        _, out = ref.forward(kind, P, x[first:last + 1], frozen[first], t0=0)
        return -sum(np.log(out[t - first][y[t]]) for t in outputs)
    T = len(x)
    if per_output:
        return sum(window(max(0, t - k), t, [t]) for t in range(T))
    return window(max(T - k, 0), T - 1, range(max(T - k, 0), T))


@variants("cwrnn", "cwrnn235")
@pytest.mark.parametrize("mode", ["theano", "bptt"])
def test_truncation_windows_keep_the_sentence_clock(variant, mode):
    """A window starting at step 5 runs the modules as at t = 5 (period 2: held), not as at t = 0 (updated)."""
    model, kind, hidden, name = variant
    x, y = sentence(rng_for(9), 9)
    k = THEANO_K if mode == "theano" else BPTT_K
    model.truncation, model.bptt_truncate = mode, k
    P = params_of(model)
    frozen = ref.frozen_states(kind, P, x, hidden)
    if mode == "theano":
        right = lambda Q: ref.theano_truncated_loss(kind, Q, x, y, k, frozen)
    else:
        right = lambda Q: ref.per_output_truncated_loss(kind, Q, x, y, k, frozen)
    got = check_gradients(model, right, x, y, name)
    wrong = ref.numerical_gradients(lambda Q: restarted_clock_loss(kind, Q, x, y, k, frozen, mode == "bptt"), P,
                                    skip=unused_input_columns(x))
    assert max(np.max(np.abs(got[n] - wrong[n])) for n in got) > 1e-3   # the check can tell the two clocks apart


# ---------------------------------------------------------------------------------------------------------------
# Parameters: names, shapes, counts, draws

def lstm_shapes(n, m, layers, peephole, coupled, depth=False):
    """F4's parameters: the tutorial's 14 (layer 1 reads the word), per layer l >= 2 the same with suffix l on
    the state below (U (m,m)), peepholes p_i, p_f, p_o per layer; coupled drops every forget-gate parameter;
    depth adds U_d, p_d, q_d, b_d for layers >= 2."""
    shapes = {"V": (n, m), "b_V": (n,)}
    for l in range(1, layers + 1):
        s = ref.suffix_of(l)
        for gate in ("iog" if coupled else "ifog"):
            shapes.update({f"U_{gate}{s}": (m, n if l == 1 else m), f"W_{gate}{s}": (m, m), f"b_{gate}{s}": (m,)})
            if peephole and gate != "g":
                shapes[f"p_{gate}{s}"] = (m,)
        if depth and l >= 2:
            shapes.update({f"U_d{s}": (m, m), f"p_d{s}": (m,), f"q_d{s}": (m,), f"b_d{s}": (m,)})
    return shapes


EXPECTED_SHAPES = {
    "peephole": lstm_shapes(WORD_DIM, HIDDEN_DIM, 1, True, False),
    "cifg": lstm_shapes(WORD_DIM, HIDDEN_DIM, 1, False, True),
    "peephole_cifg": lstm_shapes(WORD_DIM, HIDDEN_DIM, 1, True, True),
    "peephole2": lstm_shapes(WORD_DIM, HIDDEN_DIM, 2, True, False),
    "dglstm2": lstm_shapes(WORD_DIM, HIDDEN_DIM, 2, True, False, depth=True),
    "dglstm3": lstm_shapes(WORD_DIM, 6, 3, True, False, depth=True),
    "cwrnn": {"U": (8, WORD_DIM), "W": (8, 8), "V": (WORD_DIM, 8)},
    "cwrnn235": {"U": (6, WORD_DIM), "W": (6, 6), "V": (WORD_DIM, 6)},
    "cwrnn1": {"U": (7, WORD_DIM), "W": (7, 7), "V": (WORD_DIM, 7)},
}


@pytest.mark.parametrize("name", ALL)
def test_parameter_names_and_shapes(built, name):
    model = built(name)
    got = {p.name: p.get_value().shape for p in model.params}
    assert len(got) == len(model.params)
    assert got == EXPECTED_SHAPES[name]
    for p in model.params:
        assert getattr(model, p.name) is p
        assert p.get_value().dtype == np.float64
    if "cifg" in name:
        assert not any("_f" in p.name for p in model.params)


def test_parameter_name_sets_spelled_out(built):
    """The same, written out by hand for two configurations (no helper in between)."""
    both_in_two_layers = LSTMAesara(WORD_DIM, hidden_dim=HIDDEN_DIM, layers=2, peephole=True, coupled=True)
    assert {p.name for p in both_in_two_layers.params} == set(
        "U_i U_o U_g W_i W_o W_g V b_i b_o b_g b_V p_i p_o U_i2 U_o2 U_g2 W_i2 W_o2 W_g2 b_i2 b_o2 b_g2 "
        "p_i2 p_o2".split())
    assert {p.name for p in built("dglstm2").params} == set(TUTORIAL_LSTM) | set(
        "p_i p_f p_o U_i2 U_f2 U_o2 U_g2 W_i2 W_f2 W_o2 W_g2 b_i2 b_f2 b_o2 b_g2 p_i2 p_f2 p_o2 "
        "U_d2 p_d2 q_d2 b_d2".split())


def lstm_layer_count(n_in, m, peephole, coupled):
    """One layer's recurrent part: gates·m·(n_in + m + 1) weights and biases plus the peepholes.
    Peephole LSTM: 4m(n+m+1) + 3m (docs/models.md); CIFG drops one gate's U, W, b (and p_f): 3m(n+m+1) (+ 2m)."""
    gates = 3 if coupled else 4
    peepholes = (2 if coupled else 3) if peephole else 0
    return gates * m * (n_in + m + 1) + peepholes * m


@pytest.mark.parametrize("name,layers,peephole,coupled,depth", [
    ("peephole", 1, True, False, False), ("cifg", 1, False, True, False), ("peephole_cifg", 1, True, True, False),
    ("peephole2", 2, True, False, False), ("dglstm2", 2, True, False, True), ("dglstm3", 3, True, False, True)])
def test_parameter_counts(built, name, layers, peephole, coupled, depth):
    """Total = recurrent part of every layer (layer 1 reads n = word_dim inputs, the others m) + the depth gates'
    m² + 3m per layer >= 2 + the output layer V, b_V: n·m + n."""
    model = built(name)
    n, m = WORD_DIM, CONFIGS[name][2]
    expected = lstm_layer_count(n, m, peephole, coupled) + (layers - 1) * lstm_layer_count(m, m, peephole, coupled)
    expected += (layers - 1) * (m * m + 3 * m) * depth + n * m + n
    assert sum(p.get_value().size for p in model.params) == expected
    if name == "peephole":
        assert expected - (n * m + n) == 4 * m * (n + m + 1) + 3 * m
    if name == "cifg":
        assert expected - (n * m + n) == 3 * m * (n + m + 1)


@variants("cwrnn", "cwrnn235")
def test_clockwork_uses_exactly_the_block_upper_triangular_recurrent_weights(variant):
    """Effective recurrent parameters k²·g(g+1)/2: exactly the entries of W whose gradient is not zero."""
    model, _, m, name = variant
    g = len(PERIODS[name])
    k = m // g
    x, y = sentence(rng_for(30), 12)
    model.bptt_truncate = -1
    used = gradients(model, x, y)["W"] != 0
    np.testing.assert_array_equal(used, ref.cwrnn_mask(m, PERIODS[name]))
    assert used.sum() == k * k * g * (g + 1) // 2
    assert sum(p.get_value().size for p in model.params) == m * WORD_DIM + m * m + WORD_DIM * m


@pytest.mark.parametrize("layers", [1, 2])
def test_same_seed_same_tutorial_draws_with_peepholes(layers):
    n, H = 11, 4
    np.random.seed(77)
    plain = LSTMAesara(n, hidden_dim=H, layers=layers)
    np.random.seed(77)
    peep = LSTMAesara(n, hidden_dim=H, layers=layers, peephole=True)
    plain_values, peep_values = params_of(plain), params_of(peep)
    assert set(TUTORIAL_LSTM) <= set(plain_values)
    peepholes = {f"p_{g}{ref.suffix_of(l)}" for g in "ifo" for l in range(1, layers + 1)}
    assert set(peep_values) == set(plain_values) | peepholes
    for name, value in plain_values.items():
        np.testing.assert_array_equal(peep_values[name], value, err_msg=name)
        assert peep_values[name].dtype == np.float64


# ---------------------------------------------------------------------------------------------------------------
# Constructors

def test_constructor_signatures_are_f4s():
    """F4's positional order and defaults; options beyond F4's may follow if they have defaults."""
    empty = inspect.Parameter.empty

    def defaults(cls):
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        n = {LSTMAesara: 7, DGLSTMAesara: 5, CWRNNAesara: 5}[cls]
        assert all(p.default is not empty or p.kind == p.VAR_KEYWORD for p in params[n:]), params[n:]
        return [(p.name, p.default) for p in params[:n]]
    assert defaults(LSTMAesara) == [("word_dim", empty), ("hidden_dim", 100), ("bptt_truncate", 4),
                                    ("truncation", "theano"), ("layers", 1), ("peephole", False), ("coupled", False)]
    assert defaults(DGLSTMAesara) == [("word_dim", empty), ("hidden_dim", 100), ("bptt_truncate", -1),
                                      ("truncation", "theano"), ("layers", 2)]
    cw = defaults(CWRNNAesara)
    assert cw[:4] == [("word_dim", empty), ("hidden_dim", 100), ("bptt_truncate", -1), ("truncation", "theano")]
    assert cw[4][0] == "periods" and tuple(cw[4][1]) == (1, 2, 4, 8)


def test_constructor_defaults():
    dg = DGLSTMAesara(3)
    assert (dg.hidden_dim, dg.bptt_truncate, dg.truncation) == (100, -1, "theano")
    assert {p.name: p.get_value().shape for p in dg.params} == lstm_shapes(3, 100, 2, True, False, depth=True)
    cw = CWRNNAesara(3)
    assert (cw.hidden_dim, cw.bptt_truncate, cw.truncation) == (100, -1, "theano")
    assert {p.name: p.get_value().shape for p in cw.params} == {"U": (100, 3), "W": (100, 100), "V": (3, 100)}
    plain = LSTMAesara(3)
    assert {p.name for p in plain.params} == set(TUTORIAL_LSTM)
    assert (DGLSTMAesara(3, hidden_dim=4, bptt_truncate=2, truncation="bptt").truncation,
            CWRNNAesara(3, hidden_dim=4, bptt_truncate=2, truncation="bptt").truncation) == ("bptt", "bptt")


@pytest.mark.parametrize("make", [
    lambda: CWRNNAesara(WORD_DIM, hidden_dim=7),                        # 7 units, 4 modules
    lambda: CWRNNAesara(WORD_DIM, hidden_dim=6, periods=(1, 2, 4, 8)),  # 6 units, 4 modules
    lambda: CWRNNAesara(WORD_DIM, hidden_dim=6, periods=(2, 1)),        # descending
    lambda: CWRNNAesara(WORD_DIM, hidden_dim=6, periods=(0, 1)),        # not positive
    lambda: CWRNNAesara(WORD_DIM, hidden_dim=6, periods=(-2, 1)),
    lambda: CWRNNAesara(WORD_DIM, hidden_dim=6, periods=(1, 2.5)),      # not an integer
    lambda: DGLSTMAesara(WORD_DIM, hidden_dim=6, layers=1),
], ids=["7-by-4", "6-by-4", "descending", "zero", "negative", "fraction",
        "dglstm-1-layer"])
def test_bad_options_get_a_clear_error(make):
    with pytest.raises(InputError):
        make()
