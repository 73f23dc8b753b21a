"""What every recurrent language model shares: parameters, the loop over time, losses, truncated
BPTT.  A model file only declares its parameters and its step.  compiled.py turns the graph built here
into the compiled functions the methods below call, checks.py checks their numpy arguments, and
model_file.py says what a model file holds beyond the parameters.

Conventions.  Token ids arrive as (T, B) matrices: time first, a column per sentence.  States are
rows, one per sentence, so the paper's ``W s_{t-1}`` is written ``dot(s_prev, W.T)``.  A model provides

    inputs(x)        -> list of tensors (T, B, ...): everything the first layer takes from x_t alone,
                        computed for all steps at once outside the loop (one large product instead of
                        T small ones); self.lookup(U, x) gives the columns U[:, x_t] (U times a one-hot word);
    step(*inputs_t, *states_prev, *step_weights) -> one layer's new states (a list, or one tensor);
    step_weights(l)  -> optional: matrices layer l's step multiplies by, prepared once outside the loop;
    layer_step(l)    -> optional: the step of layer l, where layers differ (default: step);
    logits(h)        -> output scores from the last state (any leading shape);
    state_names      -> names of the recurrent states, each ``hidden_dim`` wide, layer after layer; the
                        last one feeds the output.
    Stacked models also set ``layers`` and provide
    layer_inputs(l, *below) -> the inputs of layer l > 0 from the states (T, B, H) of the layer below
                       (all of them, in state_names order).
    Each layer runs its own loop over time, so its input product is again one product over all steps.
    An input may be any (T, B, ...) tensor, not only a product with x: the Clockwork RNN passes the
    time index t, which then stays the real position inside the truncation windows below.

Two input kinds and two heads, for every cell: x is token ids (T, B) or real vectors (T, B, word_dim)
(lookup() multiplies either), and the output layer logits() is read as a softmax over output_dim words
(the language model) or, with output_dim=1, as one number after the last step (values(), train_values():
the regression head of the adding problem).

Truncated BPTT (docs/design.md, "Truncated BPTT") is done by re-running the step over short windows that
start from the forward pass's state with its gradient cut, so the loop over all T steps never needs a
backward pass:
    truncation="theano": one window, the last k steps of each sentence; only their outputs count
                         (what Theano's scan(truncate_gradient=k) does, faithfully reproduced);
    truncation="bptt":   a window of k+1 steps ending at every output (the tutorial's numpy bptt);
    bptt_truncate=-1:    full backpropagation through time.
"""
import numpy as np

import backend
import checks
import optimizers
from backend import at, disconnected_grad, floatX, io_toposort, scan, shared, softmax, split_last
from compiled import Functions
from errors import InputError
from kernels import columns, is_activation, softmax_crossentropy
from model_file import ModelFile

TRUNCATIONS = ("theano", "bptt")


def assign(variable, value):
    """Set a parameter or optimizer slot to value, keeping its memory layout (tables stay column-major)."""
    order = "F" if variable.get_value(borrow=True).flags.f_contiguous else "C"
    variable.set_value(np.asarray(value, dtype=floatX(), order=order))


def uniform(fan_in, shape):
    """The tutorials' initialisation U(-1/sqrt(n), 1/sqrt(n)), drawn from the global np.random."""
    bound = np.sqrt(1. / fan_in)
    return np.random.uniform(-bound, bound, shape)


def hard_sigmoid(a):
    """Theano's hard_sigmoid: a piecewise-linear sigmoid, slope 0.2 around 0.5, clipped to [0, 1]."""
    return at.clip(0.2 * a + 0.5, 0, 1)


def split_columns(a, widths):
    """Split the last axis into blocks of these (constant) widths: the gates of a fused product
    (backend.split_last)."""
    return split_last(a, widths)


def integer(value):
    """Whether value is an integer (True and False are not sizes)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def take(tensor, flat_index):
    """tensor[t, b] for the (t, b) pairs given as flat_index = t * B + b (any shape), so the result has
    shape flat_index.shape + tensor.shape[2:]."""
    rest = [tensor.shape[i] for i in range(2, tensor.ndim)]
    rows = tensor.reshape([-1] + rest, ndim=tensor.ndim - 1)
    picked = rows[flat_index.flatten()]
    shape = [flat_index.shape[i] for i in range(flat_index.ndim)] + rest
    return picked.reshape(shape, ndim=len(shape))


def stored_activations(step_inputs, new_states):
    """The tanh and sigmoid values (kernels.is_activation) that a step computes new_states from and that
    change from step to step (they depend on step_inputs), other than the new states themselves."""
    varying, found = set(step_inputs), []
    for node in io_toposort(list(step_inputs), list(new_states)):
        if any(v in varying for v in node.inputs):
            varying.update(node.outputs)
            found += [v for v in node.outputs if is_activation(v) and all(v is not s for s in new_states)]
    return found


class RecurrentLM(ModelFile):
    state_names = ("s",)

    def __init__(self, word_dim, hidden_dim, bptt_truncate, truncation, output_dim=None, embedding_dim=None,
                 tied=False, dropout=0.0, variational=False):
        output_dim = word_dim if output_dim is None else output_dim
        embedding_dim = hidden_dim if tied and embedding_dim is None else embedding_dim
        for name, value, low in (("word_dim", word_dim, 1), ("hidden_dim", hidden_dim, 1),
                                 ("bptt_truncate", bptt_truncate, -1), ("output_dim", output_dim, 1),
                                 ("embedding_dim", 1 if embedding_dim is None else embedding_dim, 1)):
            if not integer(value) or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
        if bptt_truncate == 0:
            raise InputError("bptt_truncate must be -1 (full BPTT) or a positive number of steps, got 0")
        if truncation not in TRUNCATIONS:
            raise InputError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
        if tied and (embedding_dim != hidden_dim or output_dim != word_dim):
            raise InputError(f"tied embeddings are the output matrix's rows: embedding_dim must equal hidden_dim "
                             f"({hidden_dim}, got {embedding_dim}) and the output must be the vocabulary")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise InputError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        if dropout and bptt_truncate != -1:
            raise InputError("dropout trains with full BPTT (bptt_truncate=-1): its masks do not follow truncation windows")
        self.word_dim = int(word_dim)      # the input's size: words, or the width of real-valued inputs
        self.output_dim = int(output_dim)  # the output layer's size: words, or 1 for the regression head
        self.hidden_dim = int(hidden_dim)
        self.bptt_truncate = int(bptt_truncate)
        self.truncation = truncation
        self.embedding_dim = None if embedding_dim is None else int(embedding_dim)
        self.input_dim = self.embedding_dim or self.word_dim    # the width of what the first layer reads
        self.tied, self.dropout, self.variational = bool(tied), float(dropout), bool(variational)
        self.params = []          # in the order of bptt()'s gradients
        self.slots = []           # optimizer state (e.g. RMSprop caches), created on first use
        self._compiled = Functions(self)
        self.compiler = backend.COMPILER    # C or JAX: the parameters' types differ (static shapes for JAX)
        if self.embedding_dim and not self.tied:
            self.add_params(embedding=uniform(self.embedding_dim, (self.embedding_dim, self.word_dim)))

    @classmethod
    def check_shape(cls, hidden_dim, **shape):
        """Raise InputError, in one line, if these constructor options (layers, periods, ...) cannot make a
        model of this class with hidden_dim units.  Constructors call it; train.py too, before loading data."""

    # ----------------------------------------------------------------------------- parameters
    tables = ()     # names of the input matrices read by lookup(), stored column-major

    def add_params(self, **values):
        """Create one shared variable per keyword, in order (so draws happen in the listed order).
        Lookup tables are stored column-major: a word's column is then contiguous, so the lookup and
        its sparse SGD update touch T*B short runs of memory instead of scattered elements."""
        for name, value in values.items():
            value = np.asarray(value).astype(floatX())
            table = name in self.tables or name == "embedding"
            variable = shared(np.asfortranarray(value) if table else value, name=name)
            setattr(self, name, variable)
            self.params.append(variable)

    def parameter_count(self):
        """How many numbers the model learns: the sizes of its parameters, less any entries it stores
        but never uses."""
        return sum(p.get_value(borrow=True).size for p in self.params)

    def slot(self, name, like=None):
        """Optimizer state: a shared variable of zeros shaped and laid out like the parameter (or array)
        `like` (a scalar without), created on first use, kept as an attribute (the GRU tutorial's mE, mU, ...)
        and listed in self.slots so checkpoints save it."""
        if not hasattr(self, name):
            like = like.get_value(borrow=True) if hasattr(like, "get_value") else like
            zeros = np.zeros((), floatX()) if like is None else np.zeros_like(like, dtype=floatX())
            variable = shared(zeros, name=name)
            setattr(self, name, variable)
            self.slots.append(variable)
        return getattr(self, name)

    def initialize_uniform(self, scale):
        """Draw every parameter afresh from U(-scale, scale), in params order (Zaremba et al.'s init)."""
        for p in self.params:
            assign(p, np.random.uniform(-scale, scale, p.get_value(borrow=True).shape))

    def embed(self, x):
        """The input embedding's columns for token ids x (T, B): real vectors (T, B, embedding_dim).  Tied
        embeddings (Press & Wolf 2016) are the output matrix's rows."""
        table = self.V.T if self.tied else self.embedding
        return columns(table, x.flatten()).reshape((x.shape[0], x.shape[1], self.embedding_dim), ndim=3)

    def sequences(self, x, start=0, keep=None):
        """The first layer's inputs for x: inputs() of the words (through the embedding, if the model has
        one, times its dropout mask keep) and time_inputs() of the steps' positions start, start + 1, ..."""
        if x.ndim == 2 and self.embedding_dim:
            x = self.embed(x) if keep is None else self.embed(x) * keep
        t = start + at.arange(x.shape[0])[:, None] + at.zeros((x.shape[0], x.shape[1]), "int64")
        return self.inputs(x) + self.time_inputs(t)

    def time_inputs(self, t):
        """Inputs computed from the time index t (T, B) alone (the Clockwork RNN's clock): none by default."""
        return []

    def lookup(self, M, x):
        """M x_t for every step, as rows (T, B, rows of M).  For token ids x (T, B) that is the column
        M[:, x_t] (M times a one-hot word); for real-valued inputs x (T, B, word_dim), a plain product."""
        if x.ndim == 3:
            return self.project(x, M.T)
        rows = M.get_value(borrow=True).shape[0]    # a constant, so later shapes are known when compiling
        return columns(M, x.flatten()).reshape((x.shape[0], x.shape[1], rows), ndim=3)

    def lookup_stacked(self, tables, x):
        """The lookups of several matrices side by side (T, B, their rows together).  Real-valued inputs
        take one product with the matrices stacked (PTB small: one 400 x 200 x 800 product instead of
        four, and one for the gradient); word ids take each table's columns, whose gradients stay sparse."""
        if x.ndim == 3:
            return self.project(x, at.concatenate(tables, axis=0).T)
        return at.concatenate([self.lookup(M, x) for M in tables], axis=-1)

    # ----------------------------------------------------------------------------- the loop
    def split(self, a, n):
        """n blocks of hidden_dim columns: the gates of a product with stacked gate matrices."""
        return split_columns(a, [self.hidden_dim] * n)

    @staticmethod
    def project(h, M):
        """h (T, N, H) times M (H, K) for all steps as one product -> (T, N, K)."""
        rows = at.dot(h.reshape((-1, h.shape[2]), ndim=2), M)
        return rows.reshape((h.shape[0], h.shape[1], rows.shape[1]), ndim=3)

    layers = 1

    def step_weights(self, l):
        """Matrices layer l's step uses, prepared once outside the loop (e.g. gate matrices stacked for
        one product); they are passed to step after the states.  Their gradients then accumulate as
        one matrix per step instead of piece by piece."""
        return []

    def run(self, sequences, initial, active=None, nudges=None, keep=None):
        """Apply the step over time, layer after layer; sequences are the first layer's (T, N, ...)
        inputs, initial the states (N, H) of all layers.  Where active[t, n] is false the states are
        carried over unchanged.  nudges, if given, are tensors (T, N, H), one per state of every layer,
        added to each new state: held at zero, their gradients are the loss's total derivatives with
        respect to the states, through every later step (a state the same step derives another from, as
        the LSTM's c gives s, counts through the later steps only).  keep: {l: dropout mask (T, N, H)}
        for the output state that layer l passes up.  Returns [(T, N, H)] per state, in state_names order."""
        per_layer = len(initial) // self.layers
        states = []
        for l in range(self.layers):
            if l:
                below = states[-per_layer:]
                if keep and l - 1 in keep:
                    below[-1] = below[-1] * keep[l - 1]
                sequences = self.layer_inputs(l, *below)
            mine = slice(l * per_layer, (l + 1) * per_layer)
            states += self.scan_layer(self.layer_step(l), sequences, initial[mine], self.step_weights(l), active,
                                      None if nudges is None else nudges[mine])
        return states

    def layer_step(self, l):
        """The step function of layer l: the same for every layer unless a model says otherwise."""
        return self.step

    def scan_layer(self, step, sequences, initial, weights, active, nudges=None):
        """One layer's loop: scan the step over the sequences from the initial states.  The loop also
        outputs every tanh and sigmoid value its step computes (stored_activations), which the caller
        never sees: the backward loop then reads them instead of recomputing them and the products under them."""
        n_seq, n_states = len(sequences), len(initial)
        extra = ([active] if active is not None else []) + list(nudges or [])

        def body(*args):
            inputs, more, rest = args[:n_seq], args[n_seq:n_seq + len(extra)], args[n_seq + len(extra):]
            new = step(*inputs, *rest)
            new = list(new) if isinstance(new, (list, tuple)) else [new]
            stored = stored_activations(args[:len(args) - len(weights)], new)
            if active is not None:
                keep, more = more[0], more[1:]
                new = [at.switch(keep[:, None], s, s_prev) for s, s_prev in zip(new, rest[:n_states])]
            return ([s + e for s, e in zip(new, more)] if nudges else new) + stored

        traced = body(*[v[0] for v in list(sequences) + extra], *initial, *weights)    # to count the stored values
        outputs = scan(body, sequences=list(sequences) + extra, outputs_info=list(initial) + [None] * (len(traced) - n_states),
                       non_sequences=weights)
        return (list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])[:n_states]

    def zero_states(self, n):
        return [at.zeros((n, self.hidden_dim), dtype=floatX()) for _ in self.state_names]

    def nll(self, h, y):
        """Negative log-likelihood of targets y under softmax(logits(h)), elementwise over y's shape.
        The states are flattened to rows first: V's gradient is then one plain product, which Aesara
        folds with the SGD update into a single in-place GEMM (through a reshape it cannot).  The row
        width is left symbolic: a static 200 would make V's gradient typed (?, 200) against V's (?, ?),
        and Aesara then updates V in the gradient's buffer instead of in place, reallocating 8 MB a step
        (PTB small, with clipping)."""
        logits = self.logits(h.reshape((-1, h.shape[-1])))
        return softmax_crossentropy(logits, y.flatten()).reshape(y.shape, ndim=y.ndim)

    # ----------------------------------------------------------------------------- graphs
    def dropout_sites(self):
        """Where dropout acts (Zaremba et al. 2014: the non-recurrent connections only): the embedding's
        output, what each layer passes up, and the top state before the output layer.  {site: width}."""
        if not self.dropout:
            return {}
        sites = {"input": self.embedding_dim} if self.embedding_dim else {}
        return {**sites, **{l: self.hidden_dim for l in range(self.layers)}}

    def dropout_masks(self, T, B):
        """Fresh masks (T, B, width) for dropout_sites(), from the global np.random: each entry 0 with
        probability p, else 1 / (1 - p).  variational (Gal & Ghahramani 2016): one mask per sequence,
        the same at every step."""
        keep = 1.0 - self.dropout
        masks = []
        for width in self.dropout_sites().values():
            drawn = np.random.uniform(size=(1 if self.variational else T, B, width)) < keep
            masks.append(np.broadcast_to(drawn / keep, (T, B, width)).astype(floatX()))
        return masks

    def build(self, x, y=None, lengths=None, initial=None, start=0, keep=None):
        """Symbolic forward pass over a padded batch x (T, B) with sentence lengths (B,) (None: all T),
        from zero states or the given initial ones, the first step at time index start.  keep: dropout
        masks {site: (T, B, width)} (none: no dropout).  Returns a dict: probs, final (each state after
        the last step), and with targets y: nll (T, B), cost (summed over real tokens), train_cost (the
        cost whose gradient the truncation mode prescribes)."""
        T, B = x.shape[0], x.shape[1]
        keep = keep or {}
        sequences = self.sequences(x, start, keep.get("input"))
        initial = self.zero_states(B) if initial is None else list(initial)
        states = self.run(sequences, initial, keep={l: k for l, k in keep.items() if l != "input"})
        top = states[-1] * keep[self.layers - 1] if self.layers - 1 in keep else states[-1]
        out = {"probs": softmax(self.logits(top), axis=-1), "final": [s[-1] for s in states]}
        if y is None:
            return out
        mask = None if lengths is None else at.cast(at.lt(at.arange(T)[:, None], lengths[None, :]), floatX())
        nll = self.nll(top, y)
        out["nll"] = nll if mask is None else nll * mask
        out["cost"] = out["nll"].sum()
        k = self.bptt_truncate
        if k < 0:
            out["train_cost"] = out["cost"]
        elif self.truncation == "theano":
            ends = (at.zeros((B,), "int64") + T - 1) if lengths is None else lengths - 1
            out["train_cost"] = self._window_cost(sequences, states, initial, y, ends, at.arange(B), k, True)
        else:
            ends = at.repeat(at.arange(T), B)
            real = None if mask is None else mask.flatten()
            cost = self._window_cost(sequences, states, initial, y, ends, at.tile(at.arange(B), T), k + 1, False)
            out["train_cost"] = (cost if real is None else cost * real).sum()
        return out

    def _window_cost(self, sequences, states, initial, y, ends, batch, width, all_outputs):
        """Loss of windows of `width` steps ending at positions ends[n] of sentences batch[n], each re-run
        from the forward pass's state just before it, held constant.  all_outputs: sum every output of a
        window (theano); otherwise return the last output's loss per window (bptt), a vector."""
        B = y.shape[1]
        position = ends[None, :] + (at.arange(width) - (width - 1))[:, None]      # (width, N)
        inside = at.ge(position, 0)
        flat = at.maximum(position, 0) * B + batch[None, :]
        window_inputs = [take(s, flat) for s in sequences]
        first = at.maximum(ends - (width - 1), 0)
        before = [disconnected_grad(take(at.concatenate([s0[None], s], axis=0), first * B + batch))
                  for s0, s in zip(initial, states)]
        top = self.run(window_inputs, before, active=inside)[-1]
        if all_outputs:
            nll = self.nll(top, take(y, flat))
            return (nll * at.cast(inside, floatX())).sum()
        return self.nll(top[-1], y.flatten())

    # ----------------------------------------------------------------------------- compiled functions
    def compiled(self, kind, **options):
        """The compiled function of that kind for the model's current truncation settings (cached):
        kind probs, cost, grads, train or state_grads, with options optimizer, clip, batched (a padded
        batch) or stream (a window of streams); or values and train_values, the regression head's
        (compiled.Signature.of)."""
        return self._compiled(kind, **options)

    def _sentence(self, x, *more):
        """Validate token ids once, clearly, instead of letting an index error surface from C code."""
        return checks.sentences(self.word_dim, x, *more)

    # ----------------------------------------------------------------------------- the tutorials' methods
    def forward_propagation(self, x):
        """Output probabilities (T, V) for one sentence."""
        return self._compiled.on_sentence("probs", [x])

    def predict(self, x):
        """The most probable next word at every position."""
        return np.argmax(self.forward_propagation(x), axis=1)

    def ce_error(self, x, y):
        """Cross-entropy of one sentence, summed over its words."""
        return self._compiled.on_sentence("cost", [x, y])

    def bptt(self, x, y):
        """Gradients of the (truncated) loss, one array per parameter, in ``params`` order."""
        return self._compiled.on_sentence("grads", [x, y])

    def sgd_step(self, x, y, learning_rate):
        """One plain SGD step on one sentence."""
        return self._compiled.on_sentence("train", [x, y], learning_rate, optimizer="sgd")

    def calculate_total_loss(self, X, Y):
        return np.sum([self.ce_error(x, y) for x, y in zip(X, Y)])

    def calculate_loss(self, X, Y):
        """Mean cross-entropy per word."""
        num_words = np.sum([len(y) for y in Y])
        return self.calculate_total_loss(X, Y) / float(num_words)

    def state_gradients(self, x, y):
        """{state name: (T, H)}: how the last word's loss depends on each state at each step of the
        sentence, total derivatives through the recurrence (the vanishing-gradient experiment's measure)."""
        return dict(zip(self.state_names, self.compiled("state_grads")(*self._sentence(x, y))))

    # ----------------------------------------------------------------------------- real-valued sequences
    def values(self, X):
        """The regression head's prediction (B,) after the last step of real-valued sequences X (T, B, word_dim)."""
        return self.compiled("values")(*checks.real_sequences(self, X))

    def train_values(self, X, targets, learning_rate, optimizer="sgd", clip=0.0, **hyper):
        """One update of the regression head's squared error, averaged over the batch, with full BPTT.
        Returns the mean squared error before the update."""
        f = self.compiled("train_values", optimizer=optimizer, clip=float(clip))
        return f(*checks.real_sequences(self, X, targets), learning_rate,
                 **{**optimizers.HYPERPARAMETERS[optimizer], **hyper})

    # ----------------------------------------------------------------------------- minibatches
    def batch_loss(self, X, Y, lengths):
        """Summed cross-entropy of a padded batch: X, Y (T, B) token ids, lengths (B,); padding is ignored."""
        return self.compiled("cost", batched=True)(*self._compiled.static(X, Y, lengths)[:3])

    def train_batch(self, X, Y, lengths, learning_rate, optimizer="sgd", clip=0.0, **hyper):
        """One update on a padded batch, with the cost averaged over its sentences (a batch of one
        sentence is exactly sgd_step).  hyper: the optimizer's extra inputs, e.g. decay for RMSprop.
        Returns the batch's summed cross-entropy before the update."""
        f = self.compiled("train", optimizer=optimizer, clip=float(clip), batched=True)
        X, Y, lengths, masks = self._compiled.static(X, Y, lengths, self.dropout_masks(*np.shape(X)))
        return f(X, Y, lengths, *masks, learning_rate,
                 **{**optimizers.HYPERPARAMETERS[optimizer], **hyper})[0]

    # ----------------------------------------------------------------------------- continuous streams
    def stream_states(self, X, states):
        """Checked window and states for the stream functions: states (each (B, H)) or None for zeros."""
        return checks.stream_states(self, X, states)

    def stream_loss(self, X, Y, states=None, start=0):
        """Summed cross-entropy of one window X, Y (T, B) of B streams, continuing from states (those
        after the previous window; None: zeros) at time index start.  Returns (cost, states after it)."""
        X, Y, _, _ = self._compiled.static(X, Y)
        cost, *final = self.compiled("cost", stream=True)(X, Y, *self.stream_states(X, states), start)
        return cost, final

    def train_stream(self, X, Y, states, start, learning_rate, optimizer="sgd", clip=0.0, **hyper):
        """One update on a window of B streams, from the states the previous window ended in (the
        gradient stops there), the cost summed over the window's steps and averaged over the streams.
        Returns (the window's summed cross-entropy before the update, the states after it)."""
        f = self.compiled("train", optimizer=optimizer, clip=float(clip), stream=True)
        X, Y, _, _ = self._compiled.static(X, Y)
        cost, *final = f(X, Y, *self.stream_states(X, states), start, *self.dropout_masks(*np.shape(X)),
                         learning_rate, **{**optimizers.HYPERPARAMETERS[optimizer], **hyper})
        return cost, final
