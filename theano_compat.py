"""The part of the Theano 0.7/0.8 API that the WildML tutorials use, mapped onto the library backend.py
chose (Aesara or PyTensor), so that Theano-era model files run unmodified beside ours.

Into another program, one call installs it, before that program imports theano:

    import theano_compat; theano_compat.install()

install() puts modules named ``theano``, ``theano.tensor``, ``theano.tensor.nnet`` and ``theano.gradient``
into sys.modules (replacing a real Theano there, in this process only); ``with theano_compat.installed():``
does the same for the block and then restores whatever those names were.  A name the layer does not
provide raises MissingTheanoName, which says which one: ``theano.tensor.nnet.relu is not in ...``.

What it covers:
- ``theano``: shared, function (with updates, givens and inputs with defaults, Param), scan (sequences, outputs_info
  with dict(initial=...), non_sequences, truncate_gradient, strict, ...; returns (outputs, updates)),
  config (floatX), Param, In, grad, tensor, gradient;
- ``theano.tensor`` (``T``): the backend's tensor module (ivector, scalar, tanh, zeros, argmax, sum,
  ones_like, sqrt, ...), with grad, and nnet;
- ``theano.tensor.nnet``: softmax (a vector gives a one-row matrix, as Theano's did), sigmoid,
  hard_sigmoid, categorical_crossentropy (integer targets or one-hot rows);
- ``theano.gradient``: grad, grad_clip, disconnected_grad.
Where the backend's rewrites trip on a graph Theano compiled, function() compiles without them:
POW_REWRITES, which turn x ** 2 into a square (Aesara 2.9 fails an assertion in them on the GRU
tutorial's RMSprop update, dE ** 2); the power is then computed by the pow op, correctly rounded as
x * x is.
"""
import contextlib
import sys
import types
import warnings

import backend
from backend import at, lib

MODULE_NAMES = ("theano", "theano.tensor", "theano.tensor.nnet", "theano.gradient")
# They rewrite x ** 2 to sqr(x); on the GRU tutorial's RMSprop graph Aesara 2.9.4 asserts that the
# replacement has the pow's type, and it has not (Elemwise{square} vs Elemwise{pow}).
POW_REWRITES = ("local_pow_specialize", "local_pow_specialize_device")


class MissingTheanoName(AttributeError):
    """A Theano name that this layer does not provide; `name` is its full dotted name."""

    def __init__(self, name):
        super().__init__(f"{name} is not in the Theano compatibility layer (theano_compat.py)")
        self.name = name


class _Module(types.ModuleType):
    """A module whose missing attributes are looked up in a fallback (the backend's own module, for
    theano.tensor), and otherwise raise MissingTheanoName naming the Theano function."""

    def __init__(self, name, fallback=None, **names):
        super().__init__(name)
        self.__dict__.update(names)
        self._fallback = fallback

    def __getattr__(self, attribute):
        fallback = self.__dict__.get("_fallback")
        if attribute.startswith("__") or fallback is None or not hasattr(fallback, attribute):
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            raise MissingTheanoName(f"{self.__name__}.{attribute}")
        return getattr(fallback, attribute)


def softmax(x):
    """Theano's softmax: row-wise on a matrix; a vector is taken as one row, so the result is a (1, n)
    matrix (the tutorials index [0])."""
    x = at.as_tensor_variable(x)
    if x.ndim == 1:
        x = at.shape_padleft(x)
    return backend.softmax(x, axis=-1)


def sigmoid(x):
    return at.sigmoid(x)


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid: clip(0.2 x + 0.5, 0, 1)."""
    return at.clip(x * 0.2 + 0.5, 0, 1)


def categorical_crossentropy(coding_dist, true_dist):
    """-log of each row's probability of its target: true_dist holds integer class ids, one per row,
    or one-hot (or any distribution) rows, as in Theano."""
    coding_dist, true_dist = at.as_tensor_variable(coding_dist), at.as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -at.sum(true_dist * at.log(coding_dist), axis=coding_dist.ndim - 1)
    if true_dist.ndim == coding_dist.ndim - 1 and true_dist.dtype.startswith(("int", "uint")):
        return -at.log(coding_dist[at.arange(coding_dist.shape[0]), true_dist])
    raise TypeError(f"categorical_crossentropy: targets of {true_dist.ndim} dimension(s) and dtype "
                    f"{true_dist.dtype} for {coding_dist.ndim}-dimensional probabilities")


class Param:
    """Theano 0.7's function input with a default value, Param(variable, default=0.9): function() fills
    the default in when a call leaves the input out (PyTensor's In no longer takes one)."""

    def __init__(self, variable, default=None, name=None, **_options):
        self.variable, self.default, self.name = variable, default, name


def function(inputs, outputs=None, mode=None, updates=None, givens=None, **options):
    """theano.function: compiled with the backend's default mode (our C linker and BLAS), less the
    rewrites this module names; Param inputs left out of a call take their defaults."""
    if mode is None:
        mode = lib.compile.mode.get_default_mode().excluding(*POW_REWRITES)
    inputs = list(inputs)
    variables = [p.variable if isinstance(p, Param) else p for p in inputs]
    compiled = lib.function(variables, outputs, mode=mode, updates=updates, givens=givens, **options)
    if not any(isinstance(p, Param) for p in inputs):
        return compiled

    def call(*args, **named):
        args = list(args)
        for p in inputs[len(args):]:
            name = p.name if isinstance(p, Param) and p.name else getattr(p, "variable", p).name
            if name in named:
                args.append(named.pop(name))
            elif isinstance(p, Param):
                args.append(p.default)
            else:
                break
        return compiled(*args, **named)
    call.compiled = compiled
    return call


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False):
    """theano.scan, returning (outputs, updates) as Theano's did."""
    if backend.NAME == "pytensor":     # PyTensor warns that its default will change; ours is Theano's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return lib.scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                            n_steps=n_steps, truncate_gradient=truncate_gradient, go_backwards=go_backwards,
                            mode=mode, name=name, profile=profile, allow_gc=allow_gc, strict=strict,
                            return_updates=True)
    return lib.scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                    n_steps=n_steps, truncate_gradient=truncate_gradient, go_backwards=go_backwards,
                    mode=mode, name=name, profile=profile, allow_gc=allow_gc, strict=strict)


def _modules():
    gradient = _Module("theano.gradient", grad=lib.grad, grad_clip=lib.gradient.grad_clip,
                       disconnected_grad=lib.gradient.disconnected_grad)
    nnet = _Module("theano.tensor.nnet", softmax=softmax, sigmoid=sigmoid, hard_sigmoid=hard_sigmoid,
                   categorical_crossentropy=categorical_crossentropy)
    tensor = _Module("theano.tensor", fallback=at, nnet=nnet, grad=lib.grad)
    theano = _Module("theano", shared=lib.shared, function=function, scan=scan, config=lib.config, Param=Param,
                     In=lib.In, grad=lib.grad, tensor=tensor, gradient=gradient,
                     __version__=f"0.8 (compatibility layer on {backend.NAME} {backend.VERSION})")
    for module in (theano, tensor, nnet, gradient):
        module.__path__ = []        # a package, so that `import theano.tensor` looks in sys.modules
    return dict(zip(MODULE_NAMES, (theano, tensor, nnet, gradient)))


def install():
    """Make `import theano` (and theano.tensor, theano.tensor.nnet, theano.gradient) in this process
    resolve to this layer.  Returns the theano module."""
    sys.modules.update(_modules())
    return sys.modules["theano"]


@contextlib.contextmanager
def installed():
    """install() for the duration of a with-block; then those names are what they were before."""
    before = {name: sys.modules.get(name) for name in MODULE_NAMES}
    try:
        yield install()
    finally:
        restore_modules(before)


def restore_modules(before):
    """Put sys.modules back as `before` ({name: module, or None where there was none}) had it."""
    for name, module in before.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
