"""Two-layer GRU language model (WildML tutorial part 4), as in the final gru_theano.py:

    x_e = E x_t                                   word embedding (the column E[:, x_t])
    per layer l, with input x (x_e, then the first layer's state) and rows 3l, 3l+1, 3l+2:
        z = hard_sigmoid(U_0 x + W_0 s_{t-1} + b_0)       update gate
        r = hard_sigmoid(U_1 x + W_1 s_{t-1} + b_1)       reset gate
        c = tanh(U_2 x + W_2 (s_{t-1} * r) + b_2)         candidate
        s_t = (1 - z) * c + z * s_{t-1}
    o_t = softmax(V s2_t + c)

It trains with RMSprop: its sgd_step(x, y, learning_rate, decay=0.9) is the tutorial's.
"""
import numpy as np

from backend import at
from kernels import tanh
from recurrent import RecurrentLM, hard_sigmoid, split_columns, uniform


class GRUAesara(RecurrentLM):
    state_names = ("s1", "s2")
    layers = 2
    tables = ("E",)

    def __init__(self, word_dim, hidden_dim=128, bptt_truncate=-1, truncation="theano", **shared):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation, **shared)
        n, m = self.input_dim, hidden_dim
        self.add_params(E=uniform(n, (m, n)),
                        U=uniform(m, (6, m, m)),
                        W=uniform(m, (6, m, m)),
                        b=np.zeros((6, m)),
                        V=uniform(m, (self.output_dim, m)),
                        c=np.zeros(self.output_dim))
        for p in self.params:   # the tutorial creates its RMSprop caches with the model
            self.slot("m" + p.name, like=p)

    def input_weights(self, l):
        """U_0, U_1, U_2 of layer l side by side and its biases, for one product with the layer's input."""
        return at.concatenate([self.U[3 * l + k] for k in range(3)]).T, self.b[3 * l:3 * l + 3].flatten()

    def recurrent_weights(self, l):
        """[W_0; W_1] of layer l, for one product giving z and r, and W_2."""
        return at.concatenate([self.W[3 * l], self.W[3 * l + 1]]).T, self.W[3 * l + 2].T

    def inputs(self, x):
        U, b = self.input_weights(0)
        return [self.project(self.lookup(self.E, x), U) + b]

    def layer_inputs(self, l, s_below):
        U, b = self.input_weights(l)
        return [self.project(s_below, U) + b]

    def step_weights(self, l):
        return list(self.recurrent_weights(l))

    def step(self, Ux_t, s_prev, W_zr, W_c):
        """One GRU layer, given U x_t + b of its three rows."""
        Ux_zr, Ux_c = split_columns(Ux_t, [2 * self.hidden_dim, self.hidden_dim])
        z, r = self.split(hard_sigmoid(Ux_zr + at.dot(s_prev, W_zr)), 2)
        c = tanh(Ux_c + at.dot(s_prev * r, W_c))
        return (1 - z) * c + z * s_prev

    def logits(self, s2):
        return at.dot(s2, self.V.T) + self.c

    # The GRU tutorial named its methods differently from the RNN and LSTM ones.
    def predict(self, x):
        """Output probabilities (T, V) for one sentence."""
        return self.forward_propagation(x)

    def predict_class(self, x):
        return np.argmax(self.forward_propagation(x), axis=1)

    def sgd_step(self, x, y, learning_rate, decay=0.9):
        """One RMSprop step on one sentence, as the tutorial's sgd_step."""
        return self.compiled("train", optimizer="rmsprop")(*self._sentence(x, y), learning_rate, decay)
