# A small Theano-era model in the WildML tutorials' idiom (Python 2 print statements, `import theano`,
# T.nnet.softmax(...)[0] inside scan, truncate_gradient), written for compare.py's tests.  It computes
# what rnn_aesara.RNNAesara computes and draws its parameters in the same order.
import numpy as np
import theano
import theano.tensor as T
from utils import *


class RNNTheano:

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4):
        self.word_dim, self.hidden_dim, self.bptt_truncate = word_dim, hidden_dim, bptt_truncate
        in_range = np.sqrt(1. / word_dim)
        out_range = np.sqrt(1. / hidden_dim)
        draws = [np.random.uniform(-in_range, in_range, (hidden_dim, word_dim)),
                 np.random.uniform(-out_range, out_range, (word_dim, hidden_dim)),
                 np.random.uniform(-out_range, out_range, (hidden_dim, hidden_dim))]
        for name, value in zip("UVW", draws):
            setattr(self, name, theano.shared(name=name, value=value.astype(theano.config.floatX)))
        print "built a %d x %d model" % (word_dim, hidden_dim)
        self.compile()

    def compile(self):
        x, y = T.ivector('x'), T.ivector('y')

        def step(word, previous, U, V, W):
            state = T.tanh(U[:, word] + W.dot(previous))
            return [T.nnet.softmax(V.dot(state))[0], state]
        [probabilities, states], _ = theano.scan(step, sequences=x,
                                                 outputs_info=[None, dict(initial=T.zeros(self.hidden_dim))],
                                                 non_sequences=[self.U, self.V, self.W],
                                                 truncate_gradient=self.bptt_truncate, strict=True)
        error = T.sum(T.nnet.categorical_crossentropy(probabilities, y))
        gradients = [T.grad(error, p) for p in (self.U, self.V, self.W)]
        self.forward_propagation = theano.function([x], probabilities)
        self.predict = theano.function([x], T.argmax(probabilities, axis=1))
        self.ce_error = theano.function([x, y], error)
        self.bptt = theano.function([x, y], gradients)
        rate = T.scalar('learning_rate')
        self.sgd_step = theano.function([x, y, rate], [], updates=[
            (p, p - rate * g) for p, g in zip((self.U, self.V, self.W), gradients)])

    def calculate_total_loss(self, X, Y):
        return np.sum([self.ce_error(x, y) for x, y in zip(X, Y)])

    def calculate_loss(self, X, Y):
        print "loss over %d sentences" % len(Y)
        return self.calculate_total_loss(X, Y) / float(np.sum([len(y) for y in Y]))
