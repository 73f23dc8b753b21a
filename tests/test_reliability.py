"""Nothing lost, nothing crashes: bad input, divergence, signals, kill -9 during a write, exact resume."""
import os
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


def test_stopping_after_some_epochs_and_resuming_is_exact(data, straight_run, tmp_path):
    out = str(tmp_path / "m.npz")
    first = run(train_args(data, out, 11))
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run(train_args(data, out, 30, "--model-file", out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming after" in resumed.stdout
    assert_same(final_parameters(out), straight_run)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_a_checkpoint_that_resumes_exactly(data, straight_run, tmp_path, sig, code):
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
    assert_same(final_parameters(out), straight_run)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(data, tmp_path):
    out = str(tmp_path / "m.npz")
    ok = run(train_args(data, out, 2))
    assert ok.returncode == 0
    before = final_parameters(out)
    result = run(train_args(data, out, 6, "--model-file", out, "--optimizer", "sgd", "--learning-rate", "1e38",
                            "--clip", "0"))
    assert result.returncode == 3, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "diverged" in lines[0] and "Traceback" not in result.stderr
    after = final_parameters(out)
    assert all(np.isfinite(v).all() for v in after.values())
    assert_same(after, before)


WRITER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from utils import save_arrays
big = {{k: np.full((400, 1000), float(i)) for i, k in enumerate("abcd")}}
i = 0
while True:
    save_arrays({path!r}, {{k: v + i for k, v in big.items()}})
    i += 1
"""


def test_kill_9_while_writing_leaves_a_complete_checkpoint(tmp_path):
    path = str(tmp_path / "ckpt.npz")
    root = os.path.dirname(TRAIN)
    rng = np.random.RandomState(0)
    for attempt in range(6):
        writer = subprocess.Popen([PY, "-c", WRITER.format(root=root, path=path)])
        deadline = time.monotonic() + 120          # a loaded machine may take long to import numpy
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.5))            # after the first complete write, anywhere in a later one
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        arrays = read_arrays(path)
        i = arrays["a"][0, 0]
        for k, offset in zip("abcd", range(4)):
            assert np.all(arrays[k] == i + offset), "a torn checkpoint"
