"""LSTM language model (WildML tutorial part 4), with the biases of the original lstm_theano.py:

    i = sigmoid(U_i x_t + W_i s_{t-1} + b_i)      input gate
    f = sigmoid(U_f x_t + W_f s_{t-1} + b_f)      forget gate (b_f starts at 1)
    o = sigmoid(U_o x_t + W_o s_{t-1} + b_o)      output gate
    g = tanh(U_g x_t + W_g s_{t-1} + b_g)         candidate
    c_t = f * c_{t-1} + i * g
    s_t = o * tanh(c_t)
    out_t = softmax(V s_t + b_V)

The four gates share one matrix product per step: [W_i; W_f; W_o; W_g] s_{t-1}.
With layers=L > 1 the cells are stacked: layer l (l = 2..L, parameters U_i2, W_i2, b_i2, ...) reads the
state s_t of the layer below where layer 1 reads the word; the output reads the top layer.
"""
import numpy as np

from backend import at
from errors import InputError
from kernels import sigmoid, tanh
from recurrent import RecurrentLM, uniform

GATES = "ifog"


class LSTMAesara(RecurrentLM):
    tables = tuple(f"U_{k}" for k in GATES)      # layer 1's; higher layers multiply states

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, truncation="theano", layers=1):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation)
        if not isinstance(layers, int) or layers < 1:
            raise InputError(f"layers must be a positive integer, got {layers!r}")
        self.layers = layers
        self.state_names = tuple(f"{name}{self.suffix(l)}" for l in range(layers) for name in "cs")
        n, m = word_dim, hidden_dim
        self.add_params(**{f"U_{k}": uniform(n, (m, n)) for k in GATES},
                        **{f"W_{k}": uniform(m, (m, m)) for k in GATES},
                        V=uniform(m, (n, m)),
                        **self.biases(""),
                        b_V=np.zeros(n))
        for l in range(1, layers):
            self.add_params(**{f"U_{k}{l + 1}": uniform(m, (m, m)) for k in GATES},
                            **{f"W_{k}{l + 1}": uniform(m, (m, m)) for k in GATES},
                            **self.biases(l + 1))

    def biases(self, suffix):
        """b_i, b_f, b_o, b_g: zero but the forget gate's, which starts at 1 (remember by default)."""
        return {f"b_{k}{suffix}": np.full(self.hidden_dim, 1.0 if k == "f" else 0.0) for k in GATES}

    @staticmethod
    def suffix(l):
        return "" if l == 0 else str(l + 1)

    @classmethod
    def file_options(cls, arrays):
        return {"layers": 1 + sum(f"U_i{l}" in arrays for l in range(2, len(arrays)))}

    def stacked(self, prefix, l):
        """The four gates' matrices (or biases) of layer l side by side, for one product."""
        return at.concatenate([getattr(self, f"{prefix}_{k}{self.suffix(l)}") for k in GATES], axis=0)

    def inputs(self, x):
        Ux = [self.lookup(getattr(self, f"U_{k}"), x) for k in GATES]
        return [at.concatenate(Ux, axis=-1) + self.stacked("b", 0)]

    def layer_inputs(self, l, s_below):
        return [self.project(s_below, self.stacked("U", l).T) + self.stacked("b", l)]

    def step_weights(self, l):
        """[W_i; W_f; W_o; W_g] of layer l, for one product with the state rows."""
        return [self.stacked("W", l).T]

    def step(self, Ux_t, c_prev, s_prev, W):
        """One LSTM cell, given U x_t + b for its four gates."""
        a_i, a_f, a_o, a_g = self.split(Ux_t + at.dot(s_prev, W), 4)
        i, f, o, g = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), tanh(a_g)
        c = f * c_prev + i * g
        s = o * tanh(c)
        return [c, s]

    def logits(self, s):
        return at.dot(s, self.V.T) + self.b_V
