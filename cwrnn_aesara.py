"""Clockwork RNN language model (Koutnik et al. 2014, arXiv 1402.3511, section 3).  The hidden state is
split into g modules of k units with ascending periods T_1 <= ... <= T_g (default 1, 2, 4, 8); at step t
(counted from 0 at a sentence's first word, or a stream's, and carried on across windows) module i runs

    s_t[i] = tanh(U[i] x_t + sum_{j >= i} W[i, j] s_{t-1}[j])     if t mod T_i = 0
    s_t[i] = s_{t-1}[i]                                           otherwise
    o_t    = softmax(V s_t)

The modules are ordered fast to slow and read only slower modules (j >= i), so W is block-upper-
triangular: its other blocks are zero and never used (their gradient is zero).  The step computes every
module and the clock keeps the idle ones' previous values.  (Computing only the active modules' rows,
a prefix of them, was slower at 8000/100 with 4 modules and no faster at 1024 units, in alternating
timings of both forms: the products it skips cost less than the slicing.)
"""
import numpy as np

from backend import at, floatX
from errors import InputError
from kernels import tanh
from recurrent import integer
from rnn_aesara import RNNAesara

DEFAULT_PERIODS = (1, 2, 4, 8)


class CWRNNAesara(RNNAesara):
    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=-1, truncation="theano", periods=DEFAULT_PERIODS,
                 **shared):
        periods = tuple(periods)
        self.check_shape(hidden_dim, periods=periods)
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation, **shared)
        self.periods = tuple(int(T) for T in periods)
        self.module = hidden_dim // len(periods)
        blocks = np.triu(np.ones((len(periods),) * 2))
        self.upper = np.kron(blocks, np.ones((self.module,) * 2)).astype(floatX())
        self.W.set_value(self.W.get_value() * self.upper)

    @classmethod
    def check_shape(cls, hidden_dim, periods=DEFAULT_PERIODS, **shape):
        periods = tuple(periods)
        if not periods or not all(integer(T) and T >= 1 for T in periods) or list(periods) != sorted(periods):
            raise InputError(f"periods must be positive integers in ascending order (equal ones allowed), got {periods}")
        if integer(hidden_dim) and hidden_dim % len(periods):
            raise InputError(f"hidden_dim {hidden_dim} does not split into {len(periods)} modules of equal size")

    def parameter_count(self):
        """U and V, and W's blocks on and above the diagonal: k^2 g (g + 1) / 2."""
        return super().parameter_count() - int(self.hidden_dim ** 2 - self.upper.sum())

    @classmethod
    def file_options(cls, arrays):
        return {"periods": tuple(arrays["periods"].tolist())} if "periods" in arrays else {}

    def file_metadata(self):
        return {"periods": np.array(self.periods)}

    def clock(self, t):
        """For time indices t (T, B): which units update at each (t, b), (T, B, hidden_dim)."""
        active = at.eq(t[:, :, None] % np.array(self.periods), 0)                          # (T, B, g)
        return at.repeat(active, self.module, axis=2)

    def time_inputs(self, t):
        return [self.clock(t)]

    def step_weights(self, l):
        return [self.W * self.upper]

    def step(self, Ux_t, updates_t, s_prev, W):
        return at.switch(updates_t, tanh(Ux_t + at.dot(s_prev, W.T)), s_prev)
