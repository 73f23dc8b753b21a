"""Small numpy implementations of the three models, written from the equations (column vectors, one
sentence, one step at a time), independent of the Aesara code they check.

A model here is a pair of functions on a dict of parameter arrays P:
    step(P, token, state) -> new state (a tuple of vectors)
    probs(P, state)       -> output distribution over the vocabulary
Models whose step depends on the position in the sentence (the clockwork RNN) are registered as timed: their
step is step(P, token, state, t), t the absolute position of `token` in the sentence (0 for its first word), also
inside truncation windows, which start at their true position.

The LSTM variants (peephole, coupled input-forget gate, depth-gated, clockwork) are registered under names built
by lstm_variant_kind, dglstm_kind and cwrnn_kind.
"""
import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def hard_sigmoid(a):
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def softmax(a):
    e = np.exp(a - np.max(a))
    return e / e.sum()


def rnn_step(P, token, state):
    (s,) = state
    return (np.tanh(P["U"][:, token] + P["W"] @ s),)


def rnn_probs(P, state):
    return softmax(P["V"] @ state[-1])


def lstm_cell(P, suffix, Ux, c, s):
    """One LSTM cell; Ux[k] is gate k's input term U_k x."""
    gate = {k: Ux[k] + P[f"W_{k}{suffix}"] @ s + P[f"b_{k}{suffix}"] for k in "ifog"}
    i, f, o, g = sigmoid(gate["i"]), sigmoid(gate["f"]), sigmoid(gate["o"]), np.tanh(gate["g"])
    c = f * c + i * g
    return (c, o * np.tanh(c))


def lstm_step(P, token, state):
    """Stacked cells (state = c1, s1, c2, s2, ...): layer 1 reads the word, layer l the state below."""
    new = lstm_cell(P, "", {k: P["U_" + k][:, token] for k in "ifog"}, state[0], state[1])
    for l in range(2, len(state) // 2 + 1):
        new += lstm_cell(P, l, {k: P[f"U_{k}{l}"] @ new[-1] for k in "ifog"}, state[2 * l - 2], state[2 * l - 1])
    return new


def lstm_probs(P, state):
    return softmax(P["V"] @ state[-1] + P["b_V"])


def gru_layer(P, first_row, x, s):
    U, W, b = P["U"], P["W"], P["b"]
    z = hard_sigmoid(U[first_row] @ x + W[first_row] @ s + b[first_row])
    r = hard_sigmoid(U[first_row + 1] @ x + W[first_row + 1] @ s + b[first_row + 1])
    c = np.tanh(U[first_row + 2] @ x + W[first_row + 2] @ (s * r) + b[first_row + 2])
    return (1 - z) * c + z * s


def gru_step(P, token, state):
    s1, s2 = state
    s1 = gru_layer(P, 0, P["E"][:, token], s1)
    return (s1, gru_layer(P, 3, s1, s2))


def gru_probs(P, state):
    return softmax(P["V"] @ state[-1] + P["c"])


MODELS = {"rnn": (rnn_step, rnn_probs, 1), "lstm": (lstm_step, lstm_probs, 2), "gru": (gru_step, gru_probs, 2),
          "lstm2": (lstm_step, lstm_probs, 4)}

TIMED = set()   # kinds whose step takes the absolute time index t


def register(kind, step, probs, n_states, timed=False):
    """Make a model known to the generic helpers below; returns its kind."""
    MODELS[kind] = (step, probs, n_states)
    if timed:
        TIMED.add(kind)
    else:
        TIMED.discard(kind)
    return kind


def suffix_of(layer):
    """Parameter-name suffix of a layer: '' for the first, then '2', '3', ..."""
    return "" if layer == 1 else str(layer)


def variant_cell(P, suffix, Ux, c, s, peephole, coupled, depth=None):
    """One cell of the LSTM family (Greff et al. 2015, section II), from the cell's own c_{t-1}, s_{t-1}.

    Ux[k] is gate k's input term U_k x.  peephole: i and f also see p∘c_{t-1}, o sees p_o∘c_t (the new cell).
    coupled (CIFG): f = 1 - i, and there are no forget-gate parameters.  depth = (d, c_below): the depth-gated
    LSTM's gate value and the new cell c_t^{l-1} of the layer below; d∘c_t^{l-1} is added to the new cell, which
    the output gate's peephole then sees.
    """
    gates = "iog" if coupled else "ifog"
    pre = {k: Ux[k] + P[f"W_{k}{suffix}"] @ s + P[f"b_{k}{suffix}"] for k in gates}
    if peephole:
        pre["i"] = pre["i"] + P[f"p_i{suffix}"] * c
        if not coupled:
            pre["f"] = pre["f"] + P[f"p_f{suffix}"] * c
    i = sigmoid(pre["i"])
    f = 1.0 - i if coupled else sigmoid(pre["f"])
    g = np.tanh(pre["g"])
    c_new = f * c + i * g
    if depth is not None:
        d, c_below = depth
        c_new = c_new + d * c_below
    o_pre = pre["o"] + P[f"p_o{suffix}"] * c_new if peephole else pre["o"]
    return (c_new, sigmoid(o_pre) * np.tanh(c_new))


def lstm_variant_kind(layers=1, peephole=False, coupled=False):
    """Register the stacked LSTM with the given options (state c1, s1, c2, s2, ...); returns its kind."""
    gates = "iog" if coupled else "ifog"

    def step(P, token, state):
        new = variant_cell(P, "", {k: P["U_" + k][:, token] for k in gates}, state[0], state[1], peephole, coupled)
        for l in range(2, layers + 1):
            sfx = suffix_of(l)
            Ux = {k: P[f"U_{k}{sfx}"] @ new[-1] for k in gates}
            new += variant_cell(P, sfx, Ux, state[2 * l - 2], state[2 * l - 1], peephole, coupled)
        return new

    name = f"lstm-{layers}" + ("-peephole" if peephole else "") + ("-cifg" if coupled else "")
    return register(name, step, lstm_probs, 2 * layers)


def dglstm_step(P, token, state):
    """Depth-gated LSTM (Yao et al. 2015): layer 1 a peephole LSTM; layer l >= 2 reads h_t^{l-1}, and its depth
    gate d = σ(b_d + U_d h_t^{l-1} + p_d∘c_{t-1}^l + q_d∘c_t^{l-1}) adds d∘c_t^{l-1} to its cell."""
    new = variant_cell(P, "", {k: P["U_" + k][:, token] for k in "ifog"}, state[0], state[1], True, False)
    for l in range(2, len(state) // 2 + 1):
        sfx = suffix_of(l)
        c_below, h_below = new[-2], new[-1]
        c_prev, s_prev = state[2 * l - 2], state[2 * l - 1]
        d = sigmoid(P[f"b_d{sfx}"] + P[f"U_d{sfx}"] @ h_below + P[f"p_d{sfx}"] * c_prev + P[f"q_d{sfx}"] * c_below)
        Ux = {k: P[f"U_{k}{sfx}"] @ h_below for k in "ifog"}
        new += variant_cell(P, sfx, Ux, c_prev, s_prev, True, False, depth=(d, c_below))
    return new


def dglstm_kind(layers=2):
    return register(f"dglstm-{layers}", dglstm_step, lstm_probs, 2 * layers)


def cwrnn_modules(hidden, periods):
    """(row slice, period) of each module: module i is rows i*k..(i+1)*k-1, k = hidden / len(periods)."""
    k = hidden // len(periods)
    assert k * len(periods) == hidden
    return [(slice(i * k, (i + 1) * k), T) for i, T in enumerate(periods)]


def cwrnn_mask(hidden, periods):
    """The block-upper-triangular part of W that the clockwork RNN uses: row block i, column blocks j >= i."""
    mask = np.zeros((hidden, hidden), dtype=bool)
    for rows, _ in cwrnn_modules(hidden, periods):
        mask[rows, rows.start:] = True
    return mask


def cwrnn_kind(periods=(1, 2, 4, 8)):
    """Clockwork RNN (Koutník et al. 2014): at step t module i updates iff t mod T_i == 0,
    s_t[i] = tanh(U[i] x_t + sum_{j>=i} W[i,j] s_{t-1}[j]); otherwise it keeps s_{t-1}[i]."""
    periods = tuple(periods)

    def step(P, token, state, t):
        (s,) = state
        U, W = P["U"], P["W"]
        new = s.copy()
        for rows, T in cwrnn_modules(len(s), periods):
            if t % T == 0:
                new[rows] = np.tanh(U[rows, token] + W[rows, rows.start:] @ s[rows.start:])
        return (new,)

    return register("cwrnn-" + "-".join(map(str, periods)), step, rnn_probs, 1, timed=True)


def zero_state(kind, hidden):
    return tuple(np.zeros(hidden) for _ in range(MODELS[kind][2]))


def forward(kind, P, x, state, t0=0):
    """States after each token and the output distribution at each step, from a given initial state;
    x[0] is the sentence's word at position t0 (what a timed step is told)."""
    step, probs, _ = MODELS[kind]
    states, outputs = [], []
    for t, token in enumerate(x, start=t0):
        state = step(P, token, state, t) if kind in TIMED else step(P, token, state)
        states.append(state)
        outputs.append(probs(P, state))
    return states, np.array(outputs)


def sentence_loss(kind, P, x, y, hidden):
    _, out = forward(kind, P, x, zero_state(kind, hidden))
    return -np.sum(np.log(out[np.arange(len(y)), y]))


def frozen_states(kind, P, x, hidden):
    """The states entering each step (index t: state before token t), to hold constant in truncations."""
    states, _ = forward(kind, P, x, zero_state(kind, hidden))
    return [zero_state(kind, hidden)] + states


def window_loss(kind, P, x, y, first, last, before, outputs):
    """Loss of outputs `outputs` of steps first..last, run from the constant state `before`; the window's
    clock starts at the sentence's position `first`."""
    states, out = forward(kind, P, x[first:last + 1], before, t0=first)
    return -sum(np.log(out[t - first][y[t]]) for t in outputs)


def theano_truncated_loss(kind, P, x, y, k, frozen):
    """What Theano's truncate_gradient=k differentiates: the last k outputs from the state before them."""
    T = len(x)
    first = max(T - k, 0)
    return window_loss(kind, P, x, y, first, T - 1, frozen[first], range(first, T))


def per_output_truncated_loss(kind, P, x, y, k, frozen):
    """The tutorial's numpy bptt: output t's error flows back through steps max(0, t-k)..t only."""
    return sum(window_loss(kind, P, x, y, max(0, t - k), t, frozen[max(0, t - k)], [t]) for t in range(len(x)))


def numerical_gradients(loss, P, h=1e-6, skip=None):
    """Central differences of loss(P) for every element of every parameter; skip(name, index) may name elements
    the loss cannot depend on (e.g. input columns of words the sentence does not contain): 0, not evaluated."""
    grads = {}
    for name, value in P.items():
        g = np.zeros_like(value)
        for ix in np.ndindex(value.shape):
            if skip is not None and skip(name, ix):
                continue
            original = value[ix]
            value[ix] = original + h
            plus = loss(P)
            value[ix] = original - h
            minus = loss(P)
            value[ix] = original
            g[ix] = (plus - minus) / (2 * h)
        grads[name] = g
    return grads


def tutorial_rnn_bptt(P, x, y, k):
    """The RNN tutorial's hand-written numpy BPTT with per-output truncation, re-derived:
    for every output t, the error is pushed back through steps t, t-1, ..., max(0, t-k)."""
    U, V, W = P["U"], P["V"], P["W"]
    T, H = len(x), W.shape[0]
    states, out = forward("rnn", P, x, (np.zeros(H),))
    s = np.array([st[0] for st in states] + [np.zeros(H)])   # s[-1] is the initial zero state
    dU, dV, dW = np.zeros_like(U), np.zeros_like(V), np.zeros_like(W)
    delta_o = out.copy()
    delta_o[np.arange(T), y] -= 1.0
    for t in reversed(range(T)):
        dV += np.outer(delta_o[t], s[t])
        delta = (V.T @ delta_o[t]) * (1 - s[t] ** 2)
        for step in reversed(range(max(0, t - k), t + 1)):
            dW += np.outer(delta, s[step - 1])
            dU[:, x[step]] += delta
            delta = (W.T @ delta) * (1 - s[step - 1] ** 2)
    return {"U": dU, "V": dV, "W": dW}
