"""The JAX backend (backend.use_jax) against the C backend, on the CPU: every cell gives the same
probabilities, losses, gradients and parameter updates; two (faked) devices give what one gives; a
checkpoint moves between the backends both ways; train.py --backend jax trains and samples.  The cases
share out the truncation modes and the optimizers between them, each compile being seconds."""
import importlib.util

import numpy as np
import pytest

import backend
from cwrnn_aesara import CWRNNAesara
from dglstm_aesara import DGLSTMAesara
from errors import InputError
from gru_aesara import GRUAesara
from lstm_aesara import LSTMAesara
from rnn_aesara import RNNAesara
from test_train import losses, run, small_csv  # noqa: F401  (a fixture)
from training import TrainingState
from utils import load_checkpoint, load_data, load_model_parameters_aesara, save_checkpoint

HAS_JAX = backend.NAME == "pytensor" and importlib.util.find_spec("jax") is not None
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="the JAX backend runs on PyTensor (Python 3.12+) with jax")
V, H = 25, 6

# cell: class, options, optimizer, (truncation, bptt_truncate)
CASES = {
    "rnn": (RNNAesara, {}, "sgd", ("theano", 3)),
    "lstm": (LSTMAesara, {"layers": 2}, "rmsprop", ("bptt", 2)),
    "gru": (GRUAesara, {}, "adam", ("theano", -1)),
    "peephole": (LSTMAesara, {"peephole": True}, "sgd", ("bptt", 3)),
    "cifg": (LSTMAesara, {"coupled": True}, "adam", ("theano", 2)),
    "dglstm": (DGLSTMAesara, {}, "rmsprop", ("theano", -1)),
    "cwrnn": (CWRNNAesara, {"periods": (1, 2)}, "adam", ("bptt", 2)),
}
X = np.random.RandomState(0).randint(0, V, (6, 4)).astype(np.int32)
Y = np.random.RandomState(1).randint(0, V, (6, 4)).astype(np.int32)
LENGTHS = np.int32([6, 3, 5, 1])          # a masked batch: padding past each length


def build(compiler, cell, seed=5, devices=1, **overrides):
    """The cell's model for that compiler, with the same parameters for the same seed."""
    cls, options, _, (truncation, k) = CASES[cell]
    with backend.compiling(compiler):
        if compiler == "jax":
            backend.use_jax(devices)
        np.random.seed(seed)
        return cls(V, hidden_dim=H, bptt_truncate=k, truncation=truncation, **{**options, **overrides})


def close(ours, theirs, rtol, what):
    np.testing.assert_allclose(np.asarray(theirs), np.asarray(ours), rtol=rtol, atol=rtol, err_msg=what)


def values(model):
    return {v.name: np.asarray(v.get_value()) for v in model.params + model.slots}


@needs_jax
@pytest.mark.parametrize("cell", CASES)
def test_every_cell_gives_the_c_backends_numbers(cell):
    """float64 to 1e-12: one sentence's probabilities, loss and (truncated) gradients, a masked batch's
    loss, then three clipped updates with the case's optimizer: their losses, parameters and slots."""
    c, j = build("c", cell), build("jax", cell)
    x, y = X[:5, 0], Y[:5, 0]                   # 5 steps: the JAX backend pads them to 8
    close(c.forward_propagation(x), j.forward_propagation(x), 1e-12, "probabilities")
    close(c.ce_error(x, y), j.ce_error(x, y), 1e-12, "sentence loss")
    for p, a, b in zip(c.params, c.bptt(x, y), j.bptt(x, y)):
        close(a, b, 1e-12, f"gradient of {p.name}")
    close(c.batch_loss(X, Y, LENGTHS), j.batch_loss(X, Y, LENGTHS), 1e-12, "batch loss")
    optimizer = CASES[cell][2]
    for step in range(3):
        costs = [m.train_batch(X, Y, LENGTHS, 0.05, optimizer, clip=1.0) for m in (c, j)]
        close(*costs, 1e-12, f"loss at step {step}")
    theirs = values(j)
    assert set(theirs) == set(values(c)) and len(theirs) > len(c.params) * (optimizer != "sgd")
    for name, value in values(c).items():
        close(value, theirs[name], 1e-12, name)


@needs_jax
@pytest.mark.parametrize("cell", ["cwrnn"])
def test_streams_carry_the_same_states_and_clock(cell):
    """Three windows of a continuous stream, the states and the time index carried: the same losses,
    final states and parameters (the clockwork RNN's modules fire by the window's start)."""
    c, j = build("c", cell), build("jax", cell)
    c.bptt_truncate = j.bptt_truncate = -1
    stream = np.random.RandomState(2).randint(0, V, (10, 4)).astype(np.int32)
    states = {c: None, j: None}
    for start in (0, 3, 6):
        costs = []
        for m in (c, j):
            cost, states[m] = m.train_stream(stream[start:start + 3], stream[start + 1:start + 4], states[m], start,
                                             0.1, "sgd", clip=1.0)
            costs.append(cost)
        close(*costs, 1e-12, f"window at {start}")
        for a, b in zip(states[c], states[j]):
            close(a, b, 1e-12, f"states after the window at {start}")
    for name, value in values(c).items():
        close(value, values(j)[name], 1e-12, name)


@needs_jax
def test_float32_agrees_to_1e_5():
    backend.set_float(32)
    try:
        c, j = build("c", "lstm"), build("jax", "lstm")
        for step in range(3):
            costs = [m.train_batch(X, Y, LENGTHS, 0.01, "adam", clip=5.0) for m in (c, j)]
            close(*costs, 1e-5, f"loss at step {step}")
        assert j.params[0].get_value(borrow=True).dtype == np.float32
        for name, value in values(c).items():
            close(value, values(j)[name], 1e-5, name)
    finally:
        backend.set_float(64)


@needs_jax
def test_two_devices_give_what_one_gives():
    """Data parallel over 2 faked CPU devices (conftest: XLA_FLAGS): 5 batch steps end in the same
    parameters as on one device, a batch of 3 sentences (padded with an empty one for 2 devices) among
    them; the parameters stay on the devices, replicated."""
    import jax
    assert len(jax.devices()) >= 2, "conftest.py fakes 2 CPU devices"
    batches = [(X, Y, LENGTHS)] * 4 + [(X[:, :3], Y[:, :3], LENGTHS[:3])]
    ends = {}
    for devices in (1, 2):
        model = build("jax", "lstm", devices=devices)
        for batch in batches:
            model.train_batch(*batch, 0.05, "adam", clip=1.0)
        ends[devices] = values(model)
        value = model.params[0].get_value(borrow=True)
        assert isinstance(value, jax.Array) and len(value.sharding.device_set) == devices
    for name, value in ends[1].items():
        close(value, ends[2][name], 1e-12, name)
    with pytest.raises(InputError, match="cannot be split over 2 devices"):
        model.train_stream(X[:, :3], Y[:, :3], None, 0, 0.1)
    with pytest.raises(InputError, match=f"token id {V} is outside the vocabulary"):     # XLA would clamp it
        model.train_batch(X, Y + (Y == Y.max()) * (V - Y.max()), LENGTHS, 0.05)


@needs_jax
@pytest.mark.parametrize("first", ["c", "jax"])
def test_a_checkpoint_moves_between_the_backends(first, tmp_path):
    """Two Adam steps under one backend, a checkpoint, then the other backend loads it exactly and the
    next two steps agree with the first backend's own."""
    second = {"c": "jax", "jax": "c"}[first]
    a, b = build(first, "cifg"), build(second, "cifg", seed=99)
    state = TrainingState(0.05)
    for _ in range(2):
        a.train_batch(X, Y, LENGTHS, 0.05, "adam")
    path = str(tmp_path / "cifg.npz")
    save_checkpoint(path, a, state, [f"w{i}" for i in range(V)], {})
    load_checkpoint(path, b)
    saved = values(a)
    for name, value in values(b).items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)
    for _ in range(2):
        costs = [m.train_batch(X, Y, LENGTHS, 0.05, "adam") for m in (a, b)]
        close(*costs, 1e-12, "loss after the move")
    for name, value in values(a).items():
        close(value, values(b)[name], 1e-12, name)


@needs_jax
def test_train_py_with_the_jax_backend_trains_and_samples(small_csv, tmp_path):  # noqa: F811
    """The tutorial's habit: floatX from THEANO_FLAGS (float64 here), --backend jax, batches."""
    out = str(tmp_path / "lstm.npz")
    result = run(["--backend", "jax", "--model", "lstm", "--input-data-file", small_csv, "--vocabulary-size", "40",
                  "--hidden-dim", "8", "--nepoch", "3", "--batch-size", "4", "--sample", "2",
                  "--print-every", str(len(load_data(small_csv, 40)[0])),
                  "--no-progress", "--model-output-file", out], env={"THEANO_FLAGS": "mode=FAST_RUN,floatX=float64"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "float64, pytensor" in result.stdout and "via JAX" in result.stdout
    reported = losses(result.stdout)
    assert len(reported) == 3 and reported[-1] < reported[0]
    assert result.stdout.split("Samples:\n")[1].count("\n") == 2
    model = load_model_parameters_aesara(out, LSTMAesara)
    assert (model.word_dim, model.hidden_dim) == (40, 8)


def test_a_gpu_that_is_not_there_is_one_line(small_csv):  # noqa: F811
    """device=cuda from the tutorial's THEANO_FLAGS: where there is no GPU (or no JAX), one clear line."""
    result = run(["--input-data-file", small_csv, "--nepoch", "0", "--sample", "0"],
                 env={"THEANO_FLAGS": "mode=FAST_RUN,device=cuda,floatX=float32"})
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert ("asks for a GPU" if HAS_JAX else "needs PyTensor") in result.stderr


@pytest.mark.skipif(HAS_JAX, reason="Aesara's side: the JAX backend is refused in one line")
def test_the_jax_backend_is_refused_in_one_line_where_it_cannot_work():
    with pytest.raises(InputError, match="needs PyTensor|needs jax"):
        with backend.compiling(backend.COMPILER):
            backend.use_jax()
