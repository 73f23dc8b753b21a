"""Vanilla RNN language model (WildML tutorial part 2/3):

    s_t = tanh(U x_t + W s_{t-1})        x_t one-hot, so U x_t is the column U[:, x_t]
    o_t = softmax(V s_t)
"""
from backend import at
from kernels import tanh
from recurrent import RecurrentLM, uniform


class RNNAesara(RecurrentLM):
    state_names = ("s",)
    tables = ("U",)

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4, truncation="theano", **shared):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation, **shared)
        n, m = self.input_dim, hidden_dim
        self.add_params(U=uniform(n, (m, n)),
                        V=uniform(m, (self.output_dim, m)),
                        W=uniform(m, (m, m)))

    def inputs(self, x):
        return [self.lookup(self.U, x)]

    def step(self, Ux_t, s_prev):
        return tanh(Ux_t + at.dot(s_prev, self.W.T))

    def logits(self, s):
        return at.dot(s, self.V.T)
