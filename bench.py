#!/usr/bin/env python3
"""Training-step speed: our models against the same models built the way the 2015 code was, and
against PyTorch (eager, CPU) when it is importable.  Prints one markdown table; ratios are measured in
the same run.  float32, token ids drawn at random (speed does not depend on the data).

    python bench.py                              # this interpreter's backend (Aesara on Python 3.11)
    python bench.py --also .venv312/bin/python   # and the same rows on another interpreter (PyTensor)
    python bench.py --quick                      # fewer repetitions

PyTorch is optional: `pip install torch==2.13.0` (the CPU build) into this environment adds its column.
The baseline ("original structure") is each model's equations written the way the tutorials' code was:
everything inside one scan (input lookup, one product per gate, softmax), Theano's truncate_gradient,
stock Aesara ops and dense gradients for every parameter.
"""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

import backend

backend.set_float(32)
from backend import at, function, scan, softmax  # noqa: E402
import optimizers  # noqa: E402
from gru_aesara import GRUAesara  # noqa: E402
from lstm_aesara import LSTMAesara  # noqa: E402
from recurrent import hard_sigmoid  # noqa: E402
from rnn_aesara import RNNAesara  # noqa: E402
from timing import median_ms  # noqa: E402

# (label, class, word_dim, hidden_dim, bptt_truncate, optimizer): the tutorials' own configurations
SENTENCE_CASES = [
    ("RNN 8000/100, bptt_truncate 4, SGD", RNNAesara, 8000, 100, 4, "sgd"),
    ("LSTM 8000/100, bptt_truncate 4, SGD", LSTMAesara, 8000, 100, 4, "sgd"),
    ("GRU 2x128, vocabulary 2000, full BPTT, RMSprop", GRUAesara, 2000, 128, -1, "rmsprop"),
    ("RNN 8000/100, full BPTT, SGD", RNNAesara, 8000, 100, -1, "sgd"),
    ("LSTM 8000/100, full BPTT, SGD", LSTMAesara, 8000, 100, -1, "sgd"),
]
TORCH_KIND = {RNNAesara: "rnn", LSTMAesara: "lstm", GRUAesara: "gru"}
LENGTH = 45          # words in the timed sentence (DESIGN.md section 5)
PTB_SMALL = (10000, 200, 2, 20, 20)     # vocabulary, hidden, layers, batch, steps (Zaremba et al.'s small model)


def original_structure_step(model, optimizer):
    """The model's equations laid out as the 2015 code did, on the model's own parameters: one scan
    whose step looks up U[:, x_t], multiplies each gate's matrices separately with the state vector and
    takes the softmax; Theano's truncate_gradient; stock ops and dense gradients."""
    P = {p.name: p for p in model.params}
    sigmoid, tanh = at.sigmoid, at.tanh
    out = lambda s, bias=0: softmax((P["V"].dot(s) + bias)[None, :])[0]

    def rnn(x_t, s):
        s = tanh(P["U"][:, x_t] + P["W"].dot(s))
        return out(s), s

    def lstm(x_t, c, s):
        gate = {k: P["U_" + k][:, x_t] + P["W_" + k].dot(s) + P["b_" + k] for k in "ifog"}
        c = sigmoid(gate["f"]) * c + sigmoid(gate["i"]) * tanh(gate["g"])
        s = sigmoid(gate["o"]) * tanh(c)
        return out(s, P["b_V"]), c, s

    def gru(x_t, s1, s2):
        U, W, b = P["U"], P["W"], P["b"]

        def layer(r0, x, s):
            z = hard_sigmoid(U[r0].dot(x) + W[r0].dot(s) + b[r0])
            r = hard_sigmoid(U[r0 + 1].dot(x) + W[r0 + 1].dot(s) + b[r0 + 1])
            return (1 - z) * tanh(U[r0 + 2].dot(x) + W[r0 + 2].dot(s * r) + b[r0 + 2]) + z * s
        s1 = layer(0, P["E"][:, x_t], s1)
        s2 = layer(3, s1, s2)
        return out(s2, P["c"]), s1, s2

    step = {RNNAesara: rnn, LSTMAesara: lstm, GRUAesara: gru}[type(model)]
    x, y, lr = at.ivector("x"), at.ivector("y"), at.scalar("learning_rate")
    zeros = [at.zeros(model.hidden_dim) for _ in model.state_names]
    probs = scan(step, sequences=x, outputs_info=[None] + zeros, truncate_gradient=model.bptt_truncate)[0]
    cost = -at.sum(at.log(probs[at.arange(y.shape[0]), y]))
    extra, updates = optimizers.updates(model, optimizer, cost, lr)
    f = function([x, y, lr] + extra, [], updates=updates)
    return lambda xs, ys: f(xs, ys, 0.001, *[0.9] * len(extra))


def sentence_rows(repeats, torch_times):
    rng = np.random.RandomState(0)
    rows = []
    for label, cls, V, H, k, optimizer in SENTENCE_CASES:
        x, y = (rng.randint(0, V, LENGTH).astype(np.int32) for _ in range(2))
        np.random.seed(0)
        ours = cls(V, hidden_dim=H, bptt_truncate=k)
        step = (lambda: ours.sgd_step(x, y, 0.001))
        start = time.perf_counter()
        step()                                           # compiles (or loads from Aesara's cache)
        compile_s = time.perf_counter() - start
        row = {"case": label, "ours_ms": median_ms(step, repeats), "compile_s": compile_s}
        original = original_structure_step(cls(V, hidden_dim=H, bptt_truncate=k), optimizer)
        row["original_ms"] = median_ms(lambda: original(x, y), max(5, repeats // 3))
        if torch_times:
            row["torch_ms"] = torch_times["sentences"][len(rows)]
        rows.append(row)
        print(f"  {label}: {row}", file=sys.stderr, flush=True)
    return rows


def ptb_row(repeats, torch_times):
    """Zaremba et al.'s small PTB model (2x200 LSTM, 10k words, batch 20 x 20 steps, SGD, clip 5)."""
    V, H, layers, B, T = PTB_SMALL
    rng = np.random.RandomState(1)
    X, Y = (rng.randint(0, V, (T, B)).astype(np.int32) for _ in range(2))
    lengths = np.full(B, T, np.int32)
    np.random.seed(0)
    model = LSTMAesara(V, hidden_dim=H, bptt_truncate=-1, layers=layers)
    step = (lambda: model.train_batch(X, Y, lengths, 1.0, clip=5.0))
    start = time.perf_counter()
    step()
    row = {"case": "PTB small: LSTM 2x200, vocabulary 10000, batch 20x20, SGD, clip 5",
           "compile_s": time.perf_counter() - start, "ours_ms": median_ms(step, repeats)}
    if torch_times:
        row["torch_ms"] = torch_times["ptb"]
    row["tokens"] = B * T
    print(f"  PTB: {row}", file=sys.stderr, flush=True)
    return row


def pytorch_times(repeats):
    """PyTorch's times for the same cases, measured in a process of its own: beside Aesara's OpenBLAS
    threads PyTorch's compete for the two cores (its RNN step: 2.4 ms alone, 4.5 ms in our process).
    None when PyTorch is not installed."""
    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not importable here: no PyTorch column (pip install torch==2.13.0 adds it)",
              file=sys.stderr)
        return None
    cases = [[TORCH_KIND[cls], V, H, k, LENGTH] for _label, cls, V, H, k, _optimizer in SENTENCE_CASES]
    command = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_torch.py"),
               "--json", json.dumps({"sentences": cases, "ptb": PTB_SMALL}), str(repeats)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure(repeats, with_torch):
    torch_times = pytorch_times(repeats) if with_torch else None
    return {"backend": f"{backend.NAME} {backend.VERSION}", "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch_times["version"] if torch_times else None,
            "sentences": sentence_rows(repeats, torch_times), "ptb": ptb_row(repeats, torch_times)}


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def table(results):
    lines = ["| configuration | backend | ours ms | original structure ms | PyTorch ms | ours / original "
             "| ours / PyTorch | compile s |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for row in r["sentences"]:
            torch_ms = f"{row['torch_ms']:.2f}" if row.get("torch_ms") else "-"
            lines.append(f"| {row['case']} | {r['backend']} | {row['ours_ms']:.2f} | {row['original_ms']:.2f} | "
                         f"{torch_ms} | "
                         f"{ratio(row['ours_ms'], row['original_ms'])} | {ratio(row['ours_ms'], row.get('torch_ms'))} "
                         f"| {row['compile_s']:.0f} |")
    lines += ["", "| configuration | backend | ours ms/step | ours tokens/s | PyTorch ms/step | PyTorch tokens/s "
                  "| ours / PyTorch tokens/s | compile s |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        p = r["ptb"]
        ours_tps = 1000 * p["tokens"] / p["ours_ms"]
        torch_ms = p.get("torch_ms")
        torch_tps = 1000 * p["tokens"] / torch_ms if torch_ms else None
        lines.append(f"| {p['case']} | {r['backend']} | {p['ours_ms']:.1f} | {ours_tps:,.0f} | "
                     f"{f'{torch_ms:.1f}' if torch_ms else '-'} | {f'{torch_tps:,.0f}' if torch_tps else '-'} | "
                     f"{ratio(ours_tps, torch_tps)} | {p['compile_s']:.0f} |")
    return "\n".join(lines)


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument("--also", metavar="PYTHON", help="also run the bench with this interpreter (another backend)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is importable")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (used by --also)")
    args = parser.parse_args()
    repeats = 10 if args.quick else 30
    results = [measure(repeats, not args.no_torch)]
    if args.json:
        print(json.dumps(results[0]))
        return
    if args.also:
        command = [args.also, os.path.abspath(__file__), "--json", "--no-torch"] + (["--quick"] if args.quick else [])
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    print(f"Machine: {machine()}; Python {', '.join(r['python'] + ' (' + r['backend'] + ')' for r in results)}; "
          f"numpy {results[0]['numpy']}; PyTorch {results[0]['torch'] or 'not installed'}; float32; "
          f"{LENGTH}-word sentences\n")
    print(table(results))


if __name__ == "__main__":
    main()
