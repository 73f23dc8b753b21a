"""What the experiments add to the library, against references written here from the papers: Greff et al.'s
LSTM ablations (arXiv 1503.04069, section III), the regression head on real-valued sequences (the adding
problem's), and the total derivatives of a loss with respect to earlier states (the vanishing-gradient
experiment's).  Each configuration is compiled once, at small sizes, in float64."""
import numpy as np
import pytest

import reference as ref
from conftest import WORD_DIM
from errors import InputError
from lstm_aesara import ABLATIONS, LSTMAesara
from rnn_aesara import RNNAesara
from gru_aesara import GRUAesara

HIDDEN = 4


def greff_cell(P, x_terms, c, s, gates_prev, ablation):
    """One step of Greff's vanilla LSTM (peepholes on) with one change.  gates_prev: the previous step's
    i, f, o (FGR only).  Returns c, the gates FGR carries, s."""
    pre = {k: x_terms[k] + P[f"W_{k}"] @ s + P[f"b_{k}"] for k in x_terms}
    if ablation == "FGR":
        for k in "ifo":
            pre[k] = pre[k] + sum(P[f"W_{k}{j}"] @ gates_prev[n] for n, j in enumerate("ifo"))
    i = 1.0 if ablation == "NIG" else ref.sigmoid(pre["i"] + P["p_i"] * c)
    f = 1.0 if ablation == "NFG" else ref.sigmoid(pre["f"] + P["p_f"] * c)
    z = pre["g"] if ablation == "NIAF" else np.tanh(pre["g"])
    c = f * c + i * z
    o = 1.0 if ablation == "NOG" else ref.sigmoid(pre["o"] + P["p_o"] * c)
    s = o * c if ablation == "NOAF" else o * np.tanh(c)
    gates = (i, f, o) if ablation == "FGR" else ()
    return (c, *gates, s)


def greff_kind(ablation):
    kept = [k for k in "ifog" if ABLATIONS[ablation] != k]

    def step(P, token, state):
        c, *gates_prev, s = state
        return greff_cell(P, {k: P["U_" + k][:, token] for k in kept}, c, s, gates_prev, ablation)
    return ref.register(f"greff-{ablation}", step, ref.lstm_probs, 5 if ablation == "FGR" else 2)


@pytest.fixture(scope="module")
def ablated():
    return {}


@pytest.mark.parametrize("ablation", list(ABLATIONS))
def test_each_ablation_has_the_gradient_of_greffs_equations(ablated, ablation):
    """bptt() equals finite differences of the numpy loss (so the forward pass is Greff's too)."""
    if ablation not in ablated:
        ablated[ablation] = LSTMAesara(WORD_DIM, hidden_dim=HIDDEN, bptt_truncate=-1, peephole=True, ablation=ablation)
    model, kind = ablated[ablation], greff_kind(ablation)
    rng = np.random.RandomState(len(ablation))
    for p in model.params:
        p.set_value(rng.uniform(-0.6, 0.6, p.get_value().shape))
    P = {p.name: p.get_value() for p in model.params}
    removed = ABLATIONS[ablation]
    assert not any(name[2:] == removed or name == f"p_{removed}" for name in P if removed)
    x, y = rng.randint(0, WORD_DIM, 6), rng.randint(0, WORD_DIM, 6)
    expected = ref.numerical_gradients(lambda Q: ref.sentence_loss(kind, Q, x, y, HIDDEN), P)
    for p, g in zip(model.params, model.bptt(x, y)):
        np.testing.assert_allclose(g, expected[p.name], atol=1e-8, err_msg=f"{ablation}: {p.name}")


def test_ablations_count_greffs_parameters():
    m, n = 5, 11      # hidden, vocabulary; the vanilla (peephole) LSTM: 4m(n + m + 1) + 3m, plus the output n(m + 1)
    vanilla = 4 * m * (n + m + 1) + 3 * m + n * (m + 1)
    counts = {ablation: LSTMAesara(n, m, peephole=True, ablation=ablation).parameter_count() for ablation in ABLATIONS}
    gate = m * (n + m + 1) + m
    assert counts == {"NIG": vanilla - gate, "NFG": vanilla - gate, "NOG": vanilla - gate, "NIAF": vanilla,
                      "NOAF": vanilla, "FGR": vanilla + 9 * m * m}


def test_bad_ablations_get_one_line():
    with pytest.raises(InputError, match="ablation must be one of"):
        LSTMAesara(10, 4, ablation="NXG")
    with pytest.raises(InputError, match="need both the input and the forget gate"):
        LSTMAesara(10, 4, coupled=True, ablation="NFG")


def test_an_ablated_model_file_loads_back_as_the_same_ablation(tmp_path):
    from utils import load_model_parameters_aesara, save_model_parameters_aesara
    for ablation, coupled in (("NFG", False), ("NOAF", True)):
        model = LSTMAesara(9, 3, layers=2, coupled=coupled, ablation=ablation)
        save_model_parameters_aesara(model, str(tmp_path / "m.npz"))
        back = load_model_parameters_aesara(str(tmp_path / "m.npz"), LSTMAesara)
        assert (back.ablation, back.coupled, back.layers) == (ablation, coupled, 2)
        assert [p.name for p in back.params] == [p.name for p in model.params]


# ------------------------------------------------------------------------------ real-valued sequences
def per_sequence(step, head):
    """A numpy model on real-valued sequences X (T, B, D), one sequence at a time: its state from zeros
    through step(P, x_t, state), then head(P, state)."""
    def predict(P, X):
        out = []
        for b in range(X.shape[1]):
            state = None
            for x_t in X[:, b]:
                state = step(P, x_t, state)
            out.append(head(P, state))
        return np.array(out)
    return predict


def rnn_step(P, x_t, state):          # s_t = tanh(U x_t + W s_{t-1})
    s = np.zeros(P["W"].shape[0]) if state is None else state
    return np.tanh(P["U"] @ x_t + P["W"] @ s)


def lstm_step(P, x_t, state):
    c, s = (np.zeros(P["W_i"].shape[0]),) * 2 if state is None else state
    return ref.lstm_cell(P, "", {k: P["U_" + k] @ x_t for k in "ifog"}, c, s)


def gru_step(P, x_t, state):
    s1, s2 = (np.zeros(P["W"].shape[1]),) * 2 if state is None else state
    s1 = ref.gru_layer(P, 0, P["E"] @ x_t, s1)
    return s1, ref.gru_layer(P, 3, s1, s2)


rnn_on_vectors = per_sequence(rnn_step, lambda P, s: P["V"][0] @ s)
lstm_on_vectors = per_sequence(lstm_step, lambda P, state: P["V"][0] @ state[1] + P["b_V"][0])
gru_on_vectors = per_sequence(gru_step, lambda P, state: P["V"][0] @ state[1] + P["c"][0])


@pytest.mark.parametrize("cls, reference", [(RNNAesara, rnn_on_vectors), (LSTMAesara, lstm_on_vectors),
                                            (GRUAesara, gru_on_vectors)], ids=["rnn", "lstm", "gru"])
def test_the_regression_head_predicts_and_descends_the_squared_error(cls, reference):
    rng = np.random.RandomState(3)
    model = cls(3, hidden_dim=HIDDEN, bptt_truncate=-1, output_dim=1)
    for p in model.params:
        p.set_value(rng.uniform(-0.8, 0.8, p.get_value().shape))
    X, targets = rng.uniform(-1, 1, (5, 4, 3)), rng.uniform(0, 2, 4)
    P = {p.name: p.get_value() for p in model.params}
    np.testing.assert_allclose(model.values(X), reference(P, X), atol=1e-12)
    mse = lambda Q: np.mean((reference(Q, X) - targets) ** 2)
    expected = ref.numerical_gradients(mse, P)
    assert model.train_values(X, targets, 0.1) == pytest.approx(mse(P), abs=1e-12)    # before the update
    for p in model.params:
        np.testing.assert_allclose(p.get_value(), P[p.name] - 0.1 * expected[p.name], atol=1e-8, err_msg=p.name)


def test_the_regression_head_refuses_what_it_cannot_do():
    with pytest.raises(InputError, match="output_dim=1"):
        RNNAesara(3, HIDDEN, bptt_truncate=-1).values(np.zeros((2, 1, 3)))
    with pytest.raises(InputError, match="full BPTT"):
        RNNAesara(3, HIDDEN, output_dim=1).values(np.zeros((2, 1, 3)))
    with pytest.raises(InputError, match=r"\(steps, batch, 3\)"):
        RNNAesara(3, HIDDEN, bptt_truncate=-1, output_dim=1).values(np.zeros((2, 3)))


# ------------------------------------------------------------------------------ gradients back in time
def test_state_gradients_are_the_total_derivatives_of_the_last_loss():
    """For the RNN: nudging s_t in the numpy forward pass changes the last word's loss at the rate returned."""
    model = RNNAesara(WORD_DIM, hidden_dim=HIDDEN)
    rng = np.random.RandomState(4)
    P = {p.name: rng.uniform(-0.9, 0.9, p.get_value().shape) for p in model.params}
    for p in model.params:
        p.set_value(P[p.name])
    x, y = rng.randint(0, WORD_DIM, 7), rng.randint(0, WORD_DIM, 7)

    def last_loss(nudge_at, nudge):
        s = np.zeros(model.hidden_dim)
        for t, token in enumerate(x):
            s = np.tanh(P["U"][:, token] + P["W"] @ s) + (nudge if t == nudge_at else 0)
        return -np.log(ref.softmax(P["V"] @ s)[y[-1]])

    got = model.state_gradients(x, y)["s"]
    h = 1e-6
    for t in range(len(x)):
        for j in range(model.hidden_dim):
            e = np.zeros(model.hidden_dim)
            e[j] = h
            assert got[t, j] == pytest.approx((last_loss(t, e) - last_loss(t, -e)) / (2 * h), abs=1e-8)
