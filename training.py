"""The one training loop (the tutorials' train_with_sgd), minibatches or continuous streams,
evaluation and sampling.

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


def token_stream(Y):
    """The corpus as one stream of token ids: every sentence's targets (its words and the end marker,
    PTB's <eos>) one after another."""
    return np.concatenate([np.asarray(y, dtype=np.int32) for y in Y])


def streams(tokens, batch_size):
    """The stream cut into batch_size equal parts side by side, as columns (n, batch_size); the last
    len(tokens) mod batch_size tokens are left out (docs/design.md, "Continuous streams")."""
    n = len(tokens) // batch_size
    if n < 2:
        raise ValueError(f"{len(tokens)} tokens are too few for {batch_size} streams")
    return np.ascontiguousarray(np.asarray(tokens[:n * batch_size], dtype=np.int32).reshape(batch_size, n).T)


def windows(n, unroll):
    """The first positions of consecutive windows of unroll steps over streams of n tokens: each window
    predicts positions start+1 .. start+unroll (the last window may be shorter)."""
    return list(range(0, n - 1, unroll))


def stream_window(data, start, unroll):
    """Inputs and targets (T, B) of the window that starts at position start."""
    end = min(start + unroll, len(data) - 1)
    return data[start:end], data[start + 1:end + 1]


def evaluate_stream(model, tokens, batch_size=1, unroll=20):
    """(summed cross-entropy, number of predicted tokens) over a token stream read as batch_size
    streams in windows of unroll steps, the state carried from each window to the next (one stream:
    every token but the first is predicted)."""
    data = streams(tokens, batch_size)
    states, total = None, 0.0
    for start in windows(len(data), unroll):
        X, Y = stream_window(data, start, unroll)
        cost, states = model.stream_loss(X, Y, states, start)
        total += float(cost)
    return total, (len(data) - 1) * batch_size


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

    def __init__(self, learning_rate, epoch=0, position=0, examples_seen=0, batches=None, history=(), carry=None):
        self.learning_rate = float(learning_rate)
        self.epoch = epoch                  # epochs finished
        self.position = position            # batches of the current epoch finished
        self.examples_seen = examples_seen
        self.batches = batches              # the current epoch's batches (None between epochs)
        self.history = list(history)        # (examples_seen, mean loss per word) at each evaluation
        self.carry = carry                  # stream mode: the states the last window ended in


class Sentences:
    """Sentence mode, the tutorials': each update is a padded batch of whole sentences, every sentence
    starting from zero states.  An example is a sentence."""

    def __init__(self, X, Y, batch_size):
        self.X, self.Y, self.batch_size = X, Y, batch_size
        self.lengths = [len(y) for y in Y]
        self.size = len(Y)                  # examples per epoch

    def plan(self):
        return epoch_batches(self.lengths, self.batch_size)

    def train(self, model, state, batch, **options):
        """One update; (examples, predicted words, summed cross-entropy)."""
        X, Y, sizes = pad(self.X, self.Y, batch)
        cost = model.train_batch(X, Y, sizes, state.learning_rate, **options)
        return len(batch), int(sizes.sum()), cost


class Stream:
    """Continuous-stream mode (Zaremba et al. 2014): the corpus as one token stream in batch_size
    parallel streams, read in consecutive windows of unroll steps; each window starts from the states
    the previous one ended in (state.carry), with the gradient cut there.  An example is a token."""

    def __init__(self, Y, batch_size, unroll):
        self.data, self.unroll = streams(token_stream(Y), batch_size), unroll
        self.size = (len(self.data) - 1) * batch_size

    def plan(self):
        return [[start] for start in windows(len(self.data), self.unroll)]

    def train(self, model, state, batch, **options):
        X, Y = stream_window(self.data, batch[0], self.unroll)
        carry = state.carry if batch[0] else None            # each epoch starts from zero states
        cost, state.carry = model.train_stream(X, Y, carry, batch[0], state.learning_rate, **options)
        return X.size, X.size, cost


def feed(X, Y, batch_size, unroll=0):
    """The batches an epoch is made of: windows of continuous streams if unroll > 0, else sentences."""
    return Stream(Y, batch_size, unroll) if unroll else Sentences(X, Y, batch_size)


def train_with_sgd(model, X_train, y_train, state, nepoch, optimizer="sgd", clip=0.0, batch_size=1, unroll=0,
                   callback_every=0, callback=None, on_batch=None, on_epoch=None, should_stop=None, **hyper):
    """Train until state.epoch == nepoch, one update per batch: of sentences, or with unroll > 0 of
    windows of batch_size continuous streams (Stream).  After each update: on_batch(state, n_words,
    cost) (progress; cost is the batch's summed cross-entropy), then every callback_every examples
    callback(model, state) (evaluation, samples, checkpoints), then, if should_stop() says so,
    Interrupted is raised at this consistent point.  After each epoch: on_epoch(model, state).  The
    learning rate is read from state at every batch, so a callback may change it."""
    batches = feed(X_train, y_train, batch_size, unroll)
    while state.epoch < nepoch:
        if state.batches is None:
            state.batches, state.position = batches.plan(), 0
        while state.position < len(state.batches):
            examples, words, cost = batches.train(model, state, state.batches[state.position], optimizer=optimizer,
                                               clip=clip, **hyper)
            state.position += 1
            before = state.examples_seen
            state.examples_seen += examples
            if on_batch:
                on_batch(state, words, float(cost))
            if callback and callback_every and state.examples_seen // callback_every > before // callback_every:
                callback(model, state)
            if should_stop and should_stop():
                raise Interrupted
        state.epoch, state.batches, state.position, state.carry = state.epoch + 1, None, 0, None
        if on_epoch:
            on_epoch(model, state)
    return state


def record_loss(state, loss, halve_on_rise=False):
    """Add an evaluation to the history.  halve_on_rise: the RNN tutorial's schedule, halving the
    learning rate when the loss rose since the previous evaluation.  Returns whether it halved."""
    state.history.append((state.examples_seen, float(loss)))
    if halve_on_rise and len(state.history) > 1 and state.history[-1][1] > state.history[-2][1]:
        state.learning_rate *= 0.5
        return True
    return False


def generate_sentence(model, index_to_word, word_to_index, temperature=1.0, max_length=60, after=SENTENCE_START_TOKEN):
    """Sample words after the token `after` (SENTENCE_START; for a model trained on streams, whose
    sentences follow the previous one's SENTENCE_END, that) until SENTENCE_END (or max_length words),
    never choosing UNKNOWN_TOKEN or a marker.  Probabilities are renormalised in float64 before drawing (in float32
    they may sum to slightly over 1, which np.random.multinomial refuses)."""
    sentence = [word_to_index[after]]
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
