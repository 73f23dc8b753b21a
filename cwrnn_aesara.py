"""Clockwork RNN language model (Koutnik et al. 2014, arXiv 1402.3511, section 3).  The hidden state is
split into g modules of k units with ascending periods T_1 <= ... <= T_g (default 1, 2, 4, 8); at step t
(counted from 0 at a sentence's first word, or a stream's, and carried on across windows) module i runs

    s_t[i] = tanh(U[i] x_t + sum_{j >= i} W[i, j] s_{t-1}[j])     if t mod T_i = 0
    s_t[i] = s_{t-1}[i]                                           otherwise
    o_t    = softmax(V s_t)

The modules are ordered fast to slow and read only slower modules (j >= i), so W is block-upper-
triangular: its other blocks are zero and never used (their gradient is zero).  The step computes
only the rows of the shortest prefix of modules that holds every active one.  When each period
divides the next (the default powers of 2) the active modules are exactly such a prefix, so only
they are computed: at odd t module 1 alone, k rows of W instead of g*k.  For other periods the prefix
also holds some idle modules, whose result is discarded.  (Under the JAX backend, whose shapes are
static, every row is computed and the clock only selects: backend.extent.)
"""
import numpy as np

from backend import at, extent, floatX
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
        """For time indices t (T, B): which units update at each (t, b), and the width (in units) of
        the shortest prefix of modules that holds all of that step's active ones."""
        active = at.eq(t[:, :, None] % np.array(self.periods), 0)                          # (T, B, g)
        width = (active * np.arange(1, len(self.periods) + 1)).max(axis=2) * self.module   # (T, B)
        return at.repeat(active, self.module, axis=2), width

    def time_inputs(self, t):
        return list(self.clock(t))

    steady_shapes = False     # the rows computed change with the clock

    def step_weights(self, l):
        return [self.W * self.upper]

    def step(self, Ux_t, updates_t, width_t, s_prev, W):
        w = extent(width_t.max(), self.hidden_dim)     # the rows to compute at this step, for the whole batch
        s = tanh(Ux_t[:, :w] + at.dot(s_prev, W[:w].T))
        return at.concatenate([at.switch(updates_t[:, :w], s, s_prev[:, :w]), s_prev[:, w:]], axis=1)
