"""The one place that imports the tensor compiler: Aesara where it imports, PyTensor otherwise.

Every other module does ``from backend import at, function, scan, ...`` and never imports aesara
directly, so the models read the same on both.  ``RNNLM_BACKEND=aesara`` or ``=pytensor`` forces a choice.
"""
import logging
import os
import warnings

_choice = os.environ.get("RNNLM_BACKEND", "").strip().lower()
if _choice not in ("", "aesara", "pytensor"):
    raise ImportError(f"RNNLM_BACKEND must be 'aesara' or 'pytensor', not {_choice!r}")


def _import_aesara():
    # Aesara probes for a system BLAS through numpy.distutils and warns when there is none; its own
    # NumPy C-API fallback is what runs here, so the probe's warnings are noise for our users.
    logging.getLogger("aesara.tensor.blas").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import aesara
        import aesara.tensor
        import aesara.tensor.special
        import aesara.gradient
        import aesara.ifelse
    return aesara


def _import_pytensor():
    import pytensor
    import pytensor.tensor
    import pytensor.tensor.special
    import pytensor.gradient
    import pytensor.ifelse
    return pytensor


if _choice == "pytensor":
    lib = _import_pytensor()
elif _choice == "aesara":
    lib = _import_aesara()
else:
    try:
        lib = _import_aesara()
    except Exception:  # Aesara fails on Python >= 3.12 (no numpy.distutils) in more than one way
        lib = _import_pytensor()

NAME = lib.__name__
VERSION = lib.__version__
at = lib.tensor
config = lib.config
shared = lib.shared
function = lib.function
In = lib.In
grad = lib.grad
disconnected_grad = lib.gradient.disconnected_grad
ifelse = lib.ifelse.ifelse
softmax = lib.tensor.special.softmax
log_softmax = lib.tensor.special.log_softmax


def scan(fn, **kwargs):
    """``scan`` returning only its outputs (we never use random updates inside a loop)."""
    outputs, _updates = lib.scan(fn, **kwargs)
    return outputs


def set_float(bits):
    """Select float32 or float64 for every model built afterwards."""
    config.floatX = {32: "float32", 64: "float64"}[int(bits)]


def floatX():
    return config.floatX
