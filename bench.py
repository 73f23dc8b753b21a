#!/usr/bin/env python3
"""Training-step speed: our models against the same models built the way the 2015 code was, and
against PyTorch (eager, CPU) when it is importable.  Prints one markdown table; ratios are measured in
the same run.  float32, token ids drawn at random (speed does not depend on the data).

    python bench.py                              # this interpreter's backend (Aesara on Python 3.11)
    python bench.py --also .venv312/bin/python   # and the same rows on another interpreter (PyTensor)
    python bench.py --quick                      # fewer repetitions
    python bench.py --ptb-only                   # only the PTB row: paired with PyTorch, and its bound
    python bench.py --backend jax                # PyTensor's JAX backend beside its C backend, same run
    python bench.py --compile                    # the main command's step compiled from an empty cache, then again

PyTorch is optional: `pip install torch==2.13.0` (the CPU build) into this environment adds its column
(or --torch-python names an interpreter that has it).  Every row with a PyTorch counterpart is timed in
alternating blocks beside a PyTorch process, so that the machine's drift falls on both; the PTB row also
beside the bound its matrix products set at the speed this BLAS reaches.
The baseline ("original structure") is each model's equations written the way the tutorials' code was:
everything inside one scan (input lookup, one product per gate, softmax), Theano's truncate_gradient,
stock Aesara ops and dense gradients for every parameter.
"""
import argparse
import functools
import glob
import importlib.util
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import backend

backend.set_float(32)
from backend import at, function, scan, softmax  # noqa: E402
import optimizers  # noqa: E402
import models  # noqa: E402
from lstm_aesara import LSTMAesara  # noqa: E402
from recurrent import hard_sigmoid  # noqa: E402
from timing import WARMUP, machine, median_ms  # noqa: E402

# (label, class, its options, word_dim, hidden_dim, bptt_truncate, optimizer, kind, its registry entry, whether
# bench_torch.py has the PyTorch counterpart `kind`): the registry's rows, the tutorials' own configurations first
SENTENCE_CASES = [(row.label, entry.load(), {**entry.options, **row.options}, row.word_dim, row.hidden_dim,
                   row.bptt_truncate, row.optimizer, row.kind, entry, row.torch) for entry, row in models.bench_rows()]
# each variant's speed target is a ratio to the cell it extends, measured in the same run
BASELINES = {row.kind: row.extends for _, row in models.bench_rows() if row.extends}
LENGTH = 45          # words in the timed sentence (docs/design.md, "Measuring")
PTB_SMALL = (10000, 200, 2, 20, 20)     # vocabulary, hidden, layers, batch, steps (Zaremba et al.'s small model)


def original_structure_step(name, model, optimizer):
    """The equations of the tutorials' model `name` (rnn, lstm or gru) laid out as the 2015 code did, on the model's own parameters: one scan
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

    step = {"rnn": rnn, "lstm": lstm, "gru": gru}[name]     # the tutorials' three
    x, y, lr = at.ivector("x"), at.ivector("y"), at.scalar("learning_rate")
    zeros = [at.zeros(model.hidden_dim) for _ in model.state_names]
    probs = scan(step, sequences=x, outputs_info=[None] + zeros, truncate_gradient=model.bptt_truncate)[0]
    cost = -at.sum(at.log(probs[at.arange(y.shape[0]), y]))
    extra, updates = optimizers.updates(model, optimizer, cost, lr)
    f = function([x, y, lr] + extra, [], updates=updates)
    return lambda xs, ys: f(xs, ys, 0.001, *[0.9] * len(extra))


def sentence_rows(repeats, peer):
    """The per-sentence rows (each paired with PyTorch's step where the peer has it), and each variant's
    time relative to the cell it extends."""
    rng = np.random.RandomState(0)
    rows, full_bptt_steps = [], {}
    for label, cls, options, V, H, k, optimizer, kind, entry, torch in SENTENCE_CASES:
        x, y = (rng.randint(0, V, LENGTH).astype(np.int32) for _ in range(2))
        np.random.seed(0)
        ours = cls(V, hidden_dim=H, bptt_truncate=k, **options)
        step = functools.partial(ours.sgd_step, x, y, 0.001)     # bound now: paired_ratios calls it later
        start = time.perf_counter()
        step()                                           # compiles (or loads from Aesara's cache)
        compile_s = time.perf_counter() - start
        row = {"case": label, "kind": kind, "ours_ms": median_ms(step, repeats), "compile_s": compile_s}
        if k < 0:
            full_bptt_steps[kind] = step
        if not options and entry.tutorial:     # the 2015 code had only the tutorials' models
            original = original_structure_step(entry.name, cls(V, hidden_dim=H, bptt_truncate=k), optimizer)
            row["original_ms"] = median_ms(lambda: original(x, y), max(5, repeats // 3))
        if peer and label in peer.cases:
            row["ours_ms"], row["torch_ms"], over = paired(step, peer, label, repeats, block=5)
            row["ours_over_torch"] = statistics.median(over)
        rows.append(row)
        print(f"  {label}: {row}", file=sys.stderr, flush=True)
    return rows, paired_ratios(full_bptt_steps, repeats)


def paired_ratios(steps, repeats, rounds=5):
    """Each variant's step time over its cell's, timed in alternating rounds so that the drift of a shared
    machine (2x over minutes, seen here) falls on both alike: the median of the rounds' ratios."""
    ratios = {}
    for kind, base in BASELINES.items():
        per_round = [median_ms(steps[kind], repeats) / median_ms(steps[base], repeats) for _ in range(rounds)]
        ratios[kind] = statistics.median(per_round)
        print(f"  {kind} / {base}: {[round(r, 3) for r in per_round]}", file=sys.stderr, flush=True)
    return ratios


def ptb_step():
    """Zaremba et al.'s small PTB model as train.py --preset ptb-small trains it, and as bench_torch.py's
    peer step does: a 200-wide embedding, a 2x200 LSTM, 10k words, a window of 20 streams x 20 steps from
    the states the previous window ended in, SGD, the gradient's norm clipped at 5.  (model, step)."""
    V, H, layers, B, T = PTB_SMALL
    rng = np.random.RandomState(1)
    X, Y = (rng.randint(0, V, (T, B)).astype(np.int32) for _ in range(2))
    np.random.seed(0)
    model = LSTMAesara(V, hidden_dim=H, bptt_truncate=-1, layers=layers, embedding_dim=H)
    carry = [None]

    def step():
        _, carry[0] = model.train_stream(X, Y, carry[0], 0, 1.0, clip=5.0)
    return model, step


def ptb_row(repeats, peer):
    """The PTB step's row: ours paired with PyTorch's where there is a peer, and the bound its matrix
    products set at this BLAS's speed (gemm_bound)."""
    model, step = ptb_step()
    start = time.perf_counter()
    step()
    row = {"case": "PTB small: embedding 200, LSTM 2x200, vocabulary 10000, a window of 20 streams x 20 steps, "
                   "SGD, clip 5",
           "compile_s": time.perf_counter() - start, "tokens": PTB_SMALL[3] * PTB_SMALL[4]}   # streams x steps
    if peer:
        row["ours_ms"], row["torch_ms"], over = paired(step, peer, "ptb", repeats)
        row["torch_over_ours"] = statistics.median(1 / r for r in over)
    else:
        row["ours_ms"] = median_ms(step, repeats)
    row["bound_ms"], row["gemm_gflops"] = gemm_bound()
    print(f"  PTB: {row}", file=sys.stderr, flush=True)
    return row


class Peer:
    """PyTorch's steps in a process of its own (bench_torch.py --serve), each timed on request: the cases
    are {name: bench_torch's case}, built and warmed up at the start."""

    def __init__(self, torch_python, cases):
        self.cases = {name: i for i, name in enumerate(cases)}
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_torch.py")
        self.process = subprocess.Popen([torch_python, script, "--serve", json.dumps(list(cases.values()))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.version = self.process.stdout.readline().strip()

    def ms(self, name, count):
        """The mean ms of `count` steps of the case."""
        self.process.stdin.write(f"{self.cases[name]} {count}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def paired(step, peer, name, repeats, block=3, pause=0.3):
    """Our step and the peer's case `name` timed in alternating blocks of `block` steps, with a pause
    before each block in which the other process's BLAS threads stop spinning.  A shared machine's
    drift (2x within minutes, seen here) then falls on both alike.  (our median ms, PyTorch's median ms,
    each pair of blocks' ratio ours / PyTorch's)."""
    for _ in range(WARMUP):
        step()
    ours, theirs = [], []
    for turn in range(2 * max(10, repeats // block)):
        time.sleep(pause)
        if turn % 2 == (turn // 2) % 2:                   # who goes first alternates from pair to pair
            start = time.perf_counter()
            for _ in range(block):
                step()
            ours.append((time.perf_counter() - start) * 1000.0 / block)
        else:
            theirs.append(peer.ms(name, block))
    return statistics.median(ours), statistics.median(theirs), [o / t for o, t in zip(ours, theirs)]


def window_gflop():
    """The matrix products of one PTB training window, in GFLOP: the output layer's three (logits, the
    hidden states' gradient, the weights' gradient) and, per LSTM layer, the input's and the recurrent
    products, each forward and in its two gradients."""
    V, H, layers, B, T = PTB_SMALL
    tokens = B * T
    output = 3 * 2 * tokens * H * V
    per_layer = 2 * 3 * 2 * tokens * H * 4 * H           # (input + recurrent) x (forward + two gradients)
    return (output + layers * per_layer) / 1e9


def gemm_bound():
    """(ms, GFLOP/s): the window's matrix products (window_gflop) at the speed the linked BLAS reaches on
    the largest of them, the output layer's 400 x 200 x 10000 product, timed through the library."""
    V, H, _layers, B, T = PTB_SMALL
    a, b = at.matrix(dtype="float32"), at.matrix(dtype="float32")
    product = function([a, b], at.dot(a, b))
    rng = np.random.RandomState(2)
    A, W = rng.rand(B * T, H).astype(np.float32), rng.rand(H, V).astype(np.float32)
    gflops = 2 * B * T * H * V / 1e9 / (median_ms(lambda: product(A, W), 30) / 1000.0)
    return window_gflop() / gflops * 1000.0, gflops


def ptb_profile(repeats):
    """The library's profile of the PTB row's step, op by op and node by node: where a window's time goes."""
    backend.lib.config.profile = True              # for the functions compiled from here on
    model, step = ptb_step()
    for _ in range(repeats + 1):
        step()
    stats = model.compiled("train", optimizer="sgd", clip=5.0, stream=True).profile
    sys.modules[type(stats).__module__]._atexit_print_list.clear()   # printed here, not again at exit
    text = io.StringIO()
    stats.summary(file=text, n_ops_to_print=20, n_apply_to_print=25)
    return f"{machine()}; {backend.describe()}; {repeats + 1} steps\n\n```\n{text.getvalue()}```"


def main_command_step():
    """Compile the main command's training step (train.py's defaults: the LSTM on PTB's 10,002 words,
    hidden 200, Adam, clip 5, padded batches) in this process; print its seconds and the cache's load."""
    cmodule = importlib.import_module(f"{backend.NAME}.link.c.basic")
    start = time.perf_counter()
    cmodule.get_module_cache()
    loaded = time.perf_counter() - start
    np.random.seed(0)
    model = LSTMAesara(10002, hidden_dim=200, bptt_truncate=-1)
    start = time.perf_counter()
    model.compiled("train", optimizer="adam", clip=5.0, batched=True)
    print(json.dumps({"compile_s": time.perf_counter() - start, "cache_load_s": loaded}))


def compile_times():
    """The main command's step compiled from an empty compile cache (a fresh install's first run), then
    again in a new process from the cache that filled: each in a process of its own, with its wall and
    CPU seconds and the cache's load before the second."""
    def run(folder):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        flags = f"{os.environ.get(backend.NAME.upper() + '_FLAGS', '')},base_compiledir={folder}".lstrip(",")
        output = subprocess.run([sys.executable, os.path.abspath(__file__), "--compile-step"], check=True, text=True,
                                capture_output=True, env={**os.environ, backend.NAME.upper() + "_FLAGS": flags})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return {**json.loads(output.stdout.strip().splitlines()[-1]), "cpu_s": cpu}

    with tempfile.TemporaryDirectory(prefix="compile-cache-") as folder:
        cold, warm = run(folder), run(folder)
        modules = len(glob.glob(os.path.join(folder, "*", "*", "key.pkl")))
    return (f"{machine()}; {backend.describe()}\n\n"
            "| the main command's training step | seconds | CPU seconds (all threads and gcc) |\n|---|---|---|\n"
            f"| compiled from an empty cache ({modules} modules) | {cold['compile_s']:.1f} | {cold['cpu_s']:.1f} |\n"
            f"| compiled again in a new process | {warm['compile_s']:.1f} | {warm['cpu_s']:.1f} |\n"
            f"| loading that cache in the new process, before the compile | {warm['cache_load_s']:.2f} | |\n")


def torch_interpreter(given):
    """The Python whose PyTorch is the peer: the one given, else this one where PyTorch is importable."""
    if given or importlib.util.find_spec("torch") is not None:
        return given or sys.executable
    print("PyTorch is not importable here: no PyTorch column (pip install torch==2.13.0 adds it, or "
          "--torch-python names an interpreter that has it)", file=sys.stderr)
    return None


def measure(repeats, torch_python, sentences=True):
    """Every row (or only the PTB row) on this interpreter's backend, paired with PyTorch's steps in a
    process of its own where torch_python is given (beside Aesara's OpenBLAS threads, PyTorch's would
    compete with them for the cores in one process)."""
    cases = {label: ["sentence", kind, V, H, k, LENGTH] for label, _cls, _options, V, H, k, _optimizer, kind,
             _entry, torch in SENTENCE_CASES if torch and sentences}
    peer = Peer(torch_python, {**cases, "ptb": ["ptb", *PTB_SMALL]}) if torch_python else None
    try:
        rows, variants = sentence_rows(repeats, peer) if sentences else ([], {})
        ptb = ptb_row(repeats, peer)
    finally:
        if peer:
            peer.close()
    return {"backend": backend.describe(), "python": platform.python_version(), "numpy": np.__version__,
            "torch": peer.version if peer else None, "sentences": rows, "variants": variants, "ptb": ptb}


def jax_table(repeats):
    """The JAX backend beside the C backend in one process: each per-sentence case (its 45 words padded
    to 64 under JAX), and the PTB step as train.py --preset ptb-small runs it (a window of 20 streams,
    the state carried), on 1 device and, where JAX sees more, split over 2."""
    import jax
    rng = np.random.RandomState(0)
    lines = [f"Machine: {machine()}; Python {platform.python_version()}; {backend.NAME} {backend.VERSION}, "
             f"JAX {jax.__version__} on {jax.devices()[0].platform}; float32", "",
             "| configuration | C ms | JAX ms | JAX / C | JAX compile s |", "|---|---|---|---|---|"]

    def timed(compiler, make, devices=1):
        with backend.compiling(compiler):
            if compiler == "jax":
                backend.use_jax(devices)
            np.random.seed(0)
            model, run = make()

            def step():     # JAX returns before the devices finish: wait for the updated parameters
                jax.block_until_ready([run()] + [p.get_value(borrow=True) for p in model.params])
            start = time.perf_counter()
            step()
            return median_ms(step, repeats), time.perf_counter() - start

    for label, cls, options, V, H, k, *_ in SENTENCE_CASES:
        x, y = (rng.randint(0, V, LENGTH).astype(np.int32) for _ in range(2))

        def make():
            model = cls(V, hidden_dim=H, bptt_truncate=k, **options)
            return model, functools.partial(model.sgd_step, x, y, 0.001)
        (c_ms, _), (jax_ms, jax_s) = timed("c", make), timed("jax", make)
        lines.append(f"| {label} | {c_ms:.2f} | {jax_ms:.2f} | {jax_ms / c_ms:.2f}x | {jax_s:.0f} |")
        print(f"  {lines[-1]}", file=sys.stderr, flush=True)
    V, H, layers, B, T = PTB_SMALL
    X, Y = (rng.randint(0, V, (T, B)).astype(np.int32) for _ in range(2))

    def ptb():
        model = LSTMAesara(V, hidden_dim=H, bptt_truncate=-1, layers=layers)
        return model, lambda: model.train_stream(X, Y, None, 0, 1.0, clip=5.0)
    (c_ms, _), (jax_ms, jax_s) = timed("c", ptb), timed("jax", ptb)
    label = "PTB small: LSTM 2x200, vocabulary 10000, a window of 20 streams x 20 steps, SGD, clip 5"
    lines.append(f"| {label} | {c_ms:.1f} | {jax_ms:.1f} | {jax_ms / c_ms:.2f}x | {jax_s:.0f} |")
    if len(jax.devices()) >= 2:
        two_ms, two_s = timed("jax", ptb, devices=2)
        lines.append(f"| the same, split over 2 devices | {c_ms:.1f} | {two_ms:.1f} | {two_ms / c_ms:.2f}x | {two_s:.0f} |")
    return "\n".join(lines)


def parameter_counts():
    """Each cell's number of parameters at the tutorials' size (building a model draws, never compiles)."""
    cells = {}
    for _label, cls, options, _V, _H, _k, _optimizer, kind, *_ in SENTENCE_CASES:
        cells.setdefault(kind, cls(8000, hidden_dim=100, **options).parameter_count())
    return cells.items()


def number(ms):
    return f"{ms:.2f}" if ms else "-"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def paired_ratio(value):
    return f"{value:.2f}x" if value else "-"


def table(results):
    """The per-sentence tables (where measured) and the PTB table, in markdown."""
    return "\n".join((sentence_tables(results) + [""] if any(r["sentences"] for r in results) else []) +
                     ptb_table(results))


def sentence_tables(results):
    lines = ["| configuration | backend | ours ms | original structure ms | PyTorch ms | ours / original "
             "| ours / PyTorch (paired) | compile s |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for row in r["sentences"]:
            lines.append(f"| {row['case']} | {r['backend']} | {row['ours_ms']:.2f} | {number(row.get('original_ms'))} | "
                         f"{number(row.get('torch_ms'))} | {ratio(row['ours_ms'], row.get('original_ms'))} | "
                         f"{paired_ratio(row.get('ours_over_torch'))} | {row['compile_s']:.0f} |")
    lines += ["", "| cell (vocabulary 8000, hidden 100) | parameters |", "|---|---|"]
    lines += [f"| {name} | {count:,} |" for name, count in parameter_counts()]
    lines += ["", "| variant | backend | the cell it extends | variant / cell (median of 5 alternating rounds) |",
              "|---|---|---|---|"]
    for r in results:
        cases = {row["kind"]: row["case"] for row in r["sentences"] if "full BPTT" in row["case"]}
        for kind, base in BASELINES.items():
            lines.append(f"| {cases[kind]} | {r['backend']} | {cases[base]} | {r['variants'][kind]:.2f}x |")
    return lines


def ptb_table(results):
    lines = ["| configuration | backend | ours ms/step | ours tokens/s | PyTorch ms/step | PyTorch tokens/s "
                  "| ours / PyTorch tokens/s (paired) | matrix-product bound ms (BLAS GFLOP/s) | ours / bound "
                  "| compile s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        p = r["ptb"]
        ours_tps = 1000 * p["tokens"] / p["ours_ms"]
        torch_ms = p.get("torch_ms")
        torch_tps = 1000 * p["tokens"] / torch_ms if torch_ms else None
        paired = f"{p['torch_over_ours']:.2f}x" if torch_ms else "-"
        lines.append(f"| {p['case']} | {r['backend']} | {p['ours_ms']:.1f} | {ours_tps:,.0f} | "
                     f"{f'{torch_ms:.1f}' if torch_ms else '-'} | {f'{torch_tps:,.0f}' if torch_tps else '-'} | "
                     f"{paired} | {p['bound_ms']:.1f} ({p['gemm_gflops']:.0f}) | {ratio(p['ours_ms'], p['bound_ms'])} "
                     f"| {p['compile_s']:.0f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument("--also", metavar="PYTHON", help="also run the bench with this interpreter (another backend)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is importable")
    parser.add_argument("--torch-python", metavar="PYTHON", help="the interpreter whose PyTorch is the peer "
                        "(default: this one, where PyTorch is importable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (used by --also)")
    parser.add_argument("--backend", choices=("c", "jax"), default="c", help="jax: PyTensor's JAX backend beside "
                        "its C backend (Python 3.12+; XLA_FLAGS=--xla_force_host_platform_device_count=2 fakes 2 devices)")
    parser.add_argument("--save", metavar="FILE.md", help="also write the tables, with the command, date and machine, "
                        "to this markdown file (the README quotes results/bench.md)")
    parser.add_argument("--ptb-only", action="store_true", help="only the PTB row (paired with PyTorch, and its bound)")
    parser.add_argument("--profile-ptb", action="store_true", help="the library's op-by-op profile of the PTB step")
    parser.add_argument("--compile", action="store_true", help="how long the main command's training step takes to "
                        "compile from an empty compile cache, and again from the filled one")
    parser.add_argument("--compile-step", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = 10 if args.quick else 30
    if args.compile_step:
        main_command_step()
        return
    if args.compile:
        report = compile_times()
        print(report)
        save(args.save, report)
        return
    if args.profile_ptb:
        report = ptb_profile(4 * repeats)
        print(report)
        save(args.save, report)
        return
    if args.backend == "jax":
        report = jax_table(repeats)
        print(report)
        save(args.save, report)
        return
    torch_python = None if args.no_torch else torch_interpreter(args.torch_python)
    results = [measure(repeats, torch_python, sentences=not args.ptb_only)]
    if args.json:
        print(json.dumps(results[0]))
        return
    if args.also:
        command = ([args.also, os.path.abspath(__file__), "--json"] + (["--quick"] if args.quick else []) +
                   (["--ptb-only"] if args.ptb_only else []) +
                   (["--torch-python", torch_python] if torch_python else ["--no-torch"]))
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    report = (f"Machine: {machine()}; Python {', '.join(r['python'] + ' (' + r['backend'] + ')' for r in results)}; "
              f"numpy {results[0]['numpy']}; PyTorch {results[0]['torch'] or 'not installed'}; float32; "
              f"{LENGTH}-word sentences\n\n" + table(results))
    print(report)
    save(args.save, report)


# the environment variables that change what the bench measures: devices, threads, the BLAS
RECORDED_ENVIRONMENT = ("XLA_FLAGS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RNNLM_BLAS")


def save(path, report):
    """The tables, with the command and the date, in a markdown file (None: nowhere)."""
    if path:
        settings = [f"{name}={os.environ[name]}" for name in RECORDED_ENVIRONMENT if name in os.environ]
        command = " ".join(settings + ["python", "bench.py"] + sys.argv[1:])
        with open(path, "w") as f:
            f.write(f"# Training-step speed\n\n`{command}`, {time.strftime('%Y-%m-%d %H:%M %Z')}\n\n{report}\n")


if __name__ == "__main__":
    main()
