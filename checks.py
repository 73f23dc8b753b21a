"""What a model's numpy-side methods accept, checked before any compiled code runs.

Bad arrays would otherwise fail deep inside a compiled function (an index error from C code) or, under
the JAX backend, not at all (XLA clamps an out-of-range id silently).  Each check raises InputError with
one line that says what was expected, and returns the arrays in the dtypes the compiled functions take.
"""
import numpy as np

from backend import floatX
from errors import InputError


def vocabulary(ids, word_dim):
    """Raise InputError, in one line, if a token id is outside the vocabulary 0..word_dim-1."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= word_dim):
        raise InputError(f"token id {ids.max() if ids.max() >= word_dim else ids.min()} is outside "
                         f"the vocabulary 0..{word_dim - 1}")


def sentences(word_dim, x, *more):
    """Sentences of token ids (x, and y when given) as int32 arrays, of one length."""
    arrays = []
    for ids in (x,) + more:
        a = np.asarray(ids)
        if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer):
            raise InputError(f"a sentence must be a non-empty 1-D sequence of integer token ids, got {ids!r:.60}")
        vocabulary(a, word_dim)
        arrays.append(a.astype(np.int32))
    if more and len(arrays[0]) != len(arrays[1]):
        raise InputError(f"x and y differ in length ({len(arrays[0])} vs {len(arrays[1])})")
    return arrays


def real_sequences(model, X, targets=None):
    """Real-valued sequences X (T, B, word_dim) and their targets (B,) for the model's regression head,
    which needs a model with one output and full BPTT."""
    if model.output_dim != 1:
        raise InputError(f"the regression head reads one output: build the model with output_dim=1, "
                         f"not {model.output_dim}")
    if model.bptt_truncate != -1:
        raise InputError("the regression head trains with full BPTT: build the model with bptt_truncate=-1")
    X = np.asarray(X, dtype=floatX())
    if X.ndim != 3 or X.shape[2] != model.word_dim or 0 in X.shape:
        raise InputError(f"sequences must be an array (steps, batch, {model.word_dim}), got shape {X.shape}")
    if targets is None:
        return [X]
    targets = np.asarray(targets, dtype=floatX())
    if targets.shape != (X.shape[1],):
        raise InputError(f"targets must be one number per sequence ({X.shape[1]},), got shape {targets.shape}")
    return [X, targets]


def stream_states(model, X, states):
    """The states a window X (steps, streams) of token ids starts from, checked with the window: one
    (streams, hidden_dim) array per state name, or None for zeros.  Returns the states."""
    X = np.asarray(X)
    if X.ndim != 2 or 0 in X.shape:
        raise InputError(f"a window must be token ids (steps, streams), got shape {X.shape}")
    if states is None:
        return [np.zeros((X.shape[1], model.hidden_dim), floatX()) for _ in model.state_names]
    if len(states) != len(model.state_names) or any(np.shape(s) != (X.shape[1], model.hidden_dim) for s in states):
        raise InputError(f"a stream state is {len(model.state_names)} arrays ({X.shape[1]}, {model.hidden_dim}), "
                         f"one per state {', '.join(model.state_names)}")
    # arrays of the right type pass as they are: under JAX, the devices' own, not copied to the host
    return [s if getattr(s, "dtype", None) == np.dtype(floatX()) else np.asarray(s, floatX()) for s in states]
