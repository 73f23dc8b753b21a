"""The one training loop (the tutorials' train_with_sgd), minibatches, evaluation and sampling.

Randomness (shuffling, sampling) comes from the global np.random, as in the tutorials, so that one
np.random.seed fixes a whole run and np.random.get_state() is all a checkpoint needs to resume it.
"""
import math

import numpy as np

from corpus import MASK_TOKEN, SENTENCE_END_TOKEN, SENTENCE_START_TOKEN, UNKNOWN_TOKEN


def pad(X, Y, indices):
    """The sentences at indices as a padded batch: X, Y (T, B) int32 (padding id 0) and lengths (B,)."""
    lengths = np.array([len(X[i]) for i in indices], dtype=np.int32)
    xb = np.zeros((lengths.max(), len(indices)), dtype=np.int32)
    yb = np.zeros_like(xb)
    for column, i in enumerate(indices):
        xb[:lengths[column], column] = X[i]
        yb[:lengths[column], column] = Y[i]
    return xb, yb, lengths


def epoch_batches(lengths, batch_size, shuffle=True):
    """One epoch's batches as lists of sentence indices.  batch_size 1 visits the sentences in
    np.random.permutation order (as the GRU tutorial); larger batches group sentences of similar
    length (less padding) and visit the groups in random order."""
    n = len(lengths)
    order = np.random.permutation(n) if shuffle else np.arange(n)
    if batch_size == 1:
        return [[int(i)] for i in order]
    by_length = order[np.argsort(np.asarray(lengths)[order], kind="stable")]
    groups = [by_length[i:i + batch_size].tolist() for i in range(0, n, batch_size)]
    visit = np.random.permutation(len(groups)) if shuffle else range(len(groups))
    return [groups[i] for i in visit]


def evaluate(model, X, Y, batch_size=64):
    """(summed cross-entropy, number of predicted words) over all sentences, in length-sorted batches."""
    lengths = [len(y) for y in Y]
    order = np.argsort(lengths, kind="stable")
    total = 0.0
    for start in range(0, len(order), batch_size):
        total += float(model.batch_loss(*pad(X, Y, order[start:start + batch_size])))
    return total, int(np.sum(lengths))


def exp_loss(loss):
    """Perplexity from a mean cross-entropy (infinite rather than an OverflowError when training blows up)."""
    return math.exp(loss) if loss < 700 else math.inf


def perplexity(model, X, Y, batch_size=64):
    total, words = evaluate(model, X, Y, batch_size)
    return exp_loss(total / words)


class Interrupted(Exception):
    """Training stopped on request (a signal) at a batch boundary; the state is consistent."""


class Diverged(Exception):
    """The loss became NaN or infinite."""


class TrainingState:
    """Where a run is: everything beyond the parameters that an exact resume needs."""

    def __init__(self, learning_rate, epoch=0, position=0, examples_seen=0, batches=None, history=()):
        self.learning_rate = float(learning_rate)
        self.epoch = epoch                  # epochs finished
        self.position = position            # batches of the current epoch finished
        self.examples_seen = examples_seen
        self.batches = batches              # the current epoch's batches (None between epochs)
        self.history = list(history)        # (examples_seen, mean loss per word) at each evaluation


def train_with_sgd(model, X_train, y_train, state, nepoch, optimizer="sgd", clip=0.0, batch_size=1,
                   callback_every=0, callback=None, on_batch=None, should_stop=None, **hyper):
    """Train until state.epoch == nepoch, one update per batch.  After each update: on_batch(state,
    n_words, cost) (progress; cost is the batch's summed cross-entropy), then every callback_every
    examples callback(model, state) (evaluation, samples, checkpoints), then, if should_stop() says so,
    Interrupted is raised at this consistent point.  The learning rate is read from state at every
    batch, so a callback may change it."""
    lengths = [len(y) for y in y_train]
    while state.epoch < nepoch:
        if state.batches is None:
            state.batches, state.position = epoch_batches(lengths, batch_size), 0
        while state.position < len(state.batches):
            indices = state.batches[state.position]
            X, Y, sizes = pad(X_train, y_train, indices)
            cost = model.train_batch(X, Y, sizes, state.learning_rate, optimizer=optimizer, clip=clip, **hyper)
            state.position += 1
            before = state.examples_seen
            state.examples_seen += len(indices)
            if on_batch:
                on_batch(state, int(sizes.sum()), float(cost))
            if callback and callback_every and state.examples_seen // callback_every > before // callback_every:
                callback(model, state)
            if should_stop and should_stop():
                raise Interrupted
        state.epoch, state.batches, state.position = state.epoch + 1, None, 0
    return state


def record_loss(state, loss, halve_on_rise=False):
    """Add an evaluation to the history.  halve_on_rise: the RNN tutorial's schedule, halving the
    learning rate when the loss rose since the previous evaluation.  Returns whether it halved."""
    state.history.append((state.examples_seen, float(loss)))
    if halve_on_rise and len(state.history) > 1 and state.history[-1][1] > state.history[-2][1]:
        state.learning_rate *= 0.5
        return True
    return False


def generate_sentence(model, index_to_word, word_to_index, temperature=1.0, max_length=60):
    """Sample words after SENTENCE_START until SENTENCE_END (or max_length words), never choosing
    UNKNOWN_TOKEN or a marker.  Probabilities are renormalised in float64 before drawing (in float32
    they may sum to slightly over 1, which np.random.multinomial refuses)."""
    sentence = [word_to_index[SENTENCE_START_TOKEN]]
    banned = [word_to_index[w] for w in (UNKNOWN_TOKEN, SENTENCE_START_TOKEN, MASK_TOKEN) if w in word_to_index]
    end = word_to_index[SENTENCE_END_TOKEN]
    while len(sentence) <= max_length:
        p = model.forward_propagation(sentence)[-1].astype(np.float64)
        p = np.exp(np.log(np.maximum(p, 1e-300)) / temperature)
        p[banned] = 0.0
        word = int(np.argmax(np.random.multinomial(1, p / p.sum())))
        if word == end:
            break
        sentence.append(word)
    return [index_to_word[i] for i in sentence[1:]]
