"""The one place that imports the tensor compiler: Aesara where it imports (Python <= 3.11), PyTensor,
its maintained continuation, otherwise.  ``RNNLM_BACKEND=aesara`` or ``=pytensor`` forces a choice.

Every other module imports from here, so the differences are handled once:
- PyTensor's scan will stop returning (outputs, updates): ``scan`` here returns the outputs only;
- PyTensor compiles with numba by default: we select its C virtual machine, the code Aesara runs;
- Aesara's C ops (the products inside scan, GEMM updates) call BLAS.  Without one they fall back to
  numpy through slow temporaries (an in-place GEMM: 3.4 ms instead of 0.5), so we link the OpenBLAS
  that scipy's wheel ships (through a small shim where its symbols are prefixed), or Intel's MKL where
  it is installed (requirements-mkl.txt; faster here);
- intermediate results keep their memory between calls (allow_gc=False): fresh allocations of the
  large output-layer arrays at every step cost more in page faults than the arithmetic (Adam: 316 -> 184 ms);
- both compilers' scan infers the shapes of its whole loop body each time a rewrite touches a loop, and
  reads a few of them: here each is inferred when read (see _scan_shapes_on_demand).
"""
import ctypes
import glob
import hashlib
import importlib
import importlib.util
import logging
import os
import subprocess
import sys
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


def _scipy_openblas():
    """(folder, file name, symbol prefix) of the OpenBLAS inside scipy's wheel, or None.  Older wheels
    export the plain Fortran names the C ops call (sgemm_), newer ones prefix them (scipy_sgemm_).
    scipy.linalg loads the library (with its own runtime libraries), so compiled modules that name it
    resolve against the copy already in the process."""
    try:
        spec = importlib.util.find_spec("scipy")
        importlib.import_module("scipy.linalg")
    except ImportError:
        return None
    folder = os.path.normpath(os.path.join(os.path.dirname(spec.origin), os.pardir, "scipy.libs"))
    for path in sorted(glob.glob(os.path.join(folder, "lib*openblas*.so*"))):
        if any(c in path for c in " ,"):            # the flag syntax cannot quote them
            continue
        try:
            library = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        for prefix in ("", "scipy_"):
            if hasattr(library, prefix + "sgemm_"):
                return folder, os.path.basename(path), prefix
    return None


def _plain_blas():
    """Linker flags for scipy's OpenBLAS when it exports the plain names, else empty."""
    found = _scipy_openblas()
    return f"-L{found[0]} -l:{found[1]}" if found and not found[2] else ""


# The BLAS routines the libraries' C ops call, with their number of (pointer) arguments.
_BLAS_ROUTINES = {"gemm": 13, "gemv": 11, "ger": 9, "axpy": 6, "copy": 5, "scal": 4, "swap": 5, "dot": 5}


def _prefixed_blas(lib):
    """Linker flags for a small library that gives scipy's prefixed OpenBLAS routines their plain
    names (sgemm_ calls scipy_sgemm_, ...), built once into the compile cache; empty if impossible."""
    found = _scipy_openblas()
    if not found or not found[2] or not lib.config.cxx:
        return ""
    folder, name, prefix = found
    lines = []
    for routine, n in _BLAS_ROUTINES.items():
        for letter, real in (("s", "float"), ("d", "double")):
            result = real if routine == "dot" else "void"
            params, args = ", ".join(f"void *a{i}" for i in range(n)), ", ".join(f"a{i}" for i in range(n))
            lines += [f"{result} {prefix}{letter}{routine}_({params});",
                      f"{result} {letter}{routine}_({params}) {{ {'return ' * (result != 'void')}"
                      f"{prefix}{letter}{routine}_({args}); }}"]
    source = "\n".join(lines) + "\n"
    where = os.path.join(lib.config.compiledir, "blas-" + hashlib.sha1((source + folder + name).encode()).hexdigest()[:16])
    target = os.path.join(where, "librnnlm_blas.so")
    if " " in where or "," in where:
        return ""
    if not os.path.exists(target):
        os.makedirs(where, exist_ok=True)
        with open(os.path.join(where, "blas.c"), "w") as f:
            f.write(source)
        partial = f"{target}.{os.getpid()}"
        command = [lib.config.cxx, "-x", "c", "-shared", "-fPIC", "-O2", "-Wl,-soname,librnnlm_blas.so",
                   "-o", partial, os.path.join(where, "blas.c"), f"-L{folder}", f"-l:{name}", f"-Wl,-rpath,{folder}"]
        if subprocess.run(command, capture_output=True).returncode != 0:
            return ""
        os.replace(partial, target)
    ctypes.CDLL(target, mode=ctypes.RTLD_GLOBAL)
    return f"-L{where} -lrnnlm_blas -Wl,-rpath,{where}"


def _mkl_blas(lib):
    """Linker flags for Intel's MKL when it is installed in this environment (requirements-mkl.txt),
    else None.  Its products are faster than OpenBLAS's at every size the models use (PTB small,
    2 cores: the output layer's 12-14 ms GEMMs take 9-10 ms, the steps' 20 x 200 x 800 ones 70-90 us
    instead of 110-200).  RNNLM_BLAS=openblas keeps OpenBLAS."""
    found = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
    if not found or os.environ.get("RNNLM_BLAS", "").lower() == "openblas":
        return None
    where = os.path.join(lib.config.compiledir, "mkl-" + hashlib.sha1(found[-1].encode()).hexdigest()[:16])
    link = os.path.join(where, "libmkl_rt.so")              # the wheel ships only the versioned name
    if not os.path.exists(link):
        os.makedirs(where, exist_ok=True)
        partial = f"{link}.{os.getpid()}"
        os.symlink(found[-1], partial)
        os.replace(partial, link)
    return f"-L{where} -lmkl_rt -Wl,-rpath,{os.path.dirname(found[-1])} -Wl,-rpath,{where}"


# This rewrite folds a scalar factor into a product even when the product has other users, so a
# gradient that clipping also reads got computed twice (PTB: a second 7 ms GEMM).
NO_DOT22SCALAR = "local_dot22_to_dot22scalar"


def _import(name):
    users = os.environ.get(f"{name.upper()}_FLAGS", "")
    logging.getLogger(f"{name}.tensor.blas").setLevel(logging.ERROR)
    if name == "aesara":
        _flags("aesara", blas__ldflags=_plain_blas(), allow_gc="False", optimizer_excluding=NO_DOT22SCALAR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # numpy.distutils' BLAS probe
            import aesara as lib
    else:
        _flags("pytensor", blas__ldflags="", linker="cvm", allow_gc="False", optimizer_excluding=NO_DOT22SCALAR)
        import pytensor as lib
    for module in ("tensor", "tensor.special", "tensor.elemwise", "gradient", "graph.op", "graph.basic",
                   "link.c.cmodule", "link.c.op", "graph.rewriting.basic", "compile", "scalar.basic", "scalar.math"):
        importlib.import_module(f"{name}.{module}")
    if "gcc__cxxflags" not in users and lib.config.cxx:
        lib.config.gcc__cxxflags = _faster_compiles(lib)
    if "blas__ldflags" not in users:
        lib.config.blas__ldflags = _mkl_blas(lib) or lib.config.blas__ldflags or _prefixed_blas(lib)
    return lib


def _faster_compiles(lib):
    """Compiler flags that make a cold start (an empty compile cache) almost twice as fast.

    Every op becomes its own C++ module, and gcc spends about half of each one's 0.6 s parsing the
    Python and numpy headers.  gcc looks for a module's first include, <Python.h>, as Python.h.gch in
    the directory given first: we put there a precompiled header with all the common headers parsed.
    gcc silently ignores a precompiled header built with other options, so at worst nothing is gained.
    -g0 undoes the -g that the library always passes: debugging information for generated code
    nobody steps through cost a fifth of each compile.  -fno-trapping-math changes no result (no
    code here reads the floating-point exception flags) and lets gcc vectorise loops with selects,
    such as kernels.py's tanh.
    (-O1 would compile faster still, but made the PTB step's backward scan twice as slow.)"""
    cmodule = lib.link.c.cmodule
    ours = ["-g0", "-fno-trapping-math"]
    flags = ours + ["-O3", "-fno-math-errno"] + cmodule.GCC_compiler.compile_args()   # as each module's
    folder = os.path.join(lib.config.compiledir, "pch-" + hashlib.sha1(" ".join(flags).encode()).hexdigest()[:16])
    target = os.path.join(folder, "Python.h.gch")
    if " " in folder:                                # the flags are split on spaces
        return " ".join(ours)
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
            return " ".join(ours)
        os.replace(partial, target)                  # whole or not at all, if processes race
    return " ".join(ours + [f"-I{folder}"])


if _forced:
    lib = _import(_forced)
else:
    try:
        lib = _import("aesara")
    except Exception:   # on Python >= 3.12 Aesara fails in more than one way (numpy.distutils is gone)
        lib = _import("pytensor")


class _ShapesOnDemand:
    """The shapes of a scan's inner outputs, each inferred the first time it is read."""

    def __init__(self, infer, outs, inputs, input_shapes):
        self.infer, self.outs, self.inputs, self.input_shapes, self.known = infer, outs, inputs, input_shapes, {}

    def __len__(self):
        return len(self.outs)

    def __getitem__(self, i):
        if i not in self.known:
            self.known[i] = self.infer([self.outs[i]], self.inputs, self.input_shapes)[0]
        return self.known[i]


def _scan_shapes_on_demand():
    """Scan.infer_shape (Aesara 2.9.4 and PyTensor 3.3) infers the shape of every output of the loop's
    inner graph whenever a scan node enters a graph, which every rewrite of a loop does, but reads only
    the shapes of its non-recurrent outputs: the recurrent ones are known from the initial states.
    Inferring on demand builds the same graphs and halves the shape work of compiling our gradients
    (a 2-layer depth-gated LSTM's bptt: 80 s -> 51 s)."""
    module = importlib.import_module(f"{lib.__name__}.scan.op")
    infer = module.infer_shape
    module.infer_shape = lambda outs, inputs, input_shapes: _ShapesOnDemand(infer, outs, inputs, input_shapes)


_scan_shapes_on_demand()
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
COp = lib.link.c.op.COp
optdb = lib.compile.optdb
node_rewriter = lib.graph.rewriting.basic.node_rewriter
WalkingGraphRewriter = lib.graph.rewriting.basic.WalkingGraphRewriter
Apply = lib.graph.basic.Apply
Elemwise = lib.tensor.elemwise.Elemwise
scalar = lib.scalar


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
