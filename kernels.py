"""Two operations that Aesara's generic ops do slowly and numpy does fast, with their gradients.

1. Softmax and its cross-entropy over the vocabulary.  The output layer is most of a language model's
   work: T*B words times a vocabulary of V.  From generic ops, softmax, log-softmax and their gradients
   each make their own passes (about 35 ms apiece for 736 words x 10k vocabulary here); this op makes
   one softmax pass with numpy's vectorised exp and keeps the probabilities, so that the gradient is
   simply probs - onehot(y).

2. Looking up input columns M[:, x_t] (U x_t for a one-hot x_t).  Aesara gathers columns of a
   (hidden, vocabulary) matrix about 8x slower than numpy.  The gradient is kept sparse, as the summed
   rows of the columns that occurred (ColumnSums), and only made dense (ScatterColumns) where a dense
   gradient is asked for; plain SGD instead adds the sparse rows to those columns (optimizers.sgd), so
   a step touches T*B columns instead of the whole vocabulary.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from backend import Apply, DisconnectedType, Op, at

# numpy's ufuncs release the GIL, so row blocks of a large array run in parallel on the machine's cores
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))


def in_row_blocks(work, rows, size):
    """work(lo, hi) over blocks of rows, in parallel when the array (rows x size) is large."""
    workers = _pool._max_workers if rows * size >= 1 << 20 else 1
    bounds = np.linspace(0, rows, workers + 1).astype(int)
    list(_pool.map(work, bounds[:-1], bounds[1:])) if workers > 1 else work(0, rows)


def reuse(storage, shape, dtype):
    """The array this output slot held after the previous call, if it fits (backend.py keeps them):
    writing into it again avoids the page faults of a fresh multi-megabyte allocation at every step."""
    old = storage[0]
    return old if old is not None and old.shape == shape and old.dtype == dtype else np.empty(shape, dtype)


class SoftmaxCrossEntropy(Op):
    """(logits z (N, V), targets y (N,)) -> (nll (N,) = -log softmax(z)[y], probs (N, V) = softmax(z))."""
    __props__ = ()

    def make_node(self, z, y):
        z, y = at.as_tensor_variable(z), at.as_tensor_variable(y)
        return Apply(self, [z, y], [at.vector(dtype=z.dtype), at.matrix(dtype=z.dtype)])

    def perform(self, node, inputs, outputs):
        z, y = inputs
        probs = reuse(outputs[1], z.shape, z.dtype)
        nll = np.empty(len(y), z.dtype)

        def rows(lo, hi):
            zb, pb = z[lo:hi], probs[lo:hi]
            top = zb.max(axis=1, keepdims=True)         # subtract the row maximum: exp never overflows
            np.exp(np.subtract(zb, top, out=pb), out=pb)
            total = pb.sum(axis=1, keepdims=True)
            nll[lo:hi] = np.log(total[:, 0]) + top[:, 0] - zb[np.arange(hi - lo), y[lo:hi]]
            pb /= total

        in_row_blocks(rows, *z.shape)
        outputs[0][0], outputs[1][0] = nll, probs

    def connection_pattern(self, node):
        return [[True, True], [False, False]]           # nothing flows to the integer targets

    def L_op(self, inputs, outputs, grads):
        z, y = inputs
        _, probs = outputs
        g_nll, g_probs = grads
        dz = at.zeros_like(z) if isinstance(g_nll.type, DisconnectedType) else SoftmaxCrossEntropyGrad()(probs, y, g_nll)
        if not isinstance(g_probs.type, DisconnectedType):   # d softmax: probs * (g - <g, probs>)
            dz = dz + probs * (g_probs - (g_probs * probs).sum(axis=1, keepdims=True))
        return [dz, DisconnectedType()()]

    pullback = L_op        # PyTensor's name for L_op


class SoftmaxCrossEntropyGrad(Op):
    """d nll / d z, each row weighted: (probs - onehot(y)) * g[:, None]."""
    __props__ = ()

    def make_node(self, probs, y, g):
        probs, y, g = (at.as_tensor_variable(v) for v in (probs, y, g))
        return Apply(self, [probs, y, g], [probs.type()])

    def perform(self, node, inputs, outputs):
        probs, y, g = inputs
        dz = reuse(outputs[0], probs.shape, probs.dtype)

        def rows(lo, hi):
            np.multiply(probs[lo:hi], g[lo:hi, None], out=dz[lo:hi])
            dz[np.arange(lo, hi), y[lo:hi]] -= g[lo:hi]

        in_row_blocks(rows, *probs.shape)
        outputs[0][0] = dz


class Columns(Op):
    """(M (H, V), ids (N,)) -> the columns M[:, ids] as rows (N, H)."""
    __props__ = ()

    def make_node(self, M, ids):
        M, ids = at.as_tensor_variable(M), at.as_tensor_variable(ids)
        return Apply(self, [M, ids], [at.matrix(dtype=M.dtype)])

    def perform(self, node, inputs, outputs):
        M, ids = inputs
        outputs[0][0] = np.ascontiguousarray(M.T[ids])

    def connection_pattern(self, node):
        return [[True], [False]]

    def L_op(self, inputs, outputs, grads):
        M, ids = inputs
        used, sums = ColumnSums()(ids, grads[0])
        return [ScatterColumns()(M, used, sums), DisconnectedType()()]

    pullback = L_op


class ColumnSums(Op):
    """(ids (N,), rows (N, H)) -> (the distinct ids (K,), the rows summed per id (K, H)): a sparse gradient."""
    __props__ = ()

    def make_node(self, ids, rows):
        ids, rows = at.as_tensor_variable(ids), at.as_tensor_variable(rows)
        return Apply(self, [ids, rows], [ids.type(), rows.type()])

    def perform(self, node, inputs, outputs):
        ids, rows = inputs
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        outputs[0][0] = ordered[starts]
        outputs[1][0] = np.add.reduceat(rows[order], starts, axis=0)


class ScatterColumns(Op):
    """(M, ids (K,) distinct, rows (K, H)) -> a matrix shaped like M, zero but for columns ids = rows."""
    __props__ = ()

    def make_node(self, M, ids, rows):
        M, ids, rows = (at.as_tensor_variable(v) for v in (M, ids, rows))
        return Apply(self, [M, ids, rows], [M.type()])

    def perform(self, node, inputs, outputs):
        M, ids, rows = inputs
        dense = reuse(outputs[0], M.shape, M.dtype)
        dense.fill(0)
        dense[:, ids] = rows.T
        outputs[0][0] = dense


def sparse_columns(gradient):
    """(ids, rows) if gradient is a column lookup's scattered gradient, else None."""
    if gradient.owner is not None and isinstance(gradient.owner.op, ScatterColumns):
        _, ids, rows = gradient.owner.inputs
        return ids, rows
    return None


softmax_crossentropy = SoftmaxCrossEntropy()
columns = Columns()
