"""compare.py and theano_compat.py, on small modules in the tutorials' idiom (tests/data/theano_idiom), never
on the original files: the layer's functions against numpy, an equal module reported equal (exit 0),
planted differences reported and named (exit 1), the user's folder left byte for byte as it was, the
trained-file path, and one line with exit 2 for each kind of bad input.

Compiling dominates these tests' time, so each module is loaded once, and compare.py reuses our compiled
model across its runs in this process.  (They once compiled in FAST_COMPILE mode: on Aesara the float32
kernel tests that ran after them in the same process then failed.)"""
import contextlib
import io
import os
import shutil
import sys

import numpy as np
import pytest

import backend
import compare
import theano_compat

IDIOM = os.path.join(os.path.dirname(__file__), "data", "theano_idiom", "rnnlm")
WORD_DIM, HIDDEN_DIM = compare.KINDS[0].quick_sizes


@pytest.fixture(scope="module")
def theano():
    with theano_compat.installed() as module:
        yield module


def run_compare(*argv):
    """compare.main's exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = compare.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def snapshot(folder):
    """Every file under folder with its bytes."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


def user_folder(tmp_path, name="rnnlm", change=None):
    """A copy of the idiom folder, as a user's copy of the tutorial; change=(old, new) plants a change in
    its rnn_theano.py."""
    folder = tmp_path / name
    shutil.copytree(IDIOM, folder)
    if change:
        path = folder / "rnn_theano.py"
        text = path.read_text()
        assert change[0] in text
        path.write_text(text.replace(change[0], change[1]))
    return folder


def test_print_statements_become_calls_and_nothing_else_changes():
    source = ('print "a", 1\nprint "b %d" % 2,\nprint\nif x: print "c"; y = 1\nprint("d")\n'
              'def f():\n    print >>sys.stderr, "e", g(1, 2)  # print "no"\ns = "print 1"\n')
    assert compare.python3_prints(source) == (
        'print("a", 1)\nprint("b %d" % 2, end=" ")\nprint()\nif x: print("c"); y = 1\nprint("d")\n'
        'def f():\n    print("e", g(1, 2), file=sys.stderr)  # print "no"\ns = "print 1"\n')


def test_the_layer_computes_what_theano_did(theano):
    T = sys.modules["theano.tensor"]
    assert theano.config.floatX == backend.floatX() and T is theano.tensor
    v, m, onehot, ids = T.vector("v"), T.matrix("m"), T.matrix("onehot"), T.ivector("ids")
    outputs = [T.nnet.softmax(v), T.nnet.sigmoid(v), T.nnet.hard_sigmoid(v),
               T.nnet.categorical_crossentropy(T.nnet.softmax(m), ids),
               T.nnet.categorical_crossentropy(T.nnet.softmax(m), onehot)]
    rng = np.random.RandomState(3)
    a, b, targets = rng.uniform(-4, 4, 7), rng.uniform(-3, 3, (4, 7)), np.array([0, 6, 2, 2], np.int32)
    soft, sig, hard, ce_ids, ce_rows = theano.function([v, m, ids, onehot], outputs)(a, b, targets, np.eye(7)[targets])
    e = np.exp(b - b.max(axis=1, keepdims=True))
    probabilities = e / e.sum(axis=1, keepdims=True)
    assert soft.shape == (1, 7)              # Theano's softmax of a vector: a one-row matrix
    np.testing.assert_allclose(soft[0], np.exp(a) / np.exp(a).sum(), rtol=1e-13)
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-a)), rtol=1e-13)
    np.testing.assert_allclose(hard, np.clip(0.2 * a + 0.5, 0, 1), rtol=1e-13)
    assert hard.min() == 0 and hard.max() == 1            # both clipped ends are reached
    np.testing.assert_allclose(ce_ids, -np.log(probabilities[np.arange(4), targets]), rtol=1e-13)
    np.testing.assert_allclose(ce_rows, ce_ids, rtol=1e-13)


def test_scan_truncates_the_backward_pass_as_theano_did(theano):
    """truncate_gradient=k runs the backward pass over the last k steps only, for every gradient."""
    T = theano.tensor
    rng = np.random.RandomState(5)
    U0, W0, c = rng.uniform(-1, 1, (3, 6)), rng.uniform(-1, 1, (3, 3)), rng.uniform(-1, 1, 3)
    U, W = theano.shared(name="U", value=U0), theano.shared(name="W", value=W0)
    x, k = T.ivector("x"), 2
    [outputs, states], updates = theano.scan(
        lambda x_t, s_prev, U, W: [T.tanh(U[:, x_t] + W.dot(s_prev)).dot(c), T.tanh(U[:, x_t] + W.dot(s_prev))],
        sequences=x, outputs_info=[None, dict(initial=T.zeros(3))], non_sequences=[U, W],
        truncate_gradient=k, strict=True)
    cost = T.sum(outputs)
    dU, dW = theano.function([x], T.grad(cost, [U, W]))(np.array([1, 4, 0, 5, 2], np.int32))
    s = [np.zeros(3)]
    for word in [1, 4, 0, 5, 2]:
        s.append(np.tanh(U0[:, word] + W0 @ s[-1]))
    want_U, want_W, carried = np.zeros_like(U0), np.zeros_like(W0), np.zeros(3)
    for t in range(5, 5 - k, -1):           # the last k steps, each output's error and what came back
        d = (c + carried) * (1 - s[t] ** 2)
        want_U[:, [1, 4, 0, 5, 2][t - 1]] += d
        want_W += np.outer(d, s[t - 1])
        carried = W0.T @ d
    np.testing.assert_allclose(dU, want_U, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dW, want_W, rtol=1e-13, atol=1e-15)


def test_param_defaults_and_an_rmsprop_update_with_a_square(theano):
    """The GRU tutorial's update: theano.Param(decay, default=0.9), a cache of g ** 2, T.sqrt."""
    T = theano.tensor
    w0 = np.array([0.5, -1.5, 2.0])
    w, cache = theano.shared(name="w", value=w0.copy()), theano.shared(name="cache", value=np.zeros(3))
    rate, decay = T.scalar("rate"), T.scalar("decay")
    g = T.grad(T.sum(T.tanh(w) * np.array([1.0, 2.0, -1.0])), w)
    new_cache = decay * cache + (1 - decay) * g ** 2
    step = theano.function([rate, theano.Param(decay, default=0.9)], [],
                           updates=[(w, w - rate * g / T.sqrt(new_cache + 1e-6)), (cache, new_cache)])
    want_w, want_cache = w0.copy(), np.zeros(3)
    for d in (None, 0.5):
        step(0.1) if d is None else step(0.1, d)
        grad = (1 - np.tanh(want_w) ** 2) * np.array([1.0, 2.0, -1.0])
        want_cache = (0.9 if d is None else d) * want_cache + (1 - (0.9 if d is None else d)) * grad ** 2
        want_w = want_w - 0.1 * grad / np.sqrt(want_cache + 1e-6)
        np.testing.assert_allclose(w.get_value(), want_w, rtol=1e-13)
        np.testing.assert_allclose(cache.get_value(), want_cache, rtol=1e-13)


def test_a_missing_theano_name_is_named(theano):
    with pytest.raises(theano_compat.MissingTheanoName, match=r"theano\.tensor\.nnet\.relu is not in"):
        theano.tensor.nnet.relu
    with pytest.raises(ImportError):
        __import__("theano.sandbox")


def test_installed_restores_the_names(theano):
    before = sys.modules["theano"]
    with theano_compat.installed() as inner:
        assert sys.modules["theano"] is inner is not before
    assert sys.modules["theano"] is before


def test_a_sibling_is_the_original_only_while_loading(tmp_path):
    """The gru-lstm utils.py imports the model module by its plain name: during the load that name is the
    original loaded before; afterwards sys.modules is as it was (our utils stays ours)."""
    import utils as our_utils
    (tmp_path / "gru_theano.py").write_text("import theano\nclass GRUTheano:\n    print 'defined'\n")
    (tmp_path / "utils.py").write_text("from gru_theano import GRUTheano\nimport theano.tensor as T\n"
                                       "def load_model_parameters_theano(path, modelClass=GRUTheano):\n"
                                       "    print path\n")
    originals = compare.Originals()
    with theano_compat.installed():
        model = originals.load(str(tmp_path / "gru_theano.py"))
        loaded = originals.load(str(tmp_path / "utils.py"), {"gru_theano": model})
    assert loaded.GRUTheano is model.GRUTheano
    assert "gru_theano" not in sys.modules and sys.modules["utils"] is our_utils
    assert model.__name__.startswith("_original_") and loaded.__name__.startswith("_original_")
    assert sorted(os.listdir(tmp_path)) == ["gru_theano.py", "utils.py"]


@pytest.fixture(scope="module")
def equal_run(tmp_path_factory):
    """compare.py --quick --train 3 --save on a user folder whose module computes what ours does, with a
    trained file in the original format; the folder's files before and after, bytecode writing on."""
    tmp = tmp_path_factory.mktemp("equal")
    folder = user_folder(tmp)
    rng = np.random.RandomState(8)
    os.mkdir(folder / "data")
    np.savez(folder / "data" / "trained-model-theano.npz",
             U=rng.uniform(-1, 1, (HIDDEN_DIM, WORD_DIM)).astype(np.float32),
             V=rng.uniform(-1, 1, (WORD_DIM, HIDDEN_DIM)).astype(np.float32),
             W=rng.uniform(-0.5, 0.5, (HIDDEN_DIM, HIDDEN_DIM)).astype(np.float32))
    before = snapshot(folder)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, False
    try:
        status, out, err = run_compare(folder, "--quick", "--train", 3, "--save", tmp / "result.md")
    finally:
        sys.dont_write_bytecode = writes
    return status, out, err, (tmp / "result.md").read_text(), before, snapshot(folder)


def test_an_equal_module_is_reported_equal(equal_run):
    status, out, err, saved, _, _ = equal_run
    assert status == 0, out + err
    assert "All " in out and "checks agree" in out and "**NO**" not in out
    for check in ("initial U", "probabilities", "predicted words", "gradient dW", "W after 3 sgd_steps",
                  "--train: calculate_loss after 3 of 3 steps", "median sgd_step"):
        assert f"| {check}" in out, check
    assert out == saved + "\n"              # the file holds the table printed
    for named in ("Command: `python compare.py", "Machine:", f"Python {sys.version.split()[0]}", backend.describe()):
        assert named in saved


def test_the_trained_file_is_compared(equal_run):
    out = equal_run[1]
    rows = [line for line in out.splitlines() if line.startswith("| RNNTheano (trained)")]
    assert any("| loaded W |" in r and "| exactly equal | equal | yes |" in r for r in rows), rows
    assert any("calculate_loss" in r and r.endswith("| yes |") for r in rows), rows
    assert any("predicted words" in r and r.endswith("| yes |") for r in rows), rows


def test_the_users_folder_is_left_as_it_was(equal_run):
    _, _, _, _, before, after = equal_run
    assert after == before


@pytest.mark.parametrize("planted, change, named", [
    ("a bias", ("T.tanh(U[:, word] + W.dot(previous))", "T.tanh(U[:, word] + W.dot(previous) + 0.01)"),
     "probabilities"),
    ("a nonlinearity", ("state = T.tanh(", "state = T.nnet.sigmoid("), "probabilities"),
    ("an initial range", ("in_range = np.sqrt(1. / word_dim)", "in_range = np.sqrt(2. / word_dim)"), "initial U"),
])
def test_a_planted_difference_is_reported_and_named(tmp_path, planted, change, named):
    status, out, err = run_compare(user_folder(tmp_path, change=change), "--quick")
    assert status == 1, out + err
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith(f"DIFFERS: RNNTheano: {named}"), verdict


@pytest.mark.parametrize("case", ["no such path", "no model file", "missing theano name", "theano module",
                                  "bad float", "negative train", "save folder"])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, case):
    argv, expect = {
        "no such path": (lambda: [tmp_path / "nowhere"], "no such file or folder"),
        "no model file": (lambda: [tmp_path], "a folder with no original model file"),
        "missing theano name": (lambda: [user_folder(tmp_path, change=("T.tanh(U", "T.nnet.relu(U"))],
                                "theano.tensor.nnet.relu"),
        "theano module": (lambda: [user_folder(tmp_path, change=("import theano\n", "import theano.sandbox\n"))],
                          "theano.sandbox"),
        "bad float": (lambda: [IDIOM, "--float", "16"], "--float"),
        "negative train": (lambda: [IDIOM, "--train", "-1"], "--train"),
        "save folder": (lambda: [IDIOM, "--save", tmp_path / "no" / "file.md"], "no such folder"),
    }[case]
    argv = argv()
    status, out, err = run_compare(*argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expect in err, err
