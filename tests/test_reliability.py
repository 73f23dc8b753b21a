"""Nothing lost, nothing crashes: bad input, divergence, signals, kill -9 during a write, exact resume."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from test_train import COMMENTS, run, TRAIN
from utils import load_data, read_arrays, state_path

PY = sys.executable


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    csv = folder / "comments.csv"
    csv.write_text('"body"\n' + "\n".join(f'"{c}"' for c in COMMENTS * 3) + "\n", encoding="utf-8")
    files = {"csv": str(csv)}
    for name, content in [("empty.csv", b""), ("header.csv", b'"body","score"\n'),
                          ("binary.csv", b"PK\x03\x04\x00\x00\x13\x00binary\x00data"),
                          ("blank.csv", b'"body","score"\n"",1\n"  ",2\n')]:
        (folder / name).write_bytes(content)
        files[name] = str(folder / name)
    V, H = len(load_data(str(csv), 30)[3]), 6
    good = {"U": np.zeros((H, V)), "V": np.zeros((V, H)), "W": np.zeros((H, H))}
    for name, arrays in [("missing.npz", {"U": good["U"], "V": good["V"]}),
                         ("shape.npz", dict(good, W=np.zeros((2, 2)))),
                         ("dtype.npz", dict(good, W=np.zeros((H, H), dtype=np.int64))),
                         ("pickled.npz", dict(good, W=np.array([None, {"x": 1}], dtype=object))),
                         ("othervocab.npz", {"U": np.zeros((H, V + 3)), "V": np.zeros((V + 3, H)),
                                             "W": np.zeros((H, H))}),
                         ("good.npz", good)]:
        with open(folder / name, "wb") as f:
            np.savez(f, **arrays)
        files[name] = str(folder / name)
    truncated = folder / "truncated.npz"
    truncated.write_bytes(open(files["good.npz"], "rb").read()[:200])
    files["truncated.npz"] = str(truncated)
    files["folder"] = str(folder)
    return files


def model_file(name):
    return lambda f: ["--input-data-file", f["csv"], "--vocabulary-size", "30", "--model", "rnn",
                      "--model-file", f[name], "--nepoch", "0"], {}, name


BAD_INPUTS = {
    "missing data file": (lambda f: ["--input-data-file", f["folder"] + "/nope.csv"], {}, "no such file"),
    "empty file": (lambda f: ["--input-data-file", f["empty.csv"]], {}, "empty"),
    "only a header": (lambda f: ["--input-data-file", f["header.csv"]], {}, "no data rows"),
    "binary file": (lambda f: ["--input-data-file", f["binary.csv"]], {}, "binary"),
    "empty text column": (lambda f: ["--input-data-file", f["blank.csv"]], {}, "empty in every row"),
    "a folder": (lambda f: ["--input-data-file", f["folder"]], {}, "directory"),
    "vocabulary < 3": (lambda f: ["--input-data-file", f["csv"]], {"VOCABULARY_SIZE": "2"}, "at least 3"),
    "non-numeric env": (lambda f: [], {"NEPOCH": "many"}, "NEPOCH must be an integer"),
    "negative flag": (lambda f: ["--hidden-dim", "-4"], {}, "--hidden-dim must be at least 1"),
    "not a number": (lambda f: ["--learning-rate", "fast"], {}, "--learning-rate must be a number"),
    "negative rate": (lambda f: [], {"LEARNING_RATE": "-0.1"}, "positive"),
    "unknown model": (lambda f: ["--model", "transformer"], {}, "--model must be one of"),
    "unknown flag": (lambda f: ["--learning_rate", "0.1"], {}, "unrecognized arguments"),
    "npz missing keys": model_file("missing.npz"),
    "npz wrong shape": model_file("shape.npz"),
    "npz wrong dtype": model_file("dtype.npz"),
    "npz pickled objects": model_file("pickled.npz"),
    "npz truncated": model_file("truncated.npz"),
    "npz other vocabulary": model_file("othervocab.npz"),
    "unwritable output": (lambda f: ["--input-data-file", f["csv"], "--model-output-file", "/proc/nope/m.npz"], {},
                          "/proc/nope"),
}
EXPECTED = {"npz missing keys": "missing W", "npz wrong shape": "W has shape (2, 2)", "npz wrong dtype": "dtype",
            "npz pickled objects": "pickled", "npz truncated": "not a readable .npz",
            "npz other vocabulary": "vocabulary of 33 words"}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_one_line_and_no_traceback(case, data):
    make_args, env, expected = BAD_INPUTS[case]
    args = make_args(data)
    result = run(args, env=env, cwd=data["folder"])
    assert result.returncode == 2, (result.returncode, result.stderr[-1500:])
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert EXPECTED.get(case, expected) in lines[0], lines[0]
    named = [a for a in args if a.endswith((".csv", ".npz")) or a == data["folder"]]
    if named and case not in ("vocabulary < 3", "unwritable output"):   # the message names the bad file
        assert os.path.basename(named[-1]) in lines[0]


def train_args(data, out, nepoch, *more):
    return ["--input-data-file", data["csv"], "--vocabulary-size", "30", "--model", "rnn", "--hidden-dim", "8",
            "--batch-size", "4", "--optimizer", "adam", "--nepoch", str(nepoch), "--print-every", "24",
            "--sample", "1", "--no-progress", "--model-output-file", out] + list(more)


def final_parameters(path):
    arrays = read_arrays(path)
    return {k: v for k, v in arrays.items()}


def counters(path):
    """(epochs finished, sentences seen) in a run's training state."""
    epoch, _, seen, _ = (int(v) for v in read_arrays(state_path(path))["counters"])
    return epoch, seen


@pytest.fixture(scope="module")
def sentences(data):
    return len(load_data(data["csv"], 30)[0])


@pytest.fixture(scope="module")
def straight_run(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("straight") / "m.npz")
    result = run(train_args(data, out, 30))
    assert result.returncode == 0, result.stderr[-2000:]
    return final_parameters(out)


def assert_same(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key      # bit for bit


def resumed_from(output):
    """(sentences, epoch) of train.py's "Resuming after N sentences (epoch E)" line."""
    found = re.search(r"^Resuming after (\d+) sentences \(epoch (\d+)\)", output, re.M)
    assert found, output[-1500:]
    return int(found.group(1)), int(found.group(2))


def test_stopping_after_some_epochs_and_resuming_is_exact(data, straight_run, sentences, tmp_path):
    out = str(tmp_path / "m.npz")
    first = run(train_args(data, out, 11))
    assert first.returncode == 0, first.stderr[-2000:]
    assert counters(out) == (11, 11 * sentences)
    resumed = run(train_args(data, out, 30, "--model-file", out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed_from(resumed.stdout) == (11 * sentences, 12)
    assert counters(out) == (30, 30 * sentences)          # 19 more epochs, not 30
    assert_same(final_parameters(out), straight_run)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_a_checkpoint_that_resumes_exactly(data, straight_run, sentences, tmp_path, sig, code):
    out = str(tmp_path / "m.npz")
    process = subprocess.Popen([PY, TRAIN] + train_args(data, out, 30), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    for line in process.stdout:                 # wait until training runs, then interrupt it mid-way
        if line.startswith("Loss:"):
            process.send_signal(sig)
            break
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr and f"{signal.Signals(sig).name}: saved" in stderr
    assert os.path.exists(state_path(out))
    resumed = run(train_args(data, out, 30, "--model-file", out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    seen, epoch = resumed_from(resumed.stdout)
    assert seen % sentences and epoch == seen // sentences + 1       # stopped and resumed mid-epoch
    assert counters(out) == (30, 30 * sentences)
    assert_same(final_parameters(out), straight_run)


def checkpoint_files(out):
    return {path: open(path, "rb").read() for path in (out, state_path(out))}


@pytest.mark.parametrize("branch, how, message", [
    ("loss", ["--optimizer", "sgd", "--learning-rate", "1e38", "--print-every", "24"], "the loss became"),
    # Adam's step is lr times a ratio m/sqrt(v) that exceeds 1 somewhere, so a rate at float32's largest
    # value overflows some parameters to infinity; the checkpoint right after that step must refuse them
    ("parameters", ["--optimizer", "adam", "--learning-rate", "3.4e38", "--print-every", "4"],
     "the parameters became NaN or infinite"),
])
def test_divergence_stops_and_keeps_the_last_good_checkpoint(data, tmp_path, branch, how, message):
    out = str(tmp_path / "m.npz")
    ok = run(train_args(data, out, 2))
    assert ok.returncode == 0
    before = checkpoint_files(out)
    result = run(train_args(data, out, 6, "--model-file", out, "--clip", "0", *how))
    assert result.returncode == 3, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "diverged" in lines[0] and "Traceback" not in result.stderr
    assert message in lines[0], lines[0]
    assert checkpoint_files(out) == before                  # the model file and its training state, untouched


@pytest.mark.parametrize("key", ["param:W", "slot:adam_m_W", "learning_rate"])
def test_a_nan_in_the_training_state_is_refused_in_one_line(data, tmp_path, key):
    out = str(tmp_path / "m.npz")
    assert run(train_args(data, out, 1)).returncode == 0
    arrays = read_arrays(state_path(out))
    arrays[key] = np.full_like(arrays[key], np.nan, dtype=np.float64) if key == "learning_rate" else \
        np.where(np.arange(arrays[key].size).reshape(arrays[key].shape) == 3, np.nan, arrays[key])
    with open(state_path(out), "wb") as f:
        np.savez(f, **arrays)
    result = run(train_args(data, out, 2, "--model-file", out))
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert os.path.basename(state_path(out)) in lines[0] and (key in lines[0] or "NaN" in lines[0]), lines[0]


@pytest.fixture(scope="module")
def two_checkpoints(data, tmp_path_factory):
    """The files of a run's checkpoints after epochs 11 and 12."""
    out = str(tmp_path_factory.mktemp("pairs") / "m.npz")
    assert run(train_args(data, out, 11)).returncode == 0
    older = checkpoint_files(out)
    assert run(train_args(data, out, 12, "--model-file", out)).returncode == 0
    return {"older": {os.path.basename(p): v for p, v in older.items()},
            "newer": {os.path.basename(p): v for p, v in checkpoint_files(out).items()}}


@pytest.mark.parametrize("stale", ["m.npz", "m.state.npz"])
def test_a_kill_between_the_two_checkpoint_files_resumes_from_the_state(data, straight_run, two_checkpoints,
                                                                       tmp_path, stale):
    """save_checkpoint writes the .state.npz (which holds the parameters too), then the model file: a kill
    between the two leaves a model file one checkpoint older than its state.  Either mix of two checkpoints
    resumes from the training state's parameters, so the run still ends where the straight run ends."""
    for name, content in two_checkpoints["newer"].items():
        (tmp_path / name).write_bytes(two_checkpoints["older" if name == stale else "newer"][name])
    out = str(tmp_path / "m.npz")
    resumed = run(train_args(data, out, 30, "--model-file", out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same(final_parameters(out), straight_run)


def test_kill_9_during_a_checkpoint_write_leaves_a_complete_one(data, tmp_path):
    """A real train.py, checkpointing after every batch, is killed the moment a temporary checkpoint file
    exists (retried until one is left behind, which proves the kill landed mid-write).  What is on disk then
    loads; the resumed run ignores the leftover, removes it, and trains on."""
    out = str(tmp_path / "m.npz")
    args = train_args(data, out, 400, "--hidden-dim", "400", "--print-every", "4", "--sample", "0")
    leftovers = []
    for attempt in range(8):
        process = subprocess.Popen([PY, TRAIN] + args + (["--model-file", out] if os.path.exists(out) else []),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if any(n.startswith(".tmp-") and n.endswith(".npz") for n in os.listdir(tmp_path)) and os.path.exists(out):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.0005)
        process.wait()
        assert process.returncode == -signal.SIGKILL, process.stderr.read()[-2000:]
        leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".tmp-") and n.endswith(".npz")]
        if leftovers:
            break
    assert leftovers, "no kill landed during a write in 8 attempts"
    read_arrays(out), read_arrays(state_path(out))              # complete files, both
    epoch, _ = counters(out)
    resumed = run(train_args(data, out, epoch + 1, "--hidden-dim", "400", "--model-file", out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming after" in resumed.stdout
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    assert counters(out)[0] == epoch + 1
