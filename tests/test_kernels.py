"""The kernels (kernels.py) against numpy references.  The session runs in float64, so these tests
build float32 graphs explicitly, which is where the vectorised tanh and sigmoid are used; the softmax
cross-entropy has C code for both types and numpy code for machines without a compiler."""
import json

import numpy as np
import pytest

import backend
from backend import at, function
from conftest import run_python
from kernels import AddToColumns, AdamStep, ColumnSums, SumOfSquares, columns, sigmoid, softmax_crossentropy, tanh
from lstm_aesara import LSTMAesara

SPECIAL = [0.0, -0.0, 1e-45, -1e-40, 1e-30, 3e-5, 9.99e-5, 1e-4, 1.01e-4, -1e-4, 0.5, 1.0, 9.0, 9.99, 10.0,
           10.01, 20.0, 87.0, 89.0, 104.0, 109.9, 110.0, 111.0, 1e30, 3.4e38, np.inf, -np.inf]


def inputs32():
    """A dense sample of float32: every 997th bit pattern of each sign (4.3 million values, every exponent),
    a fine grid over the range where tanh and sigmoid bend, tiny values and the special cases."""
    patterns = np.arange(0, 0x7F800000, 997, dtype=np.int64).astype(np.int32).view(np.float32)
    grid = np.linspace(-30, 30, 600_001).astype(np.float32)
    tiny = np.geomspace(1e-38, 1e-2, 20_001).astype(np.float32)
    return np.concatenate([patterns, -patterns, grid, tiny, -tiny, np.float32(SPECIAL), -np.float32(SPECIAL)])


def ulps(a, b):
    """Distance in units in the last place between float32 arrays, across zero too."""
    ia, ib = (v.astype(np.float32).view(np.int32).astype(np.int64) for v in (a, b))
    ia, ib = (np.where(i < 0, np.int64(-2**31) - i, i) for i in (ia, ib))   # order negative floats too
    return np.abs(ia - ib)


@pytest.fixture(scope="module")
def float32_functions():
    x = at.fvector("x")
    return {"tanh": function([x], tanh(x)), "sigmoid": function([x], sigmoid(x)),
            "tanh'": function([x], at.grad(tanh(x).sum(), x)), "sigmoid'": function([x], at.grad(sigmoid(x).sum(), x))}


def logistic(x):
    """1 / (1 + e^-x) without cancellation or overflow, in float64."""
    e = np.exp(-np.abs(x))
    return np.where(x < 0, e, 1) / (1 + e)


@pytest.mark.parametrize("name, reference", [("tanh", np.tanh), ("sigmoid", logistic)])
def test_float32_tanh_and_sigmoid_are_rounded_float64_values(float32_functions, name, reference):
    """Correctly rounded: equal to the float64 value rounded once to float32, on every input of the sample
    (a one-off run on every 97th bit pattern, 44.7 million inputs, found no difference either)."""
    x = inputs32()
    ours = float32_functions[name](x)
    assert ours.dtype == np.float32
    want = reference(x.astype(np.float64)).astype(np.float32)
    wrong = np.flatnonzero(ulps(ours, want))
    assert len(wrong) == 0, f"{len(wrong)} of {len(x)} differ, e.g. at {x[wrong[:3]]}"
    # signs of zero and the saturated ends exactly
    assert np.array_equal(np.signbit(ours), np.signbit(want))
    nan = float32_functions[name](np.array([np.nan], np.float32))
    assert np.isnan(nan).all()


@pytest.mark.parametrize("name, derivative", [
    ("tanh'", lambda x: 1 - np.tanh(x) ** 2),
    ("sigmoid'", lambda x: 0.25 / np.cosh(0.5 * x) ** 2),
])
def test_float32_derivatives_are_the_calculus_ones(float32_functions, name, derivative):
    x = np.linspace(-12, 12, 4001).astype(np.float32)
    np.testing.assert_allclose(float32_functions[name](x), derivative(x.astype(np.float64)), rtol=2e-6, atol=1e-7)


def test_float64_keeps_the_library_functions():
    x = at.dvector("x")
    values = np.linspace(-20, 20, 2001)
    f = function([x], [tanh(x), sigmoid(x), at.grad(tanh(x).sum(), x)])
    t, s, dt = f(values)
    np.testing.assert_allclose(t, np.tanh(values), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(s, logistic(values), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dt, 1 - np.tanh(values) ** 2, rtol=1e-12, atol=1e-15)


def test_float32_stacked_lstm_batch_equals_float64():
    """The whole float32 graph (column-major tables, softmax with its bias, fast gates, one
    scan per layer) against the same model in float64: the loss and one SGD step's parameters."""
    X = np.random.RandomState(0).randint(0, 50, (6, 5)).astype(np.int32)
    Y = np.random.RandomState(1).randint(0, 50, (6, 5)).astype(np.int32)
    lengths = np.array([6, 5, 3, 6, 1], np.int32)
    results = {}
    for bits in (32, 64):
        backend.set_float(bits)
        try:
            np.random.seed(7)
            model = LSTMAesara(50, hidden_dim=8, bptt_truncate=-1, layers=2)
            loss = model.train_batch(X, Y, lengths, 0.5, clip=5.0)
            results[bits] = loss, [p.get_value() for p in model.params]
        finally:
            backend.set_float(64)
    (loss32, params32), (loss64, params64) = results[32], results[64]
    assert params32[0].dtype == np.float32 and params32[0].flags.f_contiguous
    assert loss32 == pytest.approx(loss64, rel=1e-6)
    for p32, p64 in zip(params32, params64):
        np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)


def softmax_reference(z, y, g, b):
    """-log softmax(z + b)[y] and the gradients of sum(g * that) for z and b, in float64."""
    v = z.astype(np.float64) + b
    p = np.exp(v - v.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    d = p.copy()
    d[rows, y] -= 1
    d *= g[:, None]
    return -np.log(p[rows, y]), d, d.sum(axis=0)


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("linker", ["c", "py"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_softmax_crossentropy_and_gradients(dtype, rtol, linker, with_bias, N=23, V=1501):
    rng = np.random.default_rng(3)
    z = (rng.normal(size=(N, V)) * 6).astype(dtype)
    z[1, 7] = -1e4               # far below the rest: its probability is 0, not garbage
    z[2, :] = -300               # a flat row, all of it under exp's range unless shifted
    z[3, 11] = 80                # one dominant word
    y = rng.integers(0, V, N).astype(np.int32)
    y[3] = 11
    g = rng.normal(size=N).astype(dtype)
    g[5] = 0                     # a padded position
    b = (rng.normal(size=V) if with_bias else np.zeros(V)).astype(dtype)

    Z, G, B, Y = at.matrix(dtype=dtype), at.vector(dtype=dtype), at.vector(dtype=dtype), at.ivector()
    nll = softmax_crossentropy(Z + B[None, :] if with_bias else Z, Y)
    cost = (G * nll).sum()
    wanted = [nll, at.grad(cost, Z)] + ([at.grad(cost, B)] if with_bias else [])
    mode = backend.lib.compile.mode.Mode(linker={"c": "cvm", "py": "py"}[linker], optimizer="fast_run")
    f = function([Z, Y, G] + ([B] if with_bias else []), wanted, mode=mode)
    ours = f(z, y, g, *([b] if with_bias else []))

    want_nll, want_dz, want_db = softmax_reference(z, y, g.astype(np.float64), b.astype(np.float64))
    assert ours[0].dtype == ours[1].dtype == np.dtype(dtype)
    np.testing.assert_allclose(ours[0], want_nll, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours[1], want_dz, rtol=rtol, atol=rtol * np.abs(want_dz).max())
    assert not ours[1][5].any() and ours[1][1, 7] == 0
    if with_bias:
        np.testing.assert_allclose(ours[2], want_db, rtol=rtol, atol=rtol * np.abs(want_db).max())
    with pytest.raises(ValueError, match=f"target word id {V} is outside the vocabulary"):
        f(z, np.full(N, V, np.int32), g, *([b] if with_bias else []))


def test_softmax_crossentropy_split_over_openmp_threads_is_the_reference(monkeypatch):
    """Compiled with OpenMP (as beside MKL, backend.kernel_compile_args), an array of 2^20 elements or
    more is split over the threads by rows, an odd number of them here, with the bias's gradient
    summed per thread: the same reference holds."""
    import kernels
    monkeypatch.setattr(kernels, "kernel_compile_args", lambda: ["-fopenmp"])
    test_softmax_crossentropy_and_gradients("float64", 1e-13, "c", True, N=129, V=8200)


def test_shape_arithmetic_compiles_at_o1_and_everything_else_at_o3():
    """Modules of integer scalar arithmetic only are compiled at -O1 (backend.py: quicker, with nothing
    to vectorise); a module touching floats keeps -O3; the -O1 module computes what Python does."""
    import importlib
    CLinker = importlib.import_module(f"{backend.NAME}.link.c.basic").CLinker
    FunctionGraph = importlib.import_module(f"{backend.NAME}.graph.fg").FunctionGraph

    def level(inputs, output):
        flags = CLinker().accept(FunctionGraph(inputs, [output])).compile_args()
        return [flag for flag in flags if flag in ("-O1", "-O3")]

    i, j = at.lscalar("i"), at.lscalar("j")
    x, y = at.dscalar("x"), at.dmatrix("y")
    assert level([i, j], (i * 3 - j) // 2) == ["-O1"]
    assert level([i, x], i * x) == ["-O3"]
    assert level([y], y * 2) == ["-O3"]
    floor_division = function([i, j], (i * 3 - j) // 2)
    for a, b in [(7, -4), (-7, 4), (0, 1), (-3, -9)]:
        assert floor_division(a, b) == (a * 3 - b) // 2


def test_a_fused_elementwise_op_keeps_its_code_through_the_compile_caches_pickle():
    """The compile cache pickles its keys, which hold fused elementwise ops (Composite), and hashes every
    key when it loads them.  The op's code travels in the pickle (backend.py), so a loaded op hashes
    without rebuilding its graph, and it is still the same op: equal, with the same hash and code."""
    import importlib
    import pickle
    Composite = importlib.import_module(f"{backend.NAME}.scalar.basic").Composite
    scalar = importlib.import_module(f"{backend.NAME}.scalar")
    a, b = scalar.float32("a"), scalar.float32("b")
    op = Composite([a, b], [scalar.sqrt(a) / (b + scalar.constant(np.float32(1e-8)))])
    code = op.c_code_template
    loaded = pickle.loads(pickle.dumps(op))
    assert loaded.__dict__.get("_c_code") == code and "_fgraph" not in loaded.__dict__
    assert loaded == op and hash(loaded) == hash(op) and loaded.c_code_template == code


def test_a_functions_new_modules_are_compiled_beside_it_and_compute_what_numpy_does(tmp_path):
    """A function's modules that the compile cache lacks go to gcc in other threads while the function
    is linked (backend.py); the library takes their files, and the function computes what numpy does.
    In a process of its own with an empty compile cache, so that every module is new.  The outputs are
    ops of five kinds, five modules: while the library compiles the first itself, the threads take others
    (with one module, the library could always reach it first)."""
    program = """if True:
        import json, subprocess, threading
        import numpy as np
        import backend
        from backend import at, function
        in_main_thread, popen = [], subprocess.Popen
        def recording(command, *args, **kwargs):
            if "-shared" in command:
                in_main_thread.append(threading.current_thread() is threading.main_thread())
            return popen(command, *args, **kwargs)
        subprocess.Popen = recording
        x = at.dvector("x")
        f = function([x], [at.tanh(x * 3.0), at.cumsum(x), at.argmax(x), x[::-1] * 2.0, at.max(x)])
        v = np.linspace(0.5, 2.0, 9)
        want = [np.tanh(v * 3.0), np.cumsum(v), np.argmax(v), v[::-1] * 2.0, np.max(v)]
        error = max(float(np.max(np.abs(got - w) / np.abs(w))) for got, w in zip(f(v), want))
        print(json.dumps([in_main_thread, error]))
    """
    run = run_python(program, **{f"{backend.NAME.upper()}_FLAGS": f"base_compiledir={tmp_path}"})
    assert run.returncode == 0, run.stderr[-2000:]
    in_main_thread, error = json.loads(run.stdout.strip().splitlines()[-1])
    assert error < 1e-15
    assert False in in_main_thread


def test_the_librarys_own_extensions_are_built_in_a_thread_from_the_import_on(tmp_path):
    """With an empty compile cache, the library's lazy linker (and Aesara's scan runner, which PyTensor
    ships built) is built by gcc outside the main thread, before any function is compiled."""
    program = """if True:
        import glob, json, os, subprocess, threading, time
        in_main_thread, popen = [], subprocess.Popen
        def recording(command, *args, **kwargs):
            if any("lazylinker" in part or "scan_perform" in part for part in map(str, command)):
                in_main_thread.append(threading.current_thread() is threading.main_thread())
            return popen(command, *args, **kwargs)
        subprocess.Popen = recording
        import backend
        folders = ["lazylinker_ext"] + (["scan_perform"] if backend.NAME == "aesara" else [])
        built = lambda: [bool(glob.glob(os.path.join(backend.config.compiledir, f, "*.so"))) for f in folders]
        deadline = time.time() + 120
        while not all(built()) and time.time() < deadline:
            time.sleep(0.1)
        print(json.dumps([built(), in_main_thread]))
    """
    run = run_python(program, **{f"{backend.NAME.upper()}_FLAGS": f"base_compiledir={tmp_path}"})
    assert run.returncode == 0, run.stderr[-2000:]
    built, in_main_thread = json.loads(run.stdout.strip().splitlines()[-1])
    assert built and all(built)
    assert in_main_thread and not any(in_main_thread)


def test_the_library_flags_are_the_users_again_after_the_import():
    """Our defaults for Aesara's or PyTensor's flags are set only while the library is imported: a
    process started afterwards (a train.py run from experiments.py) picks its own BLAS, where it once
    inherited the parent's choice as if the user had made it and kept OpenBLAS beside MKL."""
    program = ("import os, backend; print(repr(os.environ.get('AESARA_FLAGS')), repr(os.environ.get('PYTENSOR_FLAGS')),"
               " backend.lib.config.allow_gc)")
    run = run_python(program, PYTENSOR_FLAGS="floatX=float64")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["None", "'floatX=float64'", "False"]


@pytest.mark.parametrize("flags,traced", [("", False), ("traceback__limit=8", True)])
def test_creation_backtraces_are_off_unless_the_user_asks_for_them(flags, traced):
    """A variable records where it was created only when the user's flags ask (backend.NO_CREATION_TRACES)."""
    program = "import backend; x = backend.at.dvector('x'); print(bool(getattr(x.tag, 'trace', None)))"
    run = run_python(program, **{f"{backend.NAME.upper()}_FLAGS": flags})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1] == str(traced)


@pytest.mark.skipif(not backend._mkl_library(), reason="MKL is not installed here (requirements-mkl.txt; CI's "
                    "Aesara run installs it)")
def test_the_compiled_products_call_mkl_when_it_is_installed():
    """The C ops' sgemm_ binds to MKL's, not to a BLAS loaded earlier (scipy's OpenBLAS once shadowed it):
    with MKL_VERBOSE set, MKL reports every product it computes."""
    program = ("import numpy as np, backend; from backend import at, function; x = at.matrix(dtype='float32'); "
               "f = function([x], at.dot(x, x.T)); f(np.ones((64, 64), np.float32))")
    run = run_python(program, MKL_VERBOSE="1")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "MKL_VERBOSE SGEMM" in run.stdout, run.stdout[-2000:]


def test_softmax_crossentropy_is_nan_for_nan_logits():
    Z, Y = at.matrix(dtype="float32"), at.ivector()
    f = function([Z, Y], softmax_crossentropy(Z, Y))
    z = np.zeros((3, 40), np.float32)
    z[1, 30] = np.nan
    nll = f(z, np.array([0, 0, 0], np.int32))
    assert np.isnan(nll[1]) and nll[0] == nll[2] == pytest.approx(np.log(40))


@pytest.mark.parametrize("linker", ["c", "py"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_column_lookup_gradient_sums_repeated_words(linker, dtype):
    """M[:, ids] as rows, and its gradient: each distinct id once, its rows added up, and the dense
    gradient with those sums in the id's column (np.add.at is the reference)."""
    rng = np.random.default_rng(5)
    H, V = 6, 40
    ids = rng.integers(0, V, 50).astype(np.int32)
    ids[:5] = 7                                   # a word repeated, and words that never occur
    M = rng.normal(size=(H, V)).astype(dtype)
    weights = rng.normal(size=(50, H)).astype(dtype)
    table, x, w = at.matrix(dtype=dtype), at.ivector(), at.matrix(dtype=dtype)
    looked_up = columns(table, x)
    dense = at.grad((looked_up * w).sum(), table)
    used, sums = ColumnSums()(x, w)
    mode = backend.lib.compile.mode.Mode(linker={"c": "cvm", "py": "py"}[linker], optimizer="fast_run")
    f = function([table, x, w], [looked_up, dense, used, sums], mode=mode)
    rows, dense, used, sums = f(M, ids, weights)
    np.testing.assert_array_equal(rows, M[:, ids].T)
    expected = np.zeros((V, H))
    np.add.at(expected, ids, weights.astype(np.float64))
    np.testing.assert_array_equal(used, np.unique(ids))
    np.testing.assert_allclose(sums, expected[np.unique(ids)], rtol=1e-6)
    np.testing.assert_allclose(dense, expected.T, rtol=1e-6)
    assert dense.dtype == np.dtype(dtype)


@pytest.mark.parametrize("linker", ["c", "py"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_add_to_columns_in_place_and_on_a_copy(linker, order):
    """rows added to the columns of their ids, repeated ids adding up: on a copy when the table is a
    plain input (which the caller keeps), in place when it is a parameter being updated."""
    rng = np.random.default_rng(6)
    table = np.asarray(rng.normal(size=(5, 30)), order=order)
    ids = np.array([3, 29, 3, 0, 3], np.int64)
    rows = rng.normal(size=(5, 5))
    expected = table.copy()
    np.add.at(expected.T, ids, rows)
    mode = backend.lib.compile.mode.Mode(linker={"c": "cvm", "py": "py"}[linker], optimizer="fast_run")
    M, x, r = at.matrix(), at.lvector(), at.matrix()
    kept = table.copy()
    np.testing.assert_allclose(function([M, x, r], AddToColumns()(M, x, r), mode=mode)(kept, ids, rows), expected)
    np.testing.assert_array_equal(kept, table)
    param = backend.shared(table.copy(order=order))
    step = function([x, r], [], updates=[(param, AddToColumns()(param, x, r))], mode=mode)
    assert any(node.op == AddToColumns(inplace=True) for node in step.maker.fgraph.apply_nodes)
    step(ids, rows)
    np.testing.assert_allclose(param.get_value(), expected)
    with pytest.raises(ValueError, match="word id 30 is outside the vocabulary"):
        step(np.array([30]), rows[:1])


def adam_from_elementwise_ops(p, g, m, v, lr, m_correction, v_correction, scale, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma & Ba's update from the library's generic ops, each constant rounded to the tables' type
    as Python's numbers are when they enter a graph of that type."""
    c = np.dtype(p.dtype).type
    g = g * scale
    m = c(beta1) * m + c(1 - beta1) * g
    v = c(beta2) * v + c(1 - beta2) * at.square(g)
    return p - lr * (m / m_correction) / (at.sqrt(v / v_correction) + c(eps)), m, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_adam_step_is_the_elementwise_formula_bit_for_bit(dtype, order):
    """The C op's step equals the same formula built from the library's elementwise ops, updating shared
    tables in place; a table stored in the other memory order than its gradient (a copy of the gradient
    is read) included.  Aesara's code does the same float operations, so every bit is equal (the numbers
    Adam gave before the op).  PyTensor's writes each constant as a decimal double literal ("0.1", not
    0.1 rounded to float32) and computes those products in double: the op then differs from it by a
    rounding, and from float32 to float32 the op now gives Aesara's numbers there too."""
    rng = np.random.default_rng(7)
    tables = [np.asarray(rng.normal(size=(37, 1001)) * scale, dtype, order=order) for scale in (1, 0.01, 0.01)]
    tables[2] = np.abs(tables[2])
    gradient = (rng.normal(size=(37, 1001)) * 0.01).astype(dtype)
    g = at.tensor(dtype=dtype, shape=(None, None))
    scalars = [at.scalar(dtype=dtype) for _ in range(4)]
    values = [np.asarray(x, dtype) for x in (0.002, 1 - 0.9 ** 3, 1 - 0.999 ** 3, 0.7)]
    results = []
    for update in (adam_from_elementwise_ops, AdamStep(0.9, 0.999, 1e-8)):
        p, m, v = (backend.shared(t.copy(order=order)) for t in tables)
        p_new, m_new, v_new = update(p, g, m, v, *scalars)
        step = function([g, *scalars], [], updates=[(p, p_new), (m, m_new), (v, v_new)])
        step(gradient, *values)
        results.append([x.get_value() for x in (p, m, v)])
    assert any(node.op == AdamStep(0.9, 0.999, 1e-8, inplace=True) for node in step.maker.fgraph.apply_nodes)
    for name, generic, ours in zip("pmv", *results):
        assert ours.dtype == dtype
        if backend.NAME == "aesara" or dtype == "float64":
            np.testing.assert_array_equal(ours, generic, err_msg=name)
        else:
            np.testing.assert_allclose(ours, generic, rtol=1e-6, atol=1e-9, err_msg=name)   # a rounding of each term
    assert not np.array_equal(results[1][0], tables[0])          # the table moved


@pytest.mark.parametrize("linker", ["c", "py"])
def test_adam_step_on_plain_inputs_leaves_them_as_they_were(linker):
    """Not in place where the inputs are not being updated; the numpy form (no C compiler) gives the
    formula's values too, to rounding (numpy multiplies and adds where gcc may fuse them)."""
    rng = np.random.default_rng(8)
    p, g, m = (rng.normal(size=(6, 9)).astype(np.float32) for _ in range(3))
    v = np.abs(rng.normal(size=(6, 9))).astype(np.float32)
    given = [x.copy() for x in (p, g, m, v)]
    tables = [at.matrix(dtype="float32") for _ in range(4)]
    scalars = [at.scalar(dtype="float32") for _ in range(4)]
    mode = backend.lib.compile.mode.Mode(linker={"c": "cvm", "py": "py"}[linker], optimizer="fast_run")
    step = function([*tables, *scalars], AdamStep(0.9, 0.999, 1e-8)(*tables, *scalars), mode=mode)
    lr, m_correction, v_correction, scale = np.float32([0.01, 1 - 0.9 ** 2, 1 - 0.999 ** 2, 0.5])
    new_p, new_m, new_v = step(p, g, m, v, lr, m_correction, v_correction, scale)
    for before, after in zip(given, (p, g, m, v)):
        np.testing.assert_array_equal(after, before)
    m64 = 0.9 * m.astype(np.float64) + 0.1 * g * scale
    v64 = 0.999 * v.astype(np.float64) + 0.001 * (g.astype(np.float64) * scale) ** 2
    p64 = p - lr * (m64 / m_correction) / (np.sqrt(v64 / v_correction) + 1e-8)
    for ours, expected in ((new_p, p64), (new_m, m64), (new_v, v64)):
        np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_of_squares_adds_every_element_of_every_array(dtype):
    """Arrays of several shapes, one transposed (not contiguous) and one longer than a 4096 block."""
    rng = np.random.RandomState(5)
    arrays = [rng.uniform(-3, 3, shape).astype(dtype) for shape in [(7, 5), (10_001,), (3, 4, 2), ()]]
    variables = [at.tensor(dtype=dtype, shape=(None,) * a.ndim) for a in arrays]
    f = function(variables, SumOfSquares()(variables[0].T, *variables[1:]))
    expected = sum(np.sum(a.astype(np.float64) ** 2) for a in arrays)
    result = f(*arrays)
    assert result.dtype == dtype
    np.testing.assert_allclose(result, expected, rtol=1e-6 if dtype == "float32" else 1e-13)


def test_scan_shapes_inferred_on_demand_are_the_loops_real_shapes():
    """backend infers a scan's output shapes only when read: the shapes the compiler then uses for a loop's
    per-step (non-recurrent) outputs and its recurrent ones must still be the computed arrays' shapes."""
    x = at.matrix("x")
    w = at.matrix("w")
    state, per_step = backend.scan(lambda x_t, s, w: [s + at.dot(x_t, w), at.outer(x_t, x_t)[:, :2]],
                                   sequences=[x], outputs_info=[at.zeros((w.shape[1],)), None], non_sequences=[w])
    f = function([x, w], [state.shape, per_step.shape, state, per_step])
    X, W = np.ones((5, 3), backend.floatX()), np.ones((3, 4), backend.floatX())
    state_shape, step_shape, state_value, step_value = f(X, W)
    assert tuple(state_shape) == state_value.shape == (5, 4)
    assert tuple(step_shape) == step_value.shape == (5, 3, 2)
