"""Depth-Gated LSTM language model (Yao et al. 2015, arXiv 1508.03790, section 2): a stack of peephole
LSTM layers in which a depth gate adds the memory cell of the layer below to each layer's own.  Layer 1
is a peephole LSTM; layer l >= 2 reads h_t^{l-1} and, with its own gates i, f, o, g (peephole LSTM,
see lstm_aesara.py),

    d     = sigmoid(b_d + U_d h_t^{l-1} + p_d * c_{t-1}^l + q_d * c_t^{l-1})    depth gate
    c_t^l = d * c_t^{l-1} + f * c_{t-1}^l + i * g

(The paper's equations, with diagonal peepholes; the authors' code also couples f = 1 - i and uses full
peephole matrices.)  With d = 0 it is a stacked peephole LSTM.
"""
import numpy as np

from backend import at
from errors import InputError
from kernels import sigmoid
from lstm_aesara import LSTMAesara
from recurrent import split_columns, uniform


class DGLSTMAesara(LSTMAesara):
    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=-1, truncation="theano", layers=2,
                 **shared):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation, layers=layers, peephole=True,
                         **shared)
        m = hidden_dim
        for l in range(2, self.layers + 1):
            self.add_params(**{f"U_d{l}": uniform(m, (m, m)), f"p_d{l}": uniform(m, m),
                               f"q_d{l}": uniform(m, m), f"b_d{l}": np.zeros(m)})

    @classmethod
    def check_shape(cls, hidden_dim, layers=2, **shape):
        super().check_shape(hidden_dim, layers=layers)
        if layers < 2:
            raise InputError(f"a depth-gated LSTM links the cells of adjacent layers: layers must be at least 2, "
                             f"got {layers}")

    @classmethod
    def file_options(cls, arrays):
        return {"layers": super().file_options(arrays)["layers"]}

    def layer_inputs(self, l, c_below, s_below):
        """U h_t^{l-1} + b of the four gates and of the depth gate, in one product, and c_t^{l-1}."""
        U = at.concatenate([self.stacked("U", l), getattr(self, f"U_d{l + 1}")], axis=0)
        b = at.concatenate([self.stacked("b", l), getattr(self, f"b_d{l + 1}")], axis=0)
        return [self.project(s_below, U.T) + b, c_below]

    def layer_step(self, l):
        return self.step if l == 0 else self.depth_gated_step

    def step_weights(self, l):
        depth = [getattr(self, f"{name}{l + 1}") for name in ("p_d", "q_d")] if l else []
        return super().step_weights(l) + depth

    def depth_gated_step(self, Ux_t, c_below, c_prev, s_prev, W, p_i, p_f, p_o, p_d, q_d):
        """One layer above the first, given U h_t^{l-1} + b for its gates and depth gate, and c_t^{l-1}."""
        Ux_gates, Ux_d = split_columns(Ux_t, [4 * self.hidden_dim, self.hidden_dim])
        d = sigmoid(Ux_d + p_d * c_prev + q_d * c_below)
        a = self.split(Ux_gates + at.dot(s_prev, W), 4)
        return self.cell(a, c_prev, (p_i, p_f, p_o), from_below=d * c_below)
