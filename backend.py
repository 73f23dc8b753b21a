"""The one place that imports the tensor compiler: Aesara where it imports (Python <= 3.11), PyTensor,
its maintained continuation, otherwise.  ``RNNLM_BACKEND=aesara`` or ``=pytensor`` forces a choice.

Every other module imports from here, so the differences are handled once:
- PyTensor's scan will stop returning (outputs, updates): ``scan`` here returns the outputs only;
- PyTensor compiles with numba by default: we select its C virtual machine, the code Aesara runs;
- Aesara's C ops (the products inside scan, GEMM updates) call BLAS.  Without one they fall back to
  numpy through slow temporaries (an in-place GEMM: 3.4 ms instead of 0.5), so we link the OpenBLAS
  that scipy's wheel ships; PyTensor's scipy names its symbols differently and keeps the fallback;
- intermediate results keep their memory between calls (allow_gc=False): fresh allocations of the
  large output-layer arrays at every step cost more in page faults than the arithmetic (Adam: 316 -> 184 ms).
"""
import ctypes
import glob
import hashlib
import importlib
import importlib.util
import logging
import os
import subprocess
import warnings

NAMES = ("aesara", "pytensor")
_forced = os.environ.get("RNNLM_BACKEND", "").strip().lower()
if _forced and _forced not in NAMES:
    raise ImportError(f"RNNLM_BACKEND must be 'aesara' or 'pytensor', not {_forced!r}")


def _flags(name, **defaults):
    """Add defaults to <NAME>_FLAGS before the import reads them, unless the user set those flags."""
    variable = f"{name.upper()}_FLAGS"
    given = os.environ.get(variable, "")
    extra = [f"{k}={v}" for k, v in defaults.items() if k not in given]
    os.environ[variable] = ",".join(filter(None, [given] + extra))


def _bundled_blas():
    """Linker flags for the OpenBLAS inside scipy's wheel, if it exports the plain Fortran names
    (sgemm_, ...) that the C code calls.  scipy.linalg loads it (with its own runtime libraries), so
    compiled modules that name it resolve against the copy already in the process."""
    try:
        spec = importlib.util.find_spec("scipy")
        importlib.import_module("scipy.linalg")
    except ImportError:
        return ""
    folder = os.path.normpath(os.path.join(os.path.dirname(spec.origin), os.pardir, "scipy.libs"))
    for path in sorted(glob.glob(os.path.join(folder, "libopenblas*.so*"))):
        if any(c in path for c in " ,"):            # the flag syntax cannot quote them
            continue
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL).sgemm_
        except (OSError, AttributeError):
            continue
        return f"-L{folder} -l:{os.path.basename(path)}"
    return ""


# This rewrite folds a scalar factor into a product even when the product has other users, so a
# gradient that clipping also reads got computed twice (PTB: a second 7 ms GEMM).
NO_DOT22SCALAR = "local_dot22_to_dot22scalar"


def _import(name):
    logging.getLogger(f"{name}.tensor.blas").setLevel(logging.ERROR)
    if name == "aesara":
        _flags("aesara", blas__ldflags=_bundled_blas(), allow_gc="False", optimizer_excluding=NO_DOT22SCALAR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # numpy.distutils' BLAS probe
            import aesara as lib
    else:
        _flags("pytensor", blas__ldflags="", linker="cvm", allow_gc="False", optimizer_excluding=NO_DOT22SCALAR)
        import pytensor as lib
    for module in ("tensor", "tensor.special", "gradient", "graph.op", "graph.basic", "link.c.cmodule"):
        importlib.import_module(f"{name}.{module}")
    if "gcc__cxxflags" not in os.environ.get(f"{name.upper()}_FLAGS", "") and lib.config.cxx:
        lib.config.gcc__cxxflags = _faster_compiles(lib)
    return lib


def _faster_compiles(lib):
    """Compiler flags that make a cold start (an empty compile cache) almost twice as fast.

    Every op becomes its own C++ module, and gcc spends about half of each one's 0.6 s parsing the
    Python and numpy headers.  gcc looks for a module's first include, <Python.h>, as Python.h.gch in
    the directory given first: we put there a precompiled header with all the common headers parsed.
    gcc silently ignores a precompiled header built with other options, so at worst nothing is gained.
    -g0 undoes the -g that the library always passes: debugging information for generated code
    nobody steps through cost a fifth of each compile.
    (-O1 would compile faster still, but made the PTB step's backward scan twice as slow.)"""
    cmodule = lib.link.c.cmodule
    flags = ["-g0", "-O3", "-fno-math-errno"] + cmodule.GCC_compiler.compile_args()   # as each module's
    folder = os.path.join(lib.config.compiledir, "pch-" + hashlib.sha1(" ".join(flags).encode()).hexdigest()[:16])
    target = os.path.join(folder, "Python.h.gch")
    if " " in folder:                                # the flags are split on spaces
        return "-g0"
    if not os.path.exists(target):
        os.makedirs(folder, exist_ok=True)
        header = os.path.join(folder, "headers.h")
        includes = ["<Python.h>", "<iostream>", f'"{lib.__name__}_mod_helper.h"', "<math.h>",
                    "<numpy/arrayobject.h>", "<numpy/arrayscalars.h>", "<numpy/npy_math.h>", "<vector>", "<algorithm>"]
        with open(header, "w") as f:
            f.writelines(f"#include {name}\n" for name in includes)
        partial = f"{target}.{os.getpid()}"
        command = [lib.config.cxx, "-x", "c++-header", *flags, *(f"-I{d}" for d in cmodule.std_include_dirs()),
                   "-o", partial, header]
        if subprocess.run(command, capture_output=True).returncode != 0:
            return "-g0"
        os.replace(partial, target)                  # whole or not at all, if processes race
    return f"-g0 -I{folder}"


if _forced:
    lib = _import(_forced)
else:
    try:
        lib = _import("aesara")
    except Exception:   # on Python >= 3.12 Aesara fails in more than one way (numpy.distutils is gone)
        lib = _import("pytensor")

NAME = lib.__name__
VERSION = lib.__version__
at = lib.tensor
config = lib.config
shared = lib.shared
function = lib.function
grad = lib.grad
disconnected_grad = lib.gradient.disconnected_grad
DisconnectedType = lib.gradient.DisconnectedType
Op = lib.graph.op.Op
Apply = lib.graph.basic.Apply


def softmax(x, axis=-1):
    return lib.tensor.special.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return lib.tensor.special.log_softmax(x, axis=axis)


def scan(fn, **kwargs):
    """``scan`` returning only its outputs (our loops have no random-number updates)."""
    if NAME == "pytensor":
        return lib.scan(fn, return_updates=False, **kwargs)
    outputs, _updates = lib.scan(fn, **kwargs)
    return outputs


def set_float(bits):
    """Select float32 or float64 for every model built afterwards."""
    config.floatX = {32: "float32", 64: "float64"}[int(bits)]


def floatX():
    return config.floatX
