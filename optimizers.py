"""Parameter updates: plain SGD (the RNN and LSTM tutorials), RMSprop (the GRU tutorial) and Adam,
each optionally after clipping the global gradient norm.  Optimizer state lives on the model as
shared variables (``model.slot``), so it is saved with checkpoints."""
from backend import at, floatX, grad, In

OPTIMIZERS = ("sgd", "rmsprop", "adam")


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most max_norm."""
    norm = at.sqrt(sum(at.sum(at.square(g)) for g in grads))
    scale = at.minimum(1.0, max_norm / at.maximum(norm, 1e-12))
    return [g * at.cast(scale, g.dtype) for g in grads]


def sgd(model, params, grads, lr):
    return [], [(p, p - lr * g) for p, g in zip(params, grads)]


def rmsprop(model, params, grads, lr):
    """The GRU tutorial's RMSprop: m <- decay m + (1 - decay) g^2;  p <- p - lr g / sqrt(m + 1e-6)."""
    decay = at.scalar("decay")
    updates = []
    for p, g in zip(params, grads):
        cache = model.slot("m" + p.name, p)
        m = decay * cache + (1 - decay) * at.square(g)
        updates += [(p, p - lr * g / at.sqrt(m + 1e-6)), (cache, m)]
    return [In(decay, value=0.9)], updates


def adam(model, params, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma & Ba (2015), with the bias corrections folded into the step size."""
    step = model.slot("adam_t")
    t_new = step + 1
    correction = at.sqrt(1 - beta2 ** t_new) / (1 - beta1 ** t_new)
    updates = [(step, t_new)]
    for p, g in zip(params, grads):
        m, v = model.slot("adam_m_" + p.name, p), model.slot("adam_v_" + p.name, p)
        m_new = beta1 * m + (1 - beta1) * g
        v_new = beta2 * v + (1 - beta2) * at.square(g)
        updates += [(m, m_new), (v, v_new),
                    (p, p - at.cast(lr * correction, floatX()) * m_new / (at.sqrt(v_new) + eps))]
    return [], updates


def updates(model, name, cost, lr, clip=0.0):
    """(extra function inputs, update pairs) for one optimizer step on cost."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    grads = grad(cost, model.params)
    if clip:
        grads = clip_by_global_norm(grads, clip)
    return {"sgd": sgd, "rmsprop": rmsprop, "adam": adam}[name](model, model.params, grads, lr)
