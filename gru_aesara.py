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
from recurrent import RecurrentLM, blocks, hard_sigmoid, uniform


class GRUAesara(RecurrentLM):
    state_names = ("s1", "s2")

    def __init__(self, word_dim, hidden_dim=128, bptt_truncate=-1, truncation="theano"):
        super().__init__(word_dim, hidden_dim, bptt_truncate, truncation)
        n, m = word_dim, hidden_dim
        self.add_params(E=uniform(n, (m, n)),
                        U=uniform(m, (6, m, m)),
                        W=uniform(m, (6, m, m)),
                        b=np.zeros((6, m)),
                        V=uniform(m, (n, m)),
                        c=np.zeros(n))
        for p in self.params:   # the tutorial creates its RMSprop caches with the model
            self.slot("m" + p.name, p)

    def input_weights(self, layer):
        """U_0, U_1, U_2 of a layer side by side, for one product with the layer's input."""
        return at.concatenate([self.U[3 * layer + k] for k in range(3)]).T

    def inputs(self, x):
        x_e = self.lookup(self.E, x)
        return [x_e @ self.input_weights(0) + self.b[0:3].flatten()]

    def layer(self, l, Ux, s_prev):
        """One GRU layer, given U x + b for its three rows."""
        W = self.W[3 * l:3 * l + 3]
        a_z, a_r, a_c = blocks(Ux, 3)
        z = hard_sigmoid(a_z + s_prev @ W[0].T)
        r = hard_sigmoid(a_r + s_prev @ W[1].T)
        c = at.tanh(a_c + (s_prev * r) @ W[2].T)
        return (1 - z) * c + z * s_prev

    def step(self, Ux_t, s1_prev, s2_prev):
        s1 = self.layer(0, Ux_t, s1_prev)
        s2 = self.layer(1, s1 @ self.input_weights(1) + self.b[3:6].flatten(), s2_prev)
        return [s1, s2]

    def logits(self, s2):
        return s2 @ self.V.T + self.c

    # The GRU tutorial named its methods differently from the RNN and LSTM ones.
    def predict(self, x):
        """Output probabilities (T, V) for one sentence."""
        return self.forward_propagation(x)

    def predict_class(self, x):
        return np.argmax(self.forward_propagation(x), axis=1)

    def sgd_step(self, x, y, learning_rate, decay=0.9):
        """One RMSprop step on one sentence, as the tutorial's sgd_step."""
        return self.compiled("train", optimizer="rmsprop")(*self._sentence(x, y), learning_rate, decay)
