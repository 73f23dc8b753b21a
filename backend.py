"""The one place that imports the tensor compiler: Aesara where it imports (Python <= 3.11), PyTensor,
its maintained continuation, otherwise.  ``RNNLM_BACKEND=aesara`` or ``=pytensor`` forces a choice, and
``RNNLM_BACKEND=jax`` selects PyTensor compiling to JAX (XLA) instead of C: the route to a GPU
(docs/design.md, "Backends"; use_jax() switches an imported PyTensor over).

The tutorials' THEANO_FLAGS (and AESARA_FLAGS, PYTENSOR_FLAGS) are honoured: floatX=float32|float64 sets
FLAGS_FLOAT, and device=gpu|cuda* asks for the JAX backend on a GPU (the libraries no longer know the flag).

Every other module imports from here, so the differences are handled once:
- PyTensor's scan will stop returning (outputs, updates): ``scan`` here returns the outputs only;
- PyTensor compiles with numba by default: we select its C virtual machine, the code Aesara runs;
- Aesara's C ops (the products inside scan, GEMM updates) call BLAS.  Without one they fall back to
  numpy through slow temporaries (an in-place GEMM several times slower), so we link a current
  OpenBLAS, the `scipy-openblas32` wheel's (requirements.txt), through a small shim that gives its
  prefixed symbols their plain names; or Intel's MKL where it is installed (requirements-mkl.txt).
  The OpenBLAS inside older scipy wheels is the last resort: it predates recent CPUs and runs its
  generic kernels on them (blas_core() says which kernels run);
- intermediate results keep their memory between calls (allow_gc=False): fresh allocations of the
  large output-layer arrays at every step cost more in page faults than the arithmetic;
- both compilers' scan infers the shapes of its whole loop body each time a rewrite touches a loop, and
  reads a few of them: here each is inferred when read (see _scan_shapes_on_demand).
"""
import contextlib
import ctypes
import glob
import hashlib
import importlib
import importlib.util
import logging
import os
import re
import subprocess
import sys
import warnings

import numpy as np

from errors import InputError

NAMES = ("aesara", "pytensor")
BACKENDS = NAMES + ("jax",)
NEEDS_PYTENSOR = "the JAX backend needs PyTensor (Python 3.12+) and jax: Aesara 2.9.4's JAX scan has no gradient"
_forced = os.environ.get("RNNLM_BACKEND", "").strip().lower()
if _forced and _forced not in BACKENDS:
    raise InputError(f"RNNLM_BACKEND must be one of {', '.join(BACKENDS)}, not {_forced!r}")


def _tutorial_flags():
    """(float bits or None, device or None) from THEANO_FLAGS, AESARA_FLAGS and PYTENSOR_FLAGS, later ones
    winning; the device flag is taken out of the libraries' own variables, which would refuse 'gpu'."""
    bits = device = None
    for variable in ("THEANO_FLAGS", "AESARA_FLAGS", "PYTENSOR_FLAGS"):
        kept = []
        for item in filter(None, (part.strip() for part in os.environ.get(variable, "").split(","))):
            key, _, value = item.partition("=")
            if key.strip() == "floatX" and value.strip() in ("float32", "float64"):
                bits = int(value.strip()[-2:])
            if key.strip() == "device":
                device = value.strip().lower()
            else:
                kept.append(item)
        if variable != "THEANO_FLAGS" and variable in os.environ:
            os.environ[variable] = ",".join(kept)
    return bits, device


FLAGS_FLOAT, FLAGS_DEVICE = _tutorial_flags()
WANTS_GPU = bool(FLAGS_DEVICE) and (FLAGS_DEVICE.startswith("gpu") or FLAGS_DEVICE.startswith("cuda"))
if WANTS_GPU:
    _forced = "jax"


@contextlib.contextmanager
def _flags(name, **defaults):
    """<NAME>_FLAGS with our defaults added, unless the user set those flags, while the library is
    imported (it reads them then).  Afterwards the variable is the user's again: processes started
    from here (experiments.py's train.py runs, Ray's workers) choose their own defaults instead of
    inheriting ours as if the user had set them (a child once kept OpenBLAS where MKL was installed)."""
    variable = f"{name.upper()}_FLAGS"
    given = os.environ.get(variable)
    extra = [f"{k}={v}" for k, v in defaults.items() if k not in (given or "")]
    os.environ[variable] = ",".join(filter(None, [given or ""] + extra))
    try:
        yield
    finally:
        if given is None:
            del os.environ[variable]
        else:
            os.environ[variable] = given


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


def _current_openblas():
    """(folder, file name, symbol prefix) of the OpenBLAS in the `scipy-openblas32` wheel, or None.  It is
    kept current (scipy's own wheels for Python 3.11 carry a 2022 OpenBLAS that knows no CPU newer than
    its release and falls back to its generic kernels on them: a fifth of the speed)."""
    try:
        wheel = importlib.import_module("scipy_openblas32")
        return wheel.get_lib_dir(), wheel.get_library(fullname=True), "scipy_"
    except (ImportError, OSError, IndexError):
        return None


def _plain_blas():
    """Linker flags for scipy's OpenBLAS when it exports the plain names and no current OpenBLAS is
    installed, else empty."""
    if _current_openblas():
        return ""
    found = _scipy_openblas()
    if not found or found[2]:
        return ""
    return _linking(f"-L{found[0]} -l:{found[1]}", os.path.join(*found[:2]), "")


# The BLAS routines the libraries' C ops call, with their number of (pointer) arguments.
_BLAS_ROUTINES = {"gemm": 13, "gemv": 11, "ger": 9, "axpy": 6, "copy": 5, "scal": 4, "swap": 5, "dot": 5}


def _prefixed_blas(lib):
    """Linker flags for a small library that gives a prefixed OpenBLAS's routines (the scipy-openblas32
    wheel's, else scipy's own) their plain names (sgemm_ calls scipy_sgemm_, ...), built once into the
    compile cache; empty if impossible."""
    found = _current_openblas() or _scipy_openblas()
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
    return _linking(f"-L{where} -lrnnlm_blas -Wl,-rpath,{where}", os.path.join(folder, name), prefix)


def _mkl_library():
    """The versioned files of MKL's single dynamic library in this environment, unless RNNLM_BLAS=openblas."""
    if os.environ.get("RNNLM_BLAS", "").lower() == "openblas":
        return []
    return sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))


def _mkl_blas(lib):
    """Linker flags for Intel's MKL when it is installed in this environment (requirements-mkl.txt),
    else None.  Its products are faster than OpenBLAS's on Intel CPUs (results/bench-mkl.md beside
    results/bench.md).  RNNLM_BLAS=openblas keeps OpenBLAS."""
    found = _mkl_library()
    if not found:
        return None
    # MKL's threads from libgomp, the OpenMP runtime the C ops' threaded loops use: one pool of threads
    # for both, instead of two runtimes' threads racing for the cores (kernel_compile_args).
    os.environ.setdefault("MKL_THREADING_LAYER", "GNU")
    where = os.path.join(lib.config.compiledir, "mkl-" + hashlib.sha1(found[-1].encode()).hexdigest()[:16])
    link = os.path.join(where, "libmkl_rt.so")              # the wheel ships only the versioned name
    if not os.path.exists(link):
        os.makedirs(where, exist_ok=True)
        partial = f"{link}.{os.getpid()}"
        os.symlink(found[-1], partial)
        os.replace(partial, link)
    return _linking(f"-L{where} -lmkl_rt -Wl,-rpath,{os.path.dirname(found[-1])} -Wl,-rpath,{where}", found[-1], "")


def kernel_compile_args():
    """Compiler flags for kernels.py's C loops: OpenMP threads where MKL takes its threads from the
    same runtime (_mkl_blas), else only `omp simd` vectorisation: beside OpenBLAS's own threads, two
    OpenMP threads raced them for the two cores and were as often slower as faster."""
    shared_pool = blas() == "MKL" and os.environ.get("MKL_THREADING_LAYER") == "GNU"
    return ["-fopenmp"] if shared_pool else ["-fopenmp-simd"]


def blas():
    """The BLAS the C ops link: MKL, OpenBLAS, or none."""
    flags = lib.config.blas__ldflags
    return "MKL" if "mkl_rt" in flags else "OpenBLAS" if "blas" in flags else "no C BLAS"


# Linker flags we chose -> (the library file behind their BLAS routines, the prefix of its symbols).
_linked = {}


def _linking(flags, path, prefix):
    _linked[flags] = (path, prefix)
    return flags


class _MKLVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("update", ctypes.c_int),
                ("status", ctypes.c_char_p), ("build", ctypes.c_char_p), ("processor", ctypes.c_char_p),
                ("platform", ctypes.c_char_p)]


def blas_core():
    """(version, the kernels it runs on this CPU) of the linked BLAS, as the library reports them, e.g.
    ('0.3.34', 'SkylakeX') for OpenBLAS or ('2026.2', 'AVX-512') for MKL; None when the BLAS is not one we linked (the user's blas__ldflags) or cannot say.  A library
    older than the CPU runs generic kernels (OpenBLAS: 'Prescott') at a fraction of the speed."""
    if lib.config.blas__ldflags not in _linked:
        return None
    path, prefix = _linked[lib.config.blas__ldflags]
    library = ctypes.CDLL(path)
    if blas() == "MKL":
        version = _MKLVersion()
        library.MKL_Get_Version(ctypes.byref(version))
        processor = version.processor.decode()      # "Intel(R) Advanced Vector ... (Intel(R) AVX-512) ..."
        short = re.search(r"\(Intel\(R\) ([^)]+)\)", processor)
        return f"{version.major}.{version.update}", short.group(1) if short else processor.strip()
    for name in ("get_config", "get_corename"):
        getattr(library, f"{prefix}openblas_{name}").restype = ctypes.c_char_p
    config = getattr(library, f"{prefix}openblas_get_config")().decode().split()
    version = ".".join(config[1].split(".")[:3]) if len(config) > 1 else ""
    return version, getattr(library, f"{prefix}openblas_get_corename")().decode()


# OpenBLAS's kernels for x86-64 CPUs with AVX2 (its names for older cores, such as Prescott, Nehalem or
# Sandybridge, are the generic fallbacks a library runs on a CPU newer than itself).
_AVX2_OPENBLAS_CORES = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}


def cpu_features():
    """The instruction-set extensions this CPU offers, as numpy detected them (any platform)."""
    core = getattr(np, "_core", None) or np.core
    return {name for name, present in core._multiarray_umath.__cpu_features__.items() if present}


def cpu_vendor():
    """The CPU's vendor as the processor names itself ('GenuineIntel', 'AuthenticAMD'), or None where
    /proc/cpuinfo does not say."""
    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"^vendor_id\s*:\s*(\S+)", f.read(), re.MULTILINE)
    except OSError:
        return None
    return found.group(1) if found else None


def blas_fallback(library=None, core=None, features=None, vendor=None):
    """A one-line warning when the linked BLAS runs kernels slower than this CPU allows, else None: an
    OpenBLAS that predates the CPU falls back to its generic kernels, at a fifth of the speed, and MKL
    runs only generic kernels on a CPU not made by Intel.  The arguments default to this machine's:
    the library (blas()), its (version, kernels) (blas_core()), the CPU's features and vendor."""
    library = library or blas()
    core = core or blas_core()
    features = cpu_features() if features is None else features
    vendor = vendor or cpu_vendor()
    if not core or "AVX2" not in features:
        return None
    if library == "MKL" and vendor not in (None, "GenuineIntel"):
        return (f"MKL {core[0]} runs its generic {core[1]} kernels on this {vendor} CPU (its fast ones are for "
                "Intel's): the default requirements' OpenBLAS is faster here (`pip install -r requirements.txt` "
                "in an environment without MKL)")
    made_for_avx2 = (core[1].lower() in _AVX2_OPENBLAS_CORES if library == "OpenBLAS"
                     else core[1].startswith(("AVX2", "AVX-512")))
    if made_for_avx2:
        return None
    return (f"{library} {core[0]} runs its {core[1]} kernels on this AVX2 CPU, a fraction of its speed (a library "
            "older than the CPU, or OPENBLAS_CORETYPE or MKL_ENABLE_INSTRUCTIONS set): "
            "`pip install -r requirements.txt` installs a current OpenBLAS")


def blas_label():
    """The linked BLAS for logs and results files: e.g. 'OpenBLAS 0.3.34 (SkylakeX kernels)'."""
    core = blas_core()
    return f"{blas()} {core[0]} ({core[1]} kernels)" if core else blas()


# This rewrite folds a scalar factor into a product even when the product has other users, so a
# gradient that clipping also reads got computed twice (PTB: a second output-layer GEMM).
NO_DOT22SCALAR = "local_dot22_to_dot22scalar"
# The library records the Python stack (8 frames, with their source lines) of every variable and node it
# creates, for the "Backtrace when the node is created" of its error messages: a twentieth of a compile's
# time, for graphs our users do not write (AESARA_FLAGS=traceback__limit=8 brings the backtraces back).
NO_CREATION_TRACES = "0"


def _import(name):
    users = os.environ.get(f"{name.upper()}_FLAGS", "")
    logging.getLogger(f"{name}.tensor.blas").setLevel(logging.ERROR)
    if name == "aesara":
        # With MKL to come, OpenBLAS must not be loaded into the global namespace first: the compiled
        # modules' sgemm_ would bind to its copy, not MKL's.
        openblas = "" if _mkl_library() else _plain_blas()
        with _flags("aesara", blas__ldflags=openblas, allow_gc="False", optimizer_excluding=NO_DOT22SCALAR,
                    traceback__limit=NO_CREATION_TRACES), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")      # numpy.distutils' BLAS probe
            import aesara as lib
    else:
        with _flags("pytensor", blas__ldflags="", linker="cvm", allow_gc="False", optimizer_excluding=NO_DOT22SCALAR,
                    traceback__limit=NO_CREATION_TRACES):
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


if _forced == "jax":
    try:
        lib = _import("pytensor")
    except ImportError:
        raise InputError(NEEDS_PYTENSOR) from None
elif _forced:
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


def _shape_arithmetic_compiled_quickly():
    """Compile at -O1, not -O3, the modules whose nodes only compute integers of rank 0 (from anything)
    or integer vectors from integer scalars: the shape and index arithmetic around every loop and slice,
    about half of a cold compile's modules.  -O3's extra passes lengthen their compile and find nothing
    to vectorise there; integer arithmetic gives the same values at any level."""
    clinker = importlib.import_module(f"{lib.__name__}.link.c.basic").CLinker
    compile_args = clinker.compile_args

    def discrete(variables):
        return all(getattr(v.type, "dtype", "float").startswith(("int", "uint", "bool")) for v in variables)

    def rank_0(variables):
        return all(getattr(v.type, "ndim", 0) == 0 for v in variables)

    def shape_arithmetic(node):
        return discrete(node.outputs) and (rank_0(node.outputs) or (discrete(node.inputs) and rank_0(node.inputs)))

    def args(self):
        flags = compile_args(self)
        if self.node_order and all(shape_arithmetic(node) for node in self.node_order):
            flags = ["-O1" if flag == "-O3" else flag for flag in flags]
        return flags

    clinker.compile_args = args


def _composites_pickled_with_their_code():
    """Keep a fused elementwise op's generated C code (Composite._c_code) when it is pickled.  The
    compile cache's keys hold such ops, and loading the cache (the first compile in every process)
    hashes every key; a Composite's hash is that code, which Aesara 2.9.4 drops from the pickle, so
    loading rebuilt every one's graph and code, seconds per process once the cache holds a few thousand
    modules.  The code is what the op hashes and compares by, so the unpickled op is the same op."""
    composite = importlib.import_module(f"{lib.__name__}.scalar.basic").Composite
    getstate = composite.__getstate__

    def with_code(self):
        state = getstate(self)
        if "_c_code" in self.__dict__:
            state["_c_code"] = self._c_code
        return state

    composite.__getstate__ = with_code


def _modules_compiled_ahead():
    """Compile a function's missing C modules on all cores at once.  The library builds a function's
    thunks node by node, each new module one gcc run at a time, under its compile lock: a cold compile
    of the main command's step is mostly those runs (results/compile.md).  When a function's nodes are
    about to be linked, every module the cache lacks is queued for threads (one per core) that run gcc
    on the same source and flags into a folder of their own, outside the lock.  The library's own
    compile of that source then takes the finished library file instead of running gcc again, and
    compiles itself (as before) what no thread has started yet, or failed to build.  The threads are
    daemons, so an interrupted compile exits without waiting for the queue."""
    import atexit
    import concurrent.futures
    import queue
    import shutil
    import tempfile
    import threading
    cmodule = importlib.import_module(f"{lib.__name__}.link.c.cmodule")
    cbasic = importlib.import_module(f"{lib.__name__}.link.c.basic")
    linker = importlib.import_module(f"{lib.__name__}.link.vm").VMLinker
    COp = importlib.import_module(f"{lib.__name__}.link.c.op").COp
    FunctionGraph = importlib.import_module(f"{lib.__name__}.graph.fg").FunctionGraph
    compile_str, make_all = cmodule.GCC_compiler.compile_str, linker.make_all
    state = {"pid": None}

    def this_process():
        """The modules queued in this process, and its threads: a forked child starts its own, as its
        parent's threads are not in it."""
        if state["pid"] != os.getpid():
            state.update(pid=os.getpid(), ahead={}, folders=[], tasks=queue.SimpleQueue())
            for _ in range(os.cpu_count() or 1):
                threading.Thread(target=work, args=(state["tasks"],), daemon=True).start()
        return state

    def signature(name, source, include_dirs, lib_dirs, libs, preargs):
        """What identifies a module's build: ahead's key, and build's arguments."""
        return name, source, tuple((k, tuple(v or ())) for k, v in
                                   [("include_dirs", include_dirs), ("lib_dirs", lib_dirs), ("libs", libs),
                                    ("preargs", preargs)])

    def build(name, source, flags):
        folder = tempfile.mkdtemp(prefix="ahead-")
        state["folders"].append(folder)
        compile_str(name, source, location=folder, py_module=False, **{k: list(v) for k, v in flags})
        return os.path.join(folder, f"{name}.{cmodule.get_lib_extension()}")

    def work(tasks):
        while True:
            future, task = tasks.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(build(*task))
                except Exception as error:
                    future.set_exception(error)

    def missing_modules(nodes):
        cache = cbasic.get_module_cache()
        for node in nodes:
            if not isinstance(node.op, COp):
                continue
            try:
                clinker = cbasic.CLinker().accept(FunctionGraph(node.inputs, node.outputs), no_recycling=[])
                key = clinker.cmodule_key()
                if key in cache.entry_from_key:
                    continue
                module = clinker.get_dynamic_module()
                source = module.code()
                if cmodule.get_module_hash(source, key) in cache.module_hash_to_key_data:
                    continue
                yield signature(module.code_hash, source, clinker.header_dirs(), clinker.lib_dirs(),
                                clinker.libraries(), clinker.compile_args())
            except Exception:        # no C code: the linker finds that out itself and uses Python
                continue

    def make_all_ahead(self, *args, **kwargs):
        queued = this_process()
        for task in missing_modules(self.fgraph.toposort()):
            if task not in queued["ahead"]:
                queued["ahead"][task] = future = concurrent.futures.Future()
                queued["tasks"].put((future, task))
        return make_all(self, *args, **kwargs)

    def compile_taking_ahead(module_name, src_code, location=None, include_dirs=None, lib_dirs=None, libs=None,
                             preargs=None, py_module=True, hide_symbols=True):
        task = signature(module_name, src_code, include_dirs, lib_dirs, libs, preargs)
        future = this_process()["ahead"].pop(task, None)
        if future is not None and location and py_module and hide_symbols and not future.cancel():
            try:
                built = future.result()
            except Exception:        # compiled again below, where the error is reported as usual
                built = None
            if built:
                with open(os.path.join(location, "mod.cpp"), "w") as f:
                    f.write(src_code if src_code.endswith("\n") else src_code + "\n")
                target = os.path.join(location, os.path.basename(built))
                shutil.move(built, target)
                open(os.path.join(location, "__init__.py"), "w").close()
                return cmodule.dlimport(target)
        return compile_str(module_name, src_code, location=location, include_dirs=include_dirs, lib_dirs=lib_dirs,
                           libs=libs, preargs=preargs, py_module=py_module, hide_symbols=hide_symbols)

    @atexit.register
    def remove_folders():
        if state["pid"] == os.getpid():
            for folder in state["folders"]:
                shutil.rmtree(folder, ignore_errors=True)

    linker.make_all = make_all_ahead
    cmodule.GCC_compiler.compile_str = staticmethod(compile_taking_ahead)


def _runtime_extensions_built_ahead():
    """Build the library's own C extensions (the loop runner of scan, and the lazy linker) in a thread
    while the first function's graph is still being rewritten on one core.  The library builds each the
    first time a function needs it, so on an empty cache gcc ran them late in the first compile, the
    scan runner alone for about 4 s on one core; with a filled cache the thread only imports them.  A
    failed build is left to the library, which builds again and reports it as usual."""
    import threading

    def build():
        for module in ("link.c.lazylinker_c", "scan.scan_perform_ext"):
            try:
                importlib.import_module(f"{lib.__name__}.{module}")
            except Exception:
                pass
    threading.Thread(target=build, daemon=True).start()


def _tags_read_directly():
    """Drop the graph tags' __getattribute__, which only calls object's (the library added it "to help
    Mypy"): every variable's and node's tag is read through it, hundreds of thousands of times in a
    compile, a few percent of its time spent in that one Python call."""
    scratchpad = importlib.import_module(f"{lib.__name__}.graph.utils").Scratchpad
    if "__getattribute__" in vars(scratchpad):
        del scratchpad.__getattribute__


_scan_shapes_on_demand()
_tags_read_directly()
_composites_pickled_with_their_code()
if lib.config.cxx:
    _modules_compiled_ahead()
    _runtime_extensions_built_ahead()
_shape_arithmetic_compiled_quickly()
NAME = lib.__name__
VERSION = lib.__version__
at = lib.tensor
config = lib.config
COMPILER = "c"
MESH = None         # under the JAX backend: the devices a batch is split over, along the mesh axis "batch"
_jax_forms = []     # registrations waiting for the JAX backend (jax_forms)


def use_jax(devices=None):
    """Compile every function built from now on with PyTensor's JAX backend, data parallel over the first
    `devices` devices JAX sees (None: all).  Raises InputError where it cannot work."""
    global COMPILER, MESH
    if NAME != "pytensor":
        raise InputError(f"{NEEDS_PYTENSOR} (this is {NAME} {VERSION})")
    try:
        jax = importlib.import_module("jax")
        importlib.import_module("pytensor.link.jax.dispatch")
    except ImportError:
        raise InputError("the JAX backend needs jax: pip install jax (jax[cuda12] for an NVIDIA GPU)") from None
    seen = jax.devices()
    if WANTS_GPU and not any(d.platform == "gpu" for d in seen):
        raise InputError(f"device={FLAGS_DEVICE} asks for a GPU, but JAX sees only {seen[0].platform}: "
                         "install a CUDA build (pip install 'jax[cuda12]') or drop the device flag")
    # in 32-bit mode JAX narrows the 64-bit integers and norms our graphs name, as intended: no warning each time
    warnings.filterwarnings("ignore", message="Explicitly requested dtype", category=UserWarning)
    count = len(seen) if devices is None else devices
    if not 1 <= count <= len(seen):
        raise InputError(f"--devices must be 1..{len(seen)}: JAX sees {len(seen)} {seen[0].platform} device(s), "
                         f"not {count}")
    while _jax_forms:
        _jax_forms.pop()()
    MESH = jax.sharding.Mesh(np.array(seen[:count]), ("batch",))
    COMPILER = "jax"
    _jax_precision()


def _jax_precision():
    """JAX's 64-bit mode on for float64 models only: with it on, some of PyTensor's JAX forms turn a
    float32 loop's values into float64 (a clipped gradient's scan then fails)."""
    if COMPILER == "jax":
        importlib.import_module("jax").config.update("jax_enable_x64", config.floatX == "float64")


@contextlib.contextmanager
def compiling(compiler):
    """Build and compile with this compiler ("c" or "jax") inside the block: a model compiles its
    functions with the compiler it was built for, whichever is selected later."""
    global COMPILER
    outer, COMPILER = COMPILER, compiler
    try:
        yield
    finally:
        COMPILER = outer


def jax_forms(register):
    """Run register() once the JAX backend is selected, now if it is (kernels.py's ops give their JAX
    forms so)."""
    if COMPILER == "jax":
        register()
    else:
        _jax_forms.append(register)
    return register


def shared(value, name=None):
    """A shared variable; under the JAX backend with its shape static, as everything there must be (the
    gradient of a concatenation of parameters splits by their sizes)."""
    return lib.shared(value, name=name, **({"shape": np.shape(value)} if COMPILER == "jax" else {}))


def function(inputs, outputs, **kwargs):
    """lib.function, or under the JAX backend its JAX form, data parallel (data_parallel)."""
    if COMPILER != "jax":
        return lib.function(inputs, outputs, **kwargs)
    return data_parallel(lib.function(inputs, outputs, mode="JAX", **kwargs), inputs)


def data_parallel(f, inputs):
    """f called with each input placed on MESH: split over the devices along its batch axis (the tag that
    typed_inputs gives it), or whole on each; the parameters (shared variables) replicated.  Inputs then
    reach jax.jit as they are (trust_input: PyTensor's checks would copy them to the host), so they are
    cast here, and XLA adds the gradients' sum over the devices itself."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    def placement(variable):
        axis = getattr(variable.tag, "batch_axis", None)
        return NamedSharding(MESH, PartitionSpec(*("batch" if i == axis else None for i in range(variable.ndim))))

    replicated = NamedSharding(MESH, PartitionSpec())
    shared = [c for c, given in zip(f.input_storage, f.maker.inputs) if given.shared]
    placements = [placement(v) for v in inputs]
    f.trust_input = True

    def run(*args, **named):
        for container in shared:     # placed once: an update's result comes back replicated (or equivalent)
            value = container.storage[0]
            if not (isinstance(value, jax.Array) and value.sharding.is_equivalent_to(replicated, value.ndim)):
                container.storage[0] = jax.device_put(value, replicated)
        values = list(args) + [named[v.name] for v in inputs[len(args):]]
        return f(*[jax.device_put(a if isinstance(a, jax.Array) and a.dtype == v.dtype else np.asarray(a, v.dtype), p)
                   for a, v, p in zip(values, inputs, placements)])
    return run


grad = lib.grad
disconnected_grad = lib.gradient.disconnected_grad
DisconnectedType = lib.gradient.DisconnectedType
Op = lib.graph.op.Op
COp = lib.link.c.op.COp
optdb = lib.compile.optdb
node_rewriter = lib.graph.rewriting.basic.node_rewriter
WalkingGraphRewriter = lib.graph.rewriting.basic.WalkingGraphRewriter
Apply = lib.graph.basic.Apply
try:
    io_toposort = importlib.import_module(f"{NAME}.graph.traversal").io_toposort     # where PyTensor moved it
except ImportError:
    io_toposort = lib.graph.basic.io_toposort
Elemwise = lib.tensor.elemwise.Elemwise
scalar = lib.scalar


def softmax(x, axis=-1):
    return lib.tensor.special.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return lib.tensor.special.log_softmax(x, axis=axis)


def scan(fn, **kwargs):
    """``scan`` returning only its outputs (our loops have no random-number updates).

    Under PyTensor's C backend the loop bodies are compiled without elementwise fusion: its fused
    loops over a step's gate values ran slower than the separate, vectorised ones (our tanh and sigmoid
    kernels among them) in each configuration we timed in pairs: the PTB window and the LSTM, GRU and
    clockwork RNN sentence steps.  Under Aesara the same change was mixed (faster LSTMs, a slower GRU),
    so Aesara keeps its fusion."""
    if NAME == "pytensor":
        if COMPILER == "c":
            kwargs.setdefault("mode", lib.compile.mode.get_default_mode().excluding("fusion"))
        with warnings.catch_warnings():     # PyTensor 3.3 still honours the mode it calls deprecated
            warnings.filterwarnings("ignore", "The `mode` argument of `scan` is deprecated", FutureWarning)
            return lib.scan(fn, return_updates=False, **kwargs)
    outputs, _updates = lib.scan(fn, **kwargs)
    return outputs


def typed_inputs(shapes=None):
    """A maker of a function's input variables, new(name, dtype, ndim, batch_axis).  With shapes (one per input, in the
    order they are made) each input has that static shape, so every shape in the graph is a constant:
    the JAX backend needs that (XLA compiles one program per shape)."""
    shapes = iter(shapes or ())

    def new(name, dtype, ndim, batch_axis=None):
        shape = next(shapes, None)
        variable = at.tensor(dtype=dtype, shape=(None,) * ndim if shape is None else tuple(shape), name=name)
        variable.tag.batch_axis = batch_axis    # the axis data parallelism splits (data_parallel)
        return variable
    return new


def padded_length(steps):
    """The bucket a batch of this many steps is padded to under the JAX backend: a power of two, at least 8."""
    return max(8, 1 << (int(steps) - 1).bit_length())


def per_shape(build):
    """A function that calls build(shapes=...) once per distinct shape of its positional arguments and
    runs the result: jax.jit's own caching, one level up, where PyTensor needs the shapes too."""
    programs = {}

    def run(*args, **kwargs):
        shapes = tuple(np.shape(a) for a in args)
        if shapes not in programs:
            programs[shapes] = build(shapes=shapes)
        return programs[shapes](*args, **kwargs)
    return run


def split_last(a, widths):
    """a's last axis in blocks of these constant widths.  For C, one Split op, whose gradient is one Join,
    rather than slices, whose gradients are zeros to fill.  Under JAX, static slices: PyTensor hands a
    Split inside a scan gradient its sizes as traced values, which jax.numpy.split cannot take, and XLA
    fuses the slices' gradients anyway."""
    if COMPILER == "jax":
        ends = np.cumsum([0] + list(widths))
        return [a[..., int(i):int(j)] for i, j in zip(ends[:-1], ends[1:])]
    return at.split(a, widths, n_splits=len(widths), axis=a.ndim - 1)


def describe():
    """The compiler, for logs: e.g. 'aesara 2.9.4 with MKL' or 'pytensor 3.3.8 via JAX 0.12.0.1 on 2 cpu
    devices'.  The C backend names the BLAS its products call, which sets much of a step's time."""
    if COMPILER != "jax":
        return f"{NAME} {VERSION} with {blas_label()}"
    import jax
    return f"{NAME} {VERSION} via JAX {jax.__version__} on {MESH.size} {MESH.devices.flat[0].platform} device(s)"


def set_float(bits):
    """Select float32 or float64 for every model built afterwards."""
    config.floatX = {32: "float32", 64: "float64"}[int(bits)]
    _jax_precision()


def floatX():
    return config.floatX


if _forced == "jax":
    use_jax()
