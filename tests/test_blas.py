"""The BLAS behind the C ops' matrix products: a current library, running the kernels made for this CPU.

An OpenBLAS older than the CPU does not recognise it and runs its generic (Prescott) kernels: on a
recent Intel Xeon, scipy 1.12's OpenBLAS 0.3.21 computed the PTB model's products at a fifth of the speed
of a current OpenBLAS.  OPENBLAS_CORETYPE (MKL_ENABLE_INSTRUCTIONS for MKL) makes the library run old
kernels on purpose, so the check is also shown to fail where it should."""
import os

import pytest

import backend
from conftest import run_python


def test_the_default_install_links_a_blas_that_reports_its_kernels():
    core = backend.blas_core()
    assert backend.blas() in ("OpenBLAS", "MKL")
    assert core is not None and all(core), core
    assert f"{core[1]} kernels" in backend.describe()


NOT_INTEL = backend.cpu_vendor() not in (None, "GenuineIntel")


def test_the_linked_blas_runs_the_kernels_made_for_this_cpu():
    """Fails where the BLAS falls back to kernels older than the CPU (Prescott on an AVX2 or AVX-512 CPU).
    MKL has no others on a CPU not made by Intel: there the warning must say so."""
    if backend.blas() == "MKL" and NOT_INTEL:
        assert "OpenBLAS is faster here" in (backend.blas_fallback() or ""), backend.blas_fallback()
        return
    assert backend.blas_fallback() is None, backend.blas_fallback()
    if "AVX2" in backend.cpu_features() and backend.blas() == "OpenBLAS":
        assert backend.blas_core()[1].lower() not in ("prescott", "core2", "nehalem", "sandybridge")


# Each library's switch to an old instruction set, and what it then reports.
OLD_KERNELS = {"OpenBLAS": ("OPENBLAS_CORETYPE", "Prescott", ("Prescott", "Katmai")),   # current releases: Katmai
               "MKL": ("MKL_ENABLE_INSTRUCTIONS", "SSE4_2", ("SSE4.2",))}


@pytest.mark.parametrize("library,core,features,vendor,cause", [
    ("OpenBLAS", ("0.3.21", "Prescott"), {"AVX2"}, "GenuineIntel", "runs its Prescott kernels on this AVX2 CPU"),
    ("OpenBLAS", ("0.3.21", "Prescott"), {"AVX2"}, "AuthenticAMD", "runs its Prescott kernels on this AVX2 CPU"),
    ("OpenBLAS", ("0.3.34", "SkylakeX"), {"AVX2", "AVX512F"}, "GenuineIntel", None),
    ("OpenBLAS", ("0.3.34", "Zen"), {"AVX2"}, "AuthenticAMD", None),
    ("OpenBLAS", ("0.3.21", "Prescott"), {"SSE42"}, "GenuineIntel", None),     # nothing faster to miss
    ("MKL", ("2026.2", "AVX-512"), {"AVX2", "AVX512F"}, "GenuineIntel", None),
    ("MKL", ("2026.2", "SSE4.2"), {"AVX2"}, "GenuineIntel", "runs its SSE4.2 kernels on this AVX2 CPU"),
    ("MKL", ("2026.2", "Intel(R) Architecture processors"), {"AVX2"}, "AuthenticAMD",
     "kernels on this AuthenticAMD CPU (its fast ones are for Intel's): the default requirements' OpenBLAS is faster"),
])
def test_the_warning_names_the_slow_kernels_and_why(library, core, features, vendor, cause):
    warning = backend.blas_fallback(library, core, features, vendor)
    assert warning is None if cause is None else (warning.startswith(f"{library} {core[0]} ") and cause in warning)


@pytest.mark.skipif("AVX2" not in backend.cpu_features(), reason="a CPU without AVX2 has no faster kernels to miss")
@pytest.mark.skipif(backend.blas() == "MKL" and NOT_INTEL,
                    reason="MKL runs its generic kernels on a CPU not made by Intel, whatever MKL_ENABLE_INSTRUCTIONS says")
def test_a_blas_on_kernels_older_than_the_cpu_is_reported():
    variable, value, reported = OLD_KERNELS[backend.blas()]
    run = run_python("import backend; print(backend.blas_core()[1]); print(backend.blas_fallback())", **{variable: value})
    assert run.returncode == 0, run.stderr[-2000:]
    core, warning = run.stdout.strip().splitlines()
    assert core in reported
    assert warning.startswith(backend.blas()) and f"{core} kernels" in warning


def test_the_compiled_products_call_the_library_described():
    """sgemm_ as the compiled modules resolve it is the linked library's (a BLAS loaded earlier into the
    global namespace once shadowed the one on the link line)."""
    import ctypes

    import numpy as np
    from backend import at, function
    x = at.matrix(dtype="float32")
    function([x], at.dot(x, x.T))(np.ones((8, 8), np.float32))
    if backend.blas() != "OpenBLAS":
        pytest.skip("MKL's binding has its own test (MKL_VERBOSE), in tests/test_kernels.py")
    info = type("DlInfo", (ctypes.Structure,), {"_fields_": [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                                                             ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]})()
    address = ctypes.cast(ctypes.CDLL(None).sgemm_, ctypes.c_void_p)
    assert ctypes.CDLL(None).dladdr(address, ctypes.byref(info))
    library = os.path.basename(info.fname.decode())
    linked = backend._linked[backend.lib.config.blas__ldflags][0]
    assert library in ("librnnlm_blas.so", os.path.basename(linked)), library
