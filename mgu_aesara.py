"""Minimal Gated Unit language model (Zhou, Wu, Zhang & Zhou 2016, arXiv 1603.09420): a GRU with one
gate, the forget gate f, doing the work of both of the GRU's.  In the paper's symbols, with its
W_k [h_{t-1}, x_t] split into the part W_k that multiplies the state and the part U_k that multiplies the
word (so U_k x_t is the column U_k[:, x_t]):

    f_t  = sigmoid(W_f h_{t-1} + U_f x_t + b_f)             forget gate
    h~_t = tanh(W_h (f_t * h_{t-1}) + U_h x_t + b_h)        candidate, from the part of h_{t-1} that f keeps
    h_t  = (1 - f_t) * h_{t-1} + f_t * h~_t
    o_t  = softmax(V h_t + b_V)

With f held at 1 it is an RNN with biases (h_t = tanh(W_h h_{t-1} + U_h x_t + b_h)).
"""
import numpy as np

from backend import at
from kernels import sigmoid, tanh
from recurrent import RecurrentLM, uniform


class MGUAesara(RecurrentLM):
    state_names = ("h",)
    tables = ("U_f", "U_h")

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=-1, truncation="theano", **shared):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation, **shared)
        n, m = self.input_dim, hidden_dim
        self.add_params(U_f=uniform(n, (m, n)), U_h=uniform(n, (m, n)),
                        W_f=uniform(m, (m, m)), W_h=uniform(m, (m, m)),
                        V=uniform(m, (self.output_dim, m)),
                        b_f=np.zeros(m), b_h=np.zeros(m), b_V=np.zeros(self.output_dim))

    def inputs(self, x):
        """U_f x_t + b_f and U_h x_t + b_h side by side, for every step at once."""
        return [self.lookup_stacked([self.U_f, self.U_h], x) + at.concatenate([self.b_f, self.b_h])]

    def step_weights(self, l):
        return [self.W_f.T, self.W_h.T]

    def step(self, Ux_t, h_prev, W_f, W_h):
        Ux_f, Ux_h = self.split(Ux_t, 2)
        f = sigmoid(Ux_f + at.dot(h_prev, W_f))
        h_candidate = tanh(Ux_h + at.dot(f * h_prev, W_h))
        return (1 - f) * h_prev + f * h_candidate

    def logits(self, h):
        return at.dot(h, self.V.T) + self.b_V
