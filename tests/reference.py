"""Small numpy implementations of the three models, written from the equations (column vectors, one
sentence, one step at a time), independent of the Aesara code they check.

A model here is a pair of functions on a dict of parameter arrays P:
    step(P, token, state) -> new state (a tuple of vectors)
    probs(P, state)       -> output distribution over the vocabulary
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


def zero_state(kind, hidden):
    return tuple(np.zeros(hidden) for _ in range(MODELS[kind][2]))


def forward(kind, P, x, state):
    """States after each token and the output distribution at each step, from a given initial state."""
    step, probs, _ = MODELS[kind]
    states, outputs = [], []
    for token in x:
        state = step(P, token, state)
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
    """Loss of outputs `outputs` of steps first..last, run from the constant state `before`."""
    states, out = forward(kind, P, x[first:last + 1], before)
    return -sum(np.log(out[t - first][y[t]]) for t in outputs)


def theano_truncated_loss(kind, P, x, y, k, frozen):
    """What Theano's truncate_gradient=k differentiates: the last k outputs from the state before them."""
    T = len(x)
    first = max(T - k, 0)
    return window_loss(kind, P, x, y, first, T - 1, frozen[first], range(first, T))


def per_output_truncated_loss(kind, P, x, y, k, frozen):
    """The tutorial's numpy bptt: output t's error flows back through steps max(0, t-k)..t only."""
    return sum(window_loss(kind, P, x, y, max(0, t - k), t, frozen[max(0, t - k)], [t]) for t in range(len(x)))


def numerical_gradients(loss, P, h=1e-6):
    """Central differences of loss(P) for every element of every parameter."""
    grads = {}
    for name, value in P.items():
        g = np.zeros_like(value)
        for ix in np.ndindex(value.shape):
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
