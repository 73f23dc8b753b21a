"""LSTM language model (WildML tutorial part 4), with the biases of the original lstm_theano.py:

    i = sigmoid(U_i x_t + W_i s_{t-1} + b_i)      input gate
    f = sigmoid(U_f x_t + W_f s_{t-1} + b_f)      forget gate (b_f starts at 1)
    o = sigmoid(U_o x_t + W_o s_{t-1} + b_o)      output gate
    g = tanh(U_g x_t + W_g s_{t-1} + b_g)         candidate
    c_t = f * c_{t-1} + i * g
    s_t = o * tanh(c_t)
    out_t = softmax(V s_t + b_V)

The four gates share one matrix product per step: [W_i; W_f; W_o; W_g] s_{t-1}.
"""
import numpy as np

from backend import at, floatX
from recurrent import RecurrentLM, uniform

GATES = "ifog"


class LSTMAesara(RecurrentLM):
    state_names = ("c", "s")

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, truncation="theano"):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation)
        n, m = word_dim, hidden_dim
        self.add_params(**{f"U_{k}": uniform(n, (m, n)) for k in GATES},
                        **{f"W_{k}": uniform(m, (m, m)) for k in GATES},
                        V=uniform(m, (n, m)),
                        **{f"b_{k}": np.full(m, 1.0 if k == "f" else 0.0) for k in GATES},
                        b_V=np.zeros(n))

    def gate_params(self, prefix):
        return [getattr(self, f"{prefix}_{k}") for k in GATES]

    def inputs(self, x):
        Ux = [self.lookup(U, x) for U in self.gate_params("U")]
        return [at.concatenate(Ux, axis=-1) + at.concatenate(self.gate_params("b"))]

    def step_weights(self):
        return [at.concatenate(self.gate_params("W")).T]      # [W_i; W_f; W_o; W_g], for rows s_{t-1}

    def step(self, Ux_t, c_prev, s_prev, W):
        a_i, a_f, a_o, a_g = self.split(Ux_t + s_prev @ W, 4)
        i, f, o, g = at.sigmoid(a_i), at.sigmoid(a_f), at.sigmoid(a_o), at.tanh(a_g)
        c = f * c_prev + i * g
        s = o * at.tanh(c)
        return [c, s]

    def logits(self, s):
        return s @ self.V.T + self.b_V
