"""Parameter updates: plain SGD (the RNN and LSTM tutorials), RMSprop (the GRU tutorial) and Adam,
each optionally after clipping the global gradient norm.  Optimizer state lives on the model as
shared variables (``model.slot``), so it is saved with checkpoints."""
from backend import at, floatX, grad
from kernels import AddToColumns, AdamStep, SumOfSquares, sparse_columns

OPTIMIZERS = ("sgd", "rmsprop", "adam")
# Each optimizer's extra inputs to the compiled step, with their defaults (the GRU tutorial's decay 0.9).
HYPERPARAMETERS = {"sgd": {}, "rmsprop": {"decay": 0.9}, "adam": {}}


def global_norm(grads):
    """The L2 norm of all gradients together (a sparse column gradient counts by its rows alone), from
    one C op (kernels.SumOfSquares): Aesara's own reduction accumulates float32 in float64 element by
    element, several times slower."""
    def values(g):
        sparse = sparse_columns(g)
        return sparse[1] if sparse else g
    return at.sqrt(SumOfSquares()(*[values(g) for g in grads]))


def sgd(model, params, grads, lr, scale):
    """p <- p - lr g.  An input matrix's gradient lives in the columns of the batch's words only: those
    are updated in place, instead of subtracting a mostly-zero (hidden, vocabulary) matrix."""
    updates = []
    for p, g in zip(params, grads):
        sparse = sparse_columns(g)
        if sparse:
            ids, rows = sparse
            updates.append((p, AddToColumns()(p, ids, -(lr * scale) * rows)))
        else:
            updates.append((p, p - (lr * scale) * g))
    return [], updates


def rmsprop(model, params, grads, lr, scale):
    """The GRU tutorial's RMSprop: m <- decay m + (1 - decay) g^2;  p <- p - lr g / sqrt(m + 1e-6)."""
    decay = at.scalar("decay")
    updates = []
    for p, g in zip(params, grads):
        g = g * scale
        cache = model.slot("m" + p.name, like=p)
        m = decay * cache + (1 - decay) * at.square(g)
        updates += [(p, p - lr * g / at.sqrt(m + 1e-6)), (cache, m)]
    return [decay], updates


def adam(model, params, grads, lr, scale, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma & Ba (2015), Algorithm 1: moving averages of g and g^2, bias-corrected,
        m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2,
        p <- p - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps),
    for each table in one C pass (kernels.AdamStep)."""
    step = model.slot("adam_t")
    t = step + 1
    updates = [(step, t)]
    m_correction, v_correction = at.cast(1 - beta1 ** t, floatX()), at.cast(1 - beta2 ** t, floatX())
    for p, g in zip(params, grads):
        m, v = model.slot("adam_m_" + p.name, like=p), model.slot("adam_v_" + p.name, like=p)
        p_new, m_new, v_new = AdamStep(beta1, beta2, eps)(p, g, m, v, lr, m_correction, v_correction, scale)
        updates += [(m, m_new), (v, v_new), (p, p_new)]
    return [], updates


def updates(model, name, cost, lr, clip=0.0):
    """(extra function inputs, update pairs) for one optimizer step on cost, the gradient scaled down
    to norm `clip` when it is longer (0: no clipping)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    grads = grad(cost, model.params)
    scale = at.minimum(1.0, clip / at.maximum(global_norm(grads), 1e-12)) if clip else 1.0
    scale = at.cast(scale, floatX())
    return {"sgd": sgd, "rmsprop": rmsprop, "adam": adam}[name](model, model.params, grads, lr, scale)
