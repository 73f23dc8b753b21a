"""A model's compiled functions: which exist, how each is built from the model's graph, the cache that
builds each once, and how numpy arguments reach them (under JAX, padded to a few static shapes).

recurrent.py says what a model computes (build, run); this module turns that into callable functions, so
that the model class keeps the contract and the loop, and its tutorial, batch and stream methods only
check their arguments and call a function from here.

A function is named by a Signature: what it returns (probs, cost, grads, train, state_grads, values)
and the inputs it takes (a sentence, a padded batch, a window of streams, real-valued sequences), with
the optimizer and clipping of a training step.  A model's cache adds the truncation settings it had when
the function was asked for, so changing them later builds a new function instead of reusing a stale one.
"""
from dataclasses import dataclass

import numpy as np

import backend
import checks
import optimizers
from backend import at, floatX, function, grad, typed_inputs
from errors import InputError

INPUTS = ("sentence", "batch", "stream", "sequences")
OUTPUTS = {"sentence": ("probs", "cost", "grads", "train", "state_grads"),
           "batch": ("cost", "grads", "train"), "stream": ("cost", "grads", "train"),
           "sequences": ("values", "train")}


@dataclass(frozen=True)
class Signature:
    """Which function: its output and inputs (OUTPUTS), and for a training step its optimizer and clip.
    sentence: token ids x, y (T,), one sentence; batch: a padded batch X, Y (T, B) and the sentence
    lengths (B,), the training cost averaged over the sentences; stream: a window X, Y (T, B) of B
    streams, the states before it and the time index of its first step, returning the states after it
    too; sequences: real-valued sequences (T, B, word_dim) for the regression head."""
    output: str
    inputs: str = "sentence"
    optimizer: str = "sgd"
    clip: float = 0.0

    @classmethod
    def of(cls, kind, optimizer="sgd", clip=0.0, batched=False, stream=False):
        """The signature model.compiled(kind, **options) names.  kind is an output, or "values" and
        "train_values" for the regression head's; batched and stream choose the token inputs."""
        if kind in ("values", "train_values"):
            return cls("values" if kind == "values" else "train", "sequences", optimizer, float(clip))
        return cls(kind, "stream" if stream else "batch" if batched else "sentence", optimizer, float(clip))


class Functions:
    """A model's compiled functions, each built on first use and kept.  Under the JAX backend a function
    is compiled once per shape of its inputs, each a program with static shapes."""

    def __init__(self, model):
        self.model = model
        self.built = {}

    def __call__(self, kind, **options):
        """The function model.compiled(kind, **options) names (Signature.of), for the model's current
        truncation settings."""
        model, signature = self.model, Signature.of(kind, **options)
        key = (signature, model.truncation, model.bptt_truncate)
        if key not in self.built:
            def build(shapes=None):
                with backend.compiling(model.compiler):
                    return compile_function(model, signature, shapes)
            self.built[key] = backend.per_shape(build) if model.compiler == "jax" else build()
        return self.built[key]

    def on_sentence(self, kind, ids, *more, **options):
        """The sentence function of that kind on checked token ids, then the further arguments more.  Under
        the JAX backend, the batched function on the sentence as a batch of one, padded to a bucket length
        (backend.padded_length): a few programs serve every length, and a batch of one sentence is exactly
        the sentence (the probabilities, causal, are the padded run's first rows)."""
        arrays = checks.sentences(self.model.word_dim, *ids)
        if self.model.compiler != "jax":
            return self(kind, **options)(*arrays, *more)
        T = len(arrays[0])
        padded = [np.pad(a, (0, backend.padded_length(T) - T)) for a in arrays]
        if kind == "probs":
            return np.asarray(self(kind)(*padded))[:T]
        return self(kind, batched=True, **options)(*[a[:, None] for a in padded], np.int32([T]), *more)

    def static(self, X, Y, lengths=None, masks=()):
        """A batch (with lengths) or a window of streams (without), and its dropout masks, as the compiled
        functions take them.  Under the JAX backend a batch's steps are padded to a bucket length
        (backend.padded_length) and its sentences to a multiple of the devices, with empty sentences that
        do not count, so that a few programs serve every batch; the ids are checked here, as XLA would
        clamp them silently."""
        if self.model.compiler != "jax":
            return X, Y, lengths, masks
        for ids in (X, Y):
            checks.vocabulary(ids, self.model.word_dim)
        devices = backend.MESH.size
        if lengths is None:
            if np.shape(X)[1] % devices:
                raise InputError(f"{np.shape(X)[1]} streams cannot be split over {devices} devices: make the batch "
                                 "size a multiple of the devices")
            return X, Y, lengths, masks
        steps, more = backend.padded_length(len(X)) - len(X), -np.shape(X)[1] % devices
        return (np.pad(X, ((0, steps), (0, more))), np.pad(Y, ((0, steps), (0, more))), np.pad(lengths, (0, more)),
                [np.pad(m, ((0, steps), (0, more), (0, 0)), constant_values=1) for m in masks])


def compile_function(model, signature, shapes=None):
    """The model's function of this signature.  shapes: the inputs' static shapes, in order (JAX)."""
    if signature.output not in OUTPUTS.get(signature.inputs, ()):
        raise ValueError(f"no {signature.output} function on {signature.inputs} inputs")
    build = {"sentence": sentence_function, "batch": window_function, "stream": window_function,
             "sequences": regression_function}[signature.inputs]
    return build(model, signature, typed_inputs(shapes))


def as_batch_of_one(sentence):
    """A sentence (T,) as a batch (T, 1), its width left symbolic (a static 1 would make its states'
    types broadcastable, which scan refuses for states that start as zeros of the batch's width)."""
    return sentence.reshape((sentence.shape[0], -1), ndim=2)


def sentence_function(model, signature, new):
    """On one sentence x, y (ivectors): its probabilities, cost, gradients or a training step, or the
    gradients with respect to its states."""
    x = new("x", "int32", 1)
    if signature.output == "probs":
        return function([x], model.build(as_batch_of_one(x))["probs"][:, 0, :])
    if signature.output == "state_grads":
        return state_gradients_function(model, x, new("y", "int32", 1))
    if signature.output == "train" and model.dropout:
        raise InputError("a model with dropout trains in batches (train_batch, train_stream), not per sentence")
    y = new("y", "int32", 1)
    g = model.build(as_batch_of_one(x), as_batch_of_one(y))
    return loss_function(model, signature, new, [x, y], g["cost"], g["train_cost"], [])


def window_function(model, signature, new):
    """On a padded batch or a window of streams (Signature), its cost, gradients or a training step,
    which also reports the summed cost (free: the forward pass computes it) and, for streams, the states
    after the window."""
    stream = signature.inputs == "stream"
    x, y = new("x", "int32", 2, batch_axis=1), new("y", "int32", 2, batch_axis=1)
    if stream:
        initial = [new(name, floatX(), 2, batch_axis=0) for name in model.state_names]
        start = new("start", "int64", 0)
        inputs, lengths, sentences = [x, y, *initial, start], None, x.shape[1]
    else:
        lengths = new("lengths", "int32", 1, batch_axis=0)
        inputs, initial, start = [x, y, lengths], None, 0
        sentences = at.maximum(at.sum(at.gt(lengths, 0)), 1)   # padding columns of length 0 do not count
    keep = {site: new(f"keep_{site}", floatX(), 3, batch_axis=1) for site in model.dropout_sites()} \
        if signature.output == "train" else {}
    inputs += list(keep.values())
    g = model.build(x, y, lengths, initial, start, keep)
    train_cost = g["train_cost"] / at.cast(sentences, floatX())
    reported = [g["cost"]] + (g["final"] if stream else [])
    return loss_function(model, signature, new, inputs, reported if stream else g["cost"], train_cost, reported)


def loss_function(model, signature, new, inputs, cost, train_cost, reported):
    """The cost, the gradients of train_cost in params order, or an update step with the signature's
    optimizer on train_cost (taking the learning rate and the optimizer's extra inputs after inputs, and
    returning reported)."""
    unused = "ignore" if signature.inputs == "stream" else "raise"        # only clocked cells read a window's start
    if signature.output == "cost":
        return function(inputs, cost, on_unused_input=unused)
    if signature.output == "grads":
        return function(inputs, grad(train_cost, model.params), on_unused_input=unused)
    lr = new("learning_rate", floatX(), 0)
    extra, updates = optimizers.updates(model, signature.optimizer, train_cost, lr, signature.clip)
    return function(inputs + [lr] + extra, reported, updates=updates, on_unused_input=unused)


def regression_function(model, signature, new):
    """The regression head on real-valued sequences X (T, B, word_dim): its prediction after the last
    step, and a training step on the squared error averaged over the batch (full BPTT)."""
    X = new("X", floatX(), 3, batch_axis=1)
    states = model.run(model.sequences(X), model.zero_states(X.shape[1]))
    prediction = model.logits(states[-1][-1])[:, 0]
    if signature.output == "values":
        return function([X], prediction)
    targets, lr = new("targets", floatX(), 1, batch_axis=0), new("learning_rate", floatX(), 0)
    mse = at.mean(at.square(prediction - targets))
    extra, updates = optimizers.updates(model, signature.optimizer, mse, lr, signature.clip)
    return function([X, targets, lr] + extra, mse, updates=updates)


def state_gradients_function(model, x, y):
    """For one sentence x, y: the gradient of the last word's loss with respect to every state at every
    step, each (T, H), through the whole recurrence (no truncation)."""
    column = as_batch_of_one(x)
    nudges = [at.zeros((x.shape[0], column.shape[1], model.hidden_dim), dtype=floatX()) for _ in model.state_names]
    states = model.run(model.sequences(column), model.zero_states(column.shape[1]), nudges=nudges)
    loss = model.nll(states[-1][-1], y[-1:]).sum()
    return function([x, y], [g[:, 0, :] for g in grad(loss, nudges)])
