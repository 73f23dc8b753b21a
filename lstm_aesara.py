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
  coupled=True   (Greff's CIFG; the GRU's i = z, f = 1 - z): f = 1 - i, with no forget-gate parameters;
  ablation       one of Greff's single changes (section III): NIG, NFG, NOG hold the input, forget or
                 output gate at 1 (and drop its parameters); NIAF drops the candidate's tanh (g = a_g),
                 NOAF the output's (s_t = o * c_t); FGR (full gate recurrence) feeds every gate the
                 previous step's gate activations through matrices W_kj (gate j at t-1 into gate k),
                 so the gates are states too.  NP and CIFG are the plain LSTM and coupled=True.
The gates share one matrix product per step: [W_i; W_f; W_o; W_g] s_{t-1}.
With layers=L > 1 the cells are stacked: layer l (l = 2..L, parameters U_i2, W_i2, b_i2, ...) reads the
state s_t of the layer below where layer 1 reads the word; the output reads the top layer.
"""
import numpy as np

from backend import at
from errors import InputError
from kernels import sigmoid, tanh
from recurrent import RecurrentLM, integer, uniform

ABLATIONS = {"NIG": "i", "NFG": "f", "NOG": "o", "NIAF": "", "NOAF": "", "FGR": ""}   # the gate each removes


class LSTMAesara(RecurrentLM):
    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, truncation="theano", layers=1,
                 peephole=False, coupled=False, ablation=None, **shared):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation, **shared)
        self.check_shape(hidden_dim, layers=layers, coupled=coupled, ablation=ablation)
        self.layers, self.peephole, self.coupled, self.ablation = int(layers), bool(peephole), bool(coupled), ablation
        removed = ("f" if coupled else "") + ABLATIONS.get(ablation, "")
        self.gates = "".join(k for k in "ifog" if k not in removed)
        sigmoid_gates = self.gates.replace("g", "")
        self.peepholes = sigmoid_gates if peephole else ""
        self.recurrent_gates = sigmoid_gates if ablation == "FGR" else ""
        self.tables = tuple(f"U_{k}" for k in self.gates)      # layer 1's; higher layers multiply states
        per_layer = ["c"] + [f"g{k}" for k in self.recurrent_gates] + ["s"]
        self.state_names = tuple(f"{name}{self.suffix(l)}" for l in range(self.layers) for name in per_layer)
        n, m = self.input_dim, hidden_dim
        self.add_params(**{f"U_{k}": uniform(n, (m, n)) for k in self.gates},
                        **{f"W_{k}": uniform(m, (m, m)) for k in self.gates},
                        V=uniform(m, (self.output_dim, m)),
                        **self.biases(""),
                        b_V=np.zeros(self.output_dim))
        for l in range(1, self.layers):
            self.add_params(**{f"U_{k}{l + 1}": uniform(m, (m, m)) for k in self.gates},
                            **{f"W_{k}{l + 1}": uniform(m, (m, m)) for k in self.gates},
                            **self.biases(l + 1))
        for sfx in map(self.suffix, range(self.layers)):    # after the tutorial's parameters: its draws stay
            self.add_params(**{f"p_{k}{sfx}": uniform(m, m) for k in self.peepholes},
                            **{f"W_{k}{j}{sfx}": uniform(m, (m, m)) for k in self.recurrent_gates
                               for j in self.recurrent_gates})

    @classmethod
    def check_shape(cls, hidden_dim, layers=1, coupled=False, ablation=None, **shape):
        if not integer(layers) or layers < 1:
            raise InputError(f"layers must be a positive integer, got {layers!r}")
        if ablation is not None and ablation not in ABLATIONS:
            raise InputError(f"ablation must be one of {', '.join(ABLATIONS)}, got {ablation!r}")
        if coupled and ablation in ("NIG", "NFG"):
            raise InputError(f"coupled gates (f = 1 - i) need both the input and the forget gate, which {ablation} removes")

    def biases(self, suffix):
        """b_i, b_f, b_o, b_g: zero but the forget gate's, which starts at 1 (remember by default)."""
        return {f"b_{k}{suffix}": np.full(self.hidden_dim, 1.0 if k == "f" else 0.0) for k in self.gates}

    @staticmethod
    def suffix(l):
        return "" if l == 0 else str(l + 1)

    @classmethod
    def file_options(cls, arrays):
        ablation = str(arrays["ablation"]) if "ablation" in arrays else None
        return {"layers": 1 + sum(f"U_g{l}" in arrays for l in range(2, len(arrays))),
                "peephole": any(f"p_{k}" in arrays for k in "ifo"), "ablation": ablation,
                "coupled": "U_f" not in arrays and ablation != "NFG"}

    def file_metadata(self):
        return {"ablation": np.array(self.ablation)} if self.ablation else {}

    def stacked(self, prefix, l):
        """The gates' matrices (or biases) of layer l side by side, for one product."""
        return at.concatenate([getattr(self, f"{prefix}_{k}{self.suffix(l)}") for k in self.gates], axis=0)

    def inputs(self, x):
        return [self.lookup_stacked([getattr(self, f"U_{k}") for k in self.gates], x) + self.stacked("b", 0)]

    def layer_inputs(self, l, c_below, *gates_and_s_below):
        return [self.project(gates_and_s_below[-1], self.stacked("U", l).T) + self.stacked("b", l)]

    def step_weights(self, l):
        """The gates' recurrent matrices of layer l stacked, for one product with the state rows, then
        its peephole vectors p_i, p_f, p_o (those the options give it), then for FGR the gate-to-gate
        matrices, stacked for one product with the previous gates side by side."""
        sfx = self.suffix(l)
        weights = [self.stacked("W", l).T] + [getattr(self, f"p_{k}{sfx}") for k in self.peepholes]
        if self.recurrent_gates:
            weights.append(at.concatenate([at.concatenate([getattr(self, f"W_{k}{j}{sfx}") for j in self.recurrent_gates],
                                                          axis=1) for k in self.recurrent_gates], axis=0).T)
        return weights

    def step(self, Ux_t, c_prev, *rest):
        """One LSTM cell, given U x_t + b for its gates (rest: FGR's previous gates, s_{t-1}, the weights)."""
        n = len(self.recurrent_gates)
        gates_prev, s_prev, W, p = rest[:n], rest[n], rest[n + 1], rest[n + 2:n + 2 + len(self.peepholes)]
        a = self.split(Ux_t + at.dot(s_prev, W), len(self.gates))
        if n:           # FGR: the gates (first in self.gates' order) also read the previous gates
            from_gates = self.split(at.dot(at.concatenate(gates_prev, axis=1), rest[-1]), n)
            a = [a_k + r for a_k, r in zip(a, from_gates)] + a[n:]
        return self.cell(a, c_prev, p)

    def cell(self, a, c_prev, p, from_below=None):
        """The cell from its gates' pre-activations a (in self.gates order) and peepholes p (in
        self.peepholes order); from_below is added to the new cell (the depth-gated LSTM's).  A gate an
        ablation removes is 1.  Returns the layer's states: c, FGR's gates, s."""
        a, p = dict(zip(self.gates, a)), dict(zip(self.peepholes, p))
        gate = lambda k, c: (sigmoid(a[k] + p[k] * c if k in p else a[k]) if k in a else 1)
        i = gate("i", c_prev)
        f = 1 - i if self.coupled else gate("f", c_prev)
        c = f * c_prev + i * (a["g"] if self.ablation == "NIAF" else tanh(a["g"]))
        if from_below is not None:
            c = c + from_below
        o = gate("o", c)
        values = {"i": i, "f": f, "o": o}
        return [c] + [values[k] for k in self.recurrent_gates] + [o * c if self.ablation == "NOAF" else o * tanh(c)]

    def logits(self, s):
        return at.dot(s, self.V.T) + self.b_V
