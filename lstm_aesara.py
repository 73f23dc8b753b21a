"""LSTM language model (WildML tutorial part 4), with the biases of the original lstm_theano.py:

    i = sigmoid(U_i x_t + W_i s_{t-1} + b_i)      input gate
    f = sigmoid(U_f x_t + W_f s_{t-1} + b_f)      forget gate (b_f starts at 1)
    o = sigmoid(U_o x_t + W_o s_{t-1} + b_o)      output gate
    g = tanh(U_g x_t + W_g s_{t-1} + b_g)         candidate
    c_t = f * c_{t-1} + i * g
    s_t = o * tanh(c_t)
    out_t = softmax(V s_t + b_V)

Options, in the form of Greff et al. 2015 (arXiv 1503.04069, section II, "vanilla LSTM"):
  peephole=True  (Gers & Schmidhuber 2000): the gates also see the cell through diagonal weights,
                 i and f the previous one (+ p_i * c_{t-1}, + p_f * c_{t-1}), o the new one (+ p_o * c_t);
  coupled=True   (Greff's CIFG; the GRU's i = z, f = 1 - z): f = 1 - i, with no forget-gate parameters.
The gates share one matrix product per step: [W_i; W_f; W_o; W_g] s_{t-1}.
With layers=L > 1 the cells are stacked: layer l (l = 2..L, parameters U_i2, W_i2, b_i2, ...) reads the
state s_t of the layer below where layer 1 reads the word; the output reads the top layer.
"""
import numpy as np

from backend import at
from errors import InputError
from kernels import sigmoid, tanh
from recurrent import RecurrentLM, integer, uniform


class LSTMAesara(RecurrentLM):
    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, truncation="theano", layers=1,
                 peephole=False, coupled=False):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation)
        self.check_shape(hidden_dim, layers=layers)
        self.layers, self.peephole, self.coupled = int(layers), bool(peephole), bool(coupled)
        self.gates = "iog" if coupled else "ifog"
        self.peepholes = ("io" if coupled else "ifo") if peephole else ""
        self.tables = tuple(f"U_{k}" for k in self.gates)      # layer 1's; higher layers multiply states
        self.state_names = tuple(f"{name}{self.suffix(l)}" for l in range(self.layers) for name in "cs")
        n, m = word_dim, hidden_dim
        self.add_params(**{f"U_{k}": uniform(n, (m, n)) for k in self.gates},
                        **{f"W_{k}": uniform(m, (m, m)) for k in self.gates},
                        V=uniform(m, (n, m)),
                        **self.biases(""),
                        b_V=np.zeros(n))
        for l in range(1, self.layers):
            self.add_params(**{f"U_{k}{l + 1}": uniform(m, (m, m)) for k in self.gates},
                            **{f"W_{k}{l + 1}": uniform(m, (m, m)) for k in self.gates},
                            **self.biases(l + 1))
        for l in range(self.layers):       # after the tutorial's parameters, so its draws are unchanged
            self.add_params(**{f"p_{k}{self.suffix(l)}": uniform(m, m) for k in self.peepholes})

    @classmethod
    def check_shape(cls, hidden_dim, layers=1, **shape):
        if not integer(layers) or layers < 1:
            raise InputError(f"layers must be a positive integer, got {layers!r}")

    def biases(self, suffix):
        """b_i, b_f, b_o, b_g: zero but the forget gate's, which starts at 1 (remember by default)."""
        return {f"b_{k}{suffix}": np.full(self.hidden_dim, 1.0 if k == "f" else 0.0) for k in self.gates}

    @staticmethod
    def suffix(l):
        return "" if l == 0 else str(l + 1)

    @classmethod
    def file_options(cls, arrays):
        return {"layers": 1 + sum(f"U_i{l}" in arrays for l in range(2, len(arrays))),
                "peephole": "p_i" in arrays, "coupled": "U_f" not in arrays}

    def stacked(self, prefix, l):
        """The gates' matrices (or biases) of layer l side by side, for one product."""
        return at.concatenate([getattr(self, f"{prefix}_{k}{self.suffix(l)}") for k in self.gates], axis=0)

    def inputs(self, x):
        Ux = [self.lookup(getattr(self, f"U_{k}"), x) for k in self.gates]
        return [at.concatenate(Ux, axis=-1) + self.stacked("b", 0)]

    def layer_inputs(self, l, c_below, s_below):
        return [self.project(s_below, self.stacked("U", l).T) + self.stacked("b", l)]

    def step_weights(self, l):
        """The gates' recurrent matrices of layer l stacked, for one product with the state rows, then
        its peephole vectors p_i, p_f, p_o (those the options give it)."""
        return [self.stacked("W", l).T] + [getattr(self, f"p_{k}{self.suffix(l)}") for k in self.peepholes]

    def step(self, Ux_t, c_prev, s_prev, W, *p):
        """One LSTM cell, given U x_t + b for its gates."""
        return self.cell(self.split(Ux_t + at.dot(s_prev, W), len(self.gates)), c_prev, p)

    def cell(self, a, c_prev, p, from_below=None):
        """The cell from its gates' pre-activations a (in self.gates order) and peepholes p (in
        self.peepholes order); from_below is added to the new cell (the depth-gated LSTM's)."""
        a, p = dict(zip(self.gates, a)), dict(zip(self.peepholes, p))
        peep = lambda k, c: a[k] + p[k] * c if k in p else a[k]
        i = sigmoid(peep("i", c_prev))
        f = 1 - i if self.coupled else sigmoid(peep("f", c_prev))
        c = f * c_prev + i * tanh(a["g"])
        if from_below is not None:
            c = c + from_below
        o = sigmoid(peep("o", c))
        return [c, o * tanh(c)]

    def logits(self, s):
        return at.dot(s, self.V.T) + self.b_V
