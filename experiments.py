"""The seed's claims, measured with the library (DESIGN.md section 7):

    python experiments.py vanishing   how far back the last word's loss reaches: ||dL_T/dh_t|| against the lag
    python experiments.py adding      the adding problem at T = 50 ... 400: which cells carry a value that far
    python experiments.py compare     a Greff-style random search per variant, run as Ray tasks
    python experiments.py degenerate  an LSTM with its gates held open against the RNN with one more tanh
    python experiments.py ptb         train.py --preset ptb-small (Zaremba et al.'s small PTB LSTM) beside its
                                      PyTorch peer, or --preset ptb-small-regularized alone

Each writes results/<experiment>.md (with the command and the machine) and, but the last, a plot
results/<experiment>.png.  --quick runs a small form in well under a minute and checks the qualitative result where it is robust.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np

from errors import InputError

CELLS = ("rnn", "lstm", "gru", "peephole", "cifg", "dglstm", "cwrnn")
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "peephole": "peephole LSTM", "cifg": "CIFG LSTM",
         "dglstm": "DG-LSTM (2 layers)", "cwrnn": "Clockwork RNN"}


def build(name, word_dim, hidden_dim, **options):
    """A model of train.py's --model table, with its variant's options and any others."""
    from train import model_type
    cls, variant = model_type(name)
    return cls(word_dim, hidden_dim, **{**variant, **options})


def machine():
    import backend
    from timing import machine as hardware
    return (f"{hardware()}; Python {platform.python_version()} ({backend.describe()}); "
            f"numpy {np.__version__}")


def write_report(name, title, lines, figure):
    """results/<name>.md with the command that made it and the machine, and results/<name>.png."""
    os.makedirs("results", exist_ok=True)
    if figure is not None:
        figure.savefig(f"results/{name}.png", dpi=110, bbox_inches="tight")
    command = "python experiments.py " + " ".join(sys.argv[1:])
    header = [f"# {title}", "", f"`{command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
              f"Machine: {machine()}", ""] + ([f"![{title}]({name}.png)", ""] if figure is not None else [])
    with open(f"results/{name}.md", "w") as out:
        out.write("\n".join(header + lines) + "\n")
    print(f"wrote results/{name}.md" + (f" and results/{name}.png" if figure is not None else ""))


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# ---------------------------------------------------------------------------------------- vanishing
def long_sentences(length, count, vocabulary_size, rng):
    """count Penn Treebank training sentences of at least `length` words (with the start token), cut to
    that length, with the words that follow each word."""
    import corpus
    data = corpus.load_ptb(vocabulary_size)
    X, y = data["train"]
    long = [n for n, x in enumerate(X) if len(x) >= length]
    if len(long) < count:
        raise InputError(f"the training text has only {len(long)} sentences of {length} words or more")
    return data, [(X[n][:length], y[n][:length]) for n in rng.choice(long, size=count, replace=False)]


def gradient_norms(model, sentences):
    """{state: mean over the sentences of ||dL_T/d state_t||, indexed by the lag T - 1 - t}."""
    sums = {}
    for x, y in sentences:
        for name, g in model.state_gradients(x, y).items():
            sums[name] = sums.get(name, 0.0) + np.linalg.norm(g, axis=1)[::-1]
    return {name: total / len(sentences) for name, total in sums.items()}


def vanishing(args):
    import training
    rng = np.random.RandomState(args.seed)
    lag = 50
    cells = ("rnn", "lstm") if args.quick else CELLS
    data, sentences = long_sentences(lag + 1, 4 if args.quick else 40, 2000, rng)
    X, y = data["train"]
    X, y = X[:args.train_sentences], y[:args.train_sentences]
    curves = {}
    for cell in cells:
        np.random.seed(args.seed)
        model = build(cell, len(data["index_to_word"]), args.hidden, bptt_truncate=-1)
        curves[cell, "initial"] = gradient_norms(model, sentences)
        if not args.quick:
            state = training.TrainingState(0.002)
            training.train_with_sgd(model, X, y, state, 1, optimizer="adam", clip=5.0, batch_size=32)
            curves[cell, "trained"] = gradient_norms(model, sentences)
        print(cell, {k: f"{v[50]:.2e}" for k, v in curves[cell, "initial"].items()}, flush=True)
    if args.quick:
        rnn, lstm = curves["rnn", "initial"]["s"][50], curves["lstm", "initial"]["s"][50]
        assert rnn * 100 <= lstm, f"at lag 50 the RNN's gradient {rnn:.2e} is not 100x below the LSTM's {lstm:.2e}"
        print(f"ok: at lag 50 the untrained RNN's gradient is {lstm / rnn:.0f}x below the LSTM's")
        return
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, when in zip(axes, ("initial", "trained")):
        for n, cell in enumerate(cells):
            for name, norms in curves[cell, when].items():
                cell_state = name.rstrip("0123456789") == "c"
                if name != list(curves[cell, when])[-1] and not cell_state:     # the last state feeds the output
                    continue
                ax.semilogy(np.arange(1, lag + 1), norms[1:], color=f"C{n}", linestyle="--" if cell_state else "-",
                            label=f"{NAMES[cell]}: {'cell c' if cell_state else 'state h'} ({name})")
        ax.set_title("at initialization" if when == "initial" else
                     f"after one epoch on {args.train_sentences} sentences (Adam)")
        ax.set_xlabel("lag T - t (steps back from the last word)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean ||dL_T / d state_t|| (log scale)")
    axes[1].legend(fontsize=7, ncol=2)
    figure.suptitle(f"Vanishing gradients: how the loss on word {lag + 1} of a Penn Treebank sentence depends on "
                    f"earlier states (hidden {args.hidden}, vocabulary 2000, mean of {len(sentences)} sentences)")
    lags = (1, 10, 20, 50)
    lines = [f"Mean over {len(sentences)} Penn Treebank training sentences of at least {lag + 1} words (cut there; "
             f"vocabulary 2000) of the norm of the gradient of word {lag + 1}'s loss with respect to each state, "
             f"for hidden size {args.hidden}. Trained: after one epoch of Adam (lr 0.002, batch 32, clip 5) on the "
             f"first {args.train_sentences} training sentences. A state's gradient is its total derivative "
             "through every later step (for the LSTM family's cell c, with the same step's h held).", "",
             "| cell | state | when | " + " | ".join(f"lag {k}" for k in lags) + " | lag 50 / lag 1 |",
             "|---|---|---|" + "---|" * (len(lags) + 1)]
    for cell in cells:
        for when in ("initial", "trained"):
            for name, norms in curves[cell, when].items():
                lines.append(f"| {NAMES[cell]} | {name} | {when} | " + " | ".join(f"{norms[k]:.2e}" for k in lags) +
                             f" | {norms[50] / norms[1]:.1e} |")
    write_report("vanishing", "Vanishing gradients", lines, figure)


# ---------------------------------------------------------------------------------------- adding
def adding_batch(rng, T, batch):
    """The adding problem (Le et al. 2015): inputs (T, batch, 2) of a value ~ U[0, 1] and a marker, with one
    marker in each half of the sequence; the target is the sum of the two marked values."""
    values = rng.uniform(0, 1, (T, batch))
    markers = np.zeros((T, batch))
    columns = np.arange(batch)
    markers[rng.randint(0, T // 2, batch), columns] = 1
    markers[rng.randint(T // 2, T, batch), columns] = 1
    return np.stack([values, markers], axis=2), (values * markers).sum(axis=0)


def fresh_regression_model(compiled, cell, hidden, seed):
    """A newly initialised model of the cell for real-valued inputs (2) and the regression head, seeded.
    compiled: a dict of earlier models by cell, whose compiled functions are reused (the parameters and
    optimizer state are replaced), so a cell compiles once for every sequence length."""
    from utils import model_arrays, set_parameters
    np.random.seed(seed)
    new = build(cell, 2, hidden, bptt_truncate=-1, output_dim=1)
    model = compiled.setdefault((cell, hidden), new)
    if model is not new:
        set_parameters(model, model_arrays(new), "a fresh model")
        for slot in model.slots:
            slot.set_value(np.zeros_like(slot.get_value()))
    return model


def train_adding(cell, T, steps, hidden, seed, batch=20, learning_rate=0.01, check_every=100, compiled=None):
    """Train one cell on the adding problem with Adam; returns the test MSE at every check and the first
    step at which it fell below 0.01 (None if it never did)."""
    rng = np.random.RandomState(seed)
    model = fresh_regression_model({} if compiled is None else compiled, cell, hidden, seed)
    X_test, y_test = adding_batch(np.random.RandomState(seed + 1), T, 500)
    curve, solved = [], None
    for step in range(1, steps + 1):
        model.train_values(*adding_batch(rng, T, batch), learning_rate, optimizer="adam", clip=1.0)
        if step % check_every == 0 or step == steps:
            mse = float(np.mean((model.values(X_test) - y_test) ** 2))
            curve.append((step, mse))
            if solved is None and mse < 0.01:
                solved = step
    return curve, solved


ADDING_LENGTHS = (50, 100, 200, 400)


def adding(args):
    """Every cell at every length, each run logged as it finishes (results/adding-runs.jsonl), so that an
    interrupted experiment resumes and --lengths can split the work between processes; the report is
    written once every run is in the log."""
    baseline = 1 / 6
    if args.quick:
        curve, _ = train_adding("lstm", 30, 400, 32, args.seed)
        mse = curve[-1][1]
        assert mse < baseline / 4, f"the LSTM's MSE {mse:.3f} at T = 30 is not a quarter of the baseline 1/6"
        print(f"ok: the LSTM's MSE at T = 30 is {mse:.4f}, below a quarter of the baseline 1/6")
        return
    cells, lengths, steps = CELLS, ADDING_LENGTHS, args.steps
    unknown = set(args.cells or ()) - set(cells) or set(args.lengths or ()) - set(lengths)
    if unknown:
        raise InputError(f"--cells and --lengths take some of {','.join(cells)} and {','.join(map(str, lengths))}, "
                         f"not {','.join(map(str, sorted(unknown)))}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "adding-runs.jsonl")
    setting = {"steps": steps, "hidden": args.hidden, "seed": args.seed}
    done = {(r["cell"], r["T"]): r for r in map(json.loads, open(path) if os.path.exists(path) else [])
            if all(r[k] == v for k, v in setting.items())}
    compiled = {}
    for T in args.lengths or lengths:
        for cell in args.cells or cells:
            if (cell, T) in done:
                continue
            started = time.perf_counter()
            curve, solved = train_adding(cell, T, steps, args.hidden, args.seed, compiled=compiled)
            done[cell, T] = dict(setting, cell=cell, T=T, curve=curve, solved=solved,
                                 seconds=round(time.perf_counter() - started, 1))
            with open(path, "a") as log:
                log.write(json.dumps(done[cell, T]) + "\n")
            print(f"T={T} {cell}: MSE {curve[-1][1]:.4f}, solved at {solved}, {done[cell, T]['seconds']:.0f} s",
                  flush=True)
    missing = [(cell, T) for T in lengths for cell in cells if (cell, T) not in done]
    if missing:
        print(f"{len(missing)} runs still to do (e.g. {missing[0]}); the report is written when all are in {path}")
        return
    results = {key: (r["curve"], r["solved"]) for key, r in done.items()}
    plt = pyplot()
    figure, axes = plt.subplots(1, len(lengths), figsize=(4 * len(lengths), 4), sharey=True)
    for ax, T in zip(axes, lengths):
        for n, cell in enumerate(cells):
            steps_, mse = zip(*results[cell, T][0])
            ax.semilogy(steps_, mse, color=f"C{n}", label=NAMES[cell])
        ax.axhline(baseline, color="black", linestyle=":", label="baseline 1/6 (always predict 1)")
        ax.axhline(0.01, color="gray", linestyle="--", label="solved: MSE 0.01")
        ax.set_title(f"T = {T}")
        ax.set_xlabel("training step (batch 20)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("test mean squared error (500 sequences, log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, -0.08))
    figure.suptitle(f"The adding problem: hidden {args.hidden}, Adam lr 0.01, clip 1, {steps} steps per cell")
    lines = [f"Each cell has {args.hidden} hidden units (the DG-LSTM two layers of {args.hidden}), a linear output "
             f"on its last state, Adam (lr 0.01, gradient norm clipped to 1), batches of 20 fresh sequences, "
             f"{steps} steps, seed {args.seed}. Test: 500 fixed sequences, scored every 100 steps (so the steps to "
             f"MSE < 0.01 are a multiple of 100). Baseline: predicting 1 gives MSE 1/6 = 0.167.",
             "", "| cell | " + " | ".join(f"T = {T}: final MSE | T = {T}: steps to MSE < 0.01" for T in lengths) + " |",
             "|---|" + "---|---|" * len(lengths)]
    for cell in cells:
        row = []
        for T in lengths:
            curve, solved = results[cell, T]
            row += [f"{curve[-1][1]:.4f}", str(solved) if solved else "not solved"]
        lines.append(f"| {NAMES[cell]} | " + " | ".join(row) + " |")
    write_report("adding", "The adding problem", lines, figure)


# ---------------------------------------------------------------------------------------- degenerate
def degenerate(args):
    """The seed's claim that an LSTM whose gates are held open (f = 0, i = 1, o = 1) is an RNN with one more
    tanh, s_t = tanh(tanh(U x_t + W s_{t-1})): the LSTM's probabilities against that recurrence in numpy and
    against our RNN with the same U, W and V (tests/test_models.py asserts the same)."""
    from rnn_aesara import RNNAesara
    np.random.seed(args.seed)
    n, m, T = 50, 16, 30
    lstm = build("lstm", n, m, bptt_truncate=-1)
    for gate, bias in (("f", -1e4), ("i", 1e4), ("o", 1e4)):      # saturated: exactly 0 and 1 in float64
        for name, value in ((f"U_{gate}", np.zeros((m, n))), (f"W_{gate}", np.zeros((m, m))),
                            (f"b_{gate}", np.full(m, bias))):
            getattr(lstm, name).set_value(value)
    lstm.b_g.set_value(np.zeros(m))
    lstm.b_V.set_value(np.zeros(n))
    for name in ("U_g", "W_g", "V"):        # weights large enough for tanh(tanh(a)) to differ from tanh(a)
        getattr(lstm, name).set_value(np.random.uniform(-2, 2, getattr(lstm, name).get_value().shape))
    rnn = RNNAesara(n, m, bptt_truncate=-1)
    for name, source in (("U", "U_g"), ("W", "W_g"), ("V", "V")):
        getattr(rnn, name).set_value(getattr(lstm, source).get_value())
    U, W, V = rnn.U.get_value(), rnn.W.get_value(), rnn.V.get_value()
    x = np.random.randint(0, n, T)
    s, twice = np.zeros(m), []
    for token in x:
        s = np.tanh(np.tanh(U[:, token] + W @ s))
        e = np.exp(V @ s - (V @ s).max())
        twice.append(e / e.sum())
    probs = lstm.forward_propagation(x)
    against_twice = float(np.abs(probs - np.array(twice)).max())
    against_rnn = float(np.abs(probs - rnn.forward_propagation(x)).max())
    print(f"largest difference of the open-gated LSTM's probabilities: {against_twice:.1e} from the RNN with one "
          f"more tanh, {against_rnn:.1e} from the plain RNN")
    if args.quick:
        assert against_twice < 1e-12 and against_rnn > 1e-2, (against_twice, against_rnn)
        print("ok: the open-gated LSTM is the RNN with one more tanh, and not the plain RNN")
        return
    lines = [f"float64, vocabulary {n}, hidden {m}, one random sentence of {T} words, seed {args.seed}. The LSTM's "
             "forget, input and output gates are held at 0, 1 and 1 (their weights zero, biases -1e4, 1e4, 1e4), "
             "so c_t = tanh(U_g x_t + W_g s_{t-1}) and s_t = tanh(c_t); U_g, W_g and V are drawn from U(-2, 2). Checked by "
             "`tests/test_models.py::test_lstm_with_gates_forced_open_is_an_rnn_with_one_more_tanh`.", "",
             "| the LSTM's probabilities against | largest absolute difference |", "|---|---|",
             f"| numpy: s_t = tanh(tanh(U x_t + W s_(t-1))), softmax(V s_t) | {against_twice:.1e} |",
             f"| our RNN with the same U, W, V: s_t = tanh(U x_t + W s_(t-1)) | {against_rnn:.1e} |"]
    write_report("degenerate", "An LSTM with its gates held open is an RNN with one more tanh", lines, None)


# ---------------------------------------------------------------------------------------- compare
# Greff et al.'s variants: V, their vanilla LSTM, is our peephole LSTM; each ablation changes one thing in it;
# NP (no peepholes) is our plain LSTM.  Then the other cells of the library.  name: (train.py model, options)
VARIANTS = {"V": ("peephole", {}), "NP": ("lstm", {}), "CIFG": ("peephole", {"coupled": True}),
            **{name: ("peephole", {"ablation": name}) for name in ("NIG", "NFG", "NOG", "NIAF", "NOAF", "FGR")},
            "GRU": ("gru", {}), "RNN": ("rnn", {}), "DG-LSTM": ("dglstm", {}), "CW-RNN": ("cwrnn", {})}
HIDDEN_SIZES = (48, 64, 80, 96, 112, 128)       # multiples of the clockwork RNN's 4 modules (and of 8)


def trial_configs(variants, trials, seed, budget):
    """The study's trials, each with its own seed and hyperparameters drawn from it: a learning rate
    log-uniform in [3e-4, 3e-2] (Adam) and a hidden size.  The same arguments always give the same trials,
    so a resumed study knows which are still to run."""
    configs = []
    for n, variant in enumerate(variants):
        for trial in range(trials):
            rng = np.random.RandomState([seed, n, trial])
            configs.append({"variant": variant, "trial": trial, "seed": int(rng.randint(2 ** 31)),
                            "learning_rate": float(10 ** rng.uniform(np.log10(3e-4), np.log10(3e-2))),
                            "hidden": int(rng.choice(HIDDEN_SIZES)), **budget})
    return configs


def run_trial(config):
    """One train.py-equivalent run: Adam with clipping 5, batches of 32 sentences, on the first
    config['sentences'] Penn Treebank training sentences for one epoch, validated on the first
    config['valid'] valid sentences four times along the way.  Returns the config with its curve and
    final numbers; a failure of any kind (divergence included) is returned as such, not raised."""
    started = time.perf_counter()
    result = dict(config, status="ok", curve=[], error=None)
    try:
        import backend
        backend.set_float(32)
        import corpus
        import training
        data = corpus.load_ptb(config["vocabulary"])
        X, y = (part[:config["sentences"]] for part in data["train"])
        X_valid, y_valid = (part[:config["valid"]] for part in data["valid"])
        np.random.seed(config["seed"])
        cell, options = VARIANTS[config["variant"]]
        model = build(cell, len(data["index_to_word"]), config["hidden"], bptt_truncate=-1, **options)
        result["parameters"] = model.parameter_count()

        def validate(model, state):
            ppl = training.perplexity(model, X_valid, y_valid)
            result["curve"].append((state.examples_seen, ppl))
            if not np.isfinite(ppl):
                raise training.Diverged(f"the validation perplexity became {ppl}")

        state = training.TrainingState(config["learning_rate"])
        training.train_with_sgd(model, X, y, state, 1, optimizer="adam", clip=5.0, batch_size=32,
                                callback_every=max(len(y) // 4, 1), callback=validate)
        if not result["curve"] or result["curve"][-1][0] != state.examples_seen:
            validate(model, state)
        result["valid_perplexity"] = result["curve"][-1][1]
    except Exception as error:          # a failed trial is a result of the study, not the end of it
        result.update(status="diverged" if type(error).__name__ == "Diverged" else "failed",
                      error=f"{type(error).__name__}: {error}"[:300])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def finished_trials(path):
    """The trials already recorded in a study's log (one JSON object per line), by (variant, trial)."""
    if not os.path.exists(path):
        return {}
    done = {}
    for line in open(path):
        if line.strip():
            record = json.loads(line)
            done[record["variant"], record["trial"]] = record
    return done


def run_study(configs, path, address=None, workers=None):
    """Run the trials not yet in the log as Ray tasks, appending each result to the log as it arrives
    (an interrupted study resumes where it stopped).  address: an existing Ray cluster (else a local Ray
    on this machine's cores), whose nodes need this directory's code, shipped as the job's working directory."""
    try:
        import ray
    except ImportError:
        raise InputError("the comparison runs its trials on Ray: pip install -r requirements-ray.txt") from None
    done = finished_trials(path)
    todo = [c for c in configs if (c["variant"], c["trial"]) not in done]
    print(f"{len(done)} trials already recorded in {path}, {len(todo)} to run", flush=True)
    if not todo:
        return finished_trials(path)
    here = os.path.dirname(os.path.abspath(__file__))
    runtime = ({"working_dir": here, "excludes": [".git", ".venv*", "runs", "results", "__pycache__"]} if address
               else {"env_vars": {"PYTHONPATH": here}})
    ray.init(address=address, num_cpus=None if address else workers, runtime_env=runtime,
             include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_trial)
        pending = {task.remote(c): c for c in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            config = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as error:      # the worker itself died: recorded, and the study goes on
                result = dict(config, status="failed", curve=[], error=f"{type(error).__name__}: {error}"[:300])
            with open(path, "a") as log:
                log.write(json.dumps(result) + "\n")
            print(f"{result['variant']} trial {result['trial']}: {result['status']}, valid perplexity "
                  f"{result.get('valid_perplexity', float('nan')):.1f}, {result.get('seconds', 0):.0f} s", flush=True)
    finally:
        ray.shutdown()
    return finished_trials(path)


def compare(args):
    variants = ("RNN", "CW-RNN") if args.quick else tuple(VARIANTS)     # quick: the cheapest to compile
    trials = 1 if args.quick else args.trials
    budget = ({"vocabulary": 500, "sentences": 200, "valid": 100} if args.quick else
              {"vocabulary": args.vocabulary, "sentences": args.train_sentences, "valid": 1000})
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "compare-quick-trials.jsonl" if args.quick else "compare-trials.jsonl")
    configs = trial_configs(variants, trials, args.seed, budget)
    done = run_study(configs, path, args.address or os.environ.get("RAY_ADDRESS"), args.workers)
    results = [done[c["variant"], c["trial"]] for c in configs if (c["variant"], c["trial"]) in done]
    if args.quick:
        assert len(results) == len(configs), f"{len(results)} of {len(configs)} trials recorded"
        for r in results:
            assert r["status"] == "ok" and np.isfinite(r["valid_perplexity"]), r
        print(f"ok: {len(results)} trials on Ray, perplexities " +
              ", ".join(f"{r['variant']} {r['valid_perplexity']:.0f}" for r in results))
        return
    write_comparison(results, variants, budget, args)


def median_ratio_interval(perplexities, reference, rng, resamples=2000):
    """90% bootstrap interval of median(perplexities) / median(reference) - 1."""
    mine = np.median(rng.choice(perplexities, (resamples, len(perplexities))), axis=1)
    theirs = np.median(rng.choice(reference, (resamples, len(reference))), axis=1)
    return tuple(np.percentile(mine / theirs - 1, [5, 95]))


def write_comparison(results, variants, budget, args):
    ok = {v: [r for r in results if r["variant"] == v and r["status"] == "ok"] for v in variants}
    ppl = {v: np.array([r["valid_perplexity"] for r in ok[v]]) for v in variants}
    ranked = sorted((v for v in variants if len(ppl[v])), key=lambda v: np.median(ppl[v]))
    # The learning rate's share of the spread: a least-squares line of log perplexity on log learning rate
    # over every trial; each trial's perplexity over the line's is its score at an equal learning rate.
    every = [r for v in ranked for r in ok[v]]
    log_lr, log_ppl = np.log10([r["learning_rate"] for r in every]), np.log([r["valid_perplexity"] for r in every])
    slope, intercept = np.polyfit(log_lr, log_ppl, 1)
    adjusted = {v: ppl[v] / np.exp(slope * np.log10([r["learning_rate"] for r in ok[v]]) + intercept) for v in ranked}
    plt = pyplot()
    figure, (box, scatter) = plt.subplots(1, 2, figsize=(15, 5.5))
    box.boxplot([ppl[v] for v in ranked], tick_labels=ranked)
    box.set_ylabel("validation perplexity after the budget (lower is better)")
    box.set_xlabel("variant (sorted by median)")
    box.tick_params(axis="x", labelrotation=45)
    box.set_title("Distribution over the random search's trials")
    for n, v in enumerate(ranked):
        scatter.scatter([r["parameters"] / 1e6 for r in ok[v]], ppl[v], color=f"C{n % 10}",
                        marker="os^"[n // 10], label=v)
    scatter.set_xlabel("learned parameters (millions)")
    scatter.set_ylabel("validation perplexity")
    scatter.set_title("Size against perplexity, one point per trial")
    scatter.legend(fontsize=7, ncol=2)
    for ax in (box, scatter):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    figure.suptitle(f"Greff-style comparison: {args.trials} random-search trials per variant, each one epoch of "
                    f"Adam on {budget['sentences']} PTB sentences (vocabulary {budget['vocabulary']})")
    relative = lambda scores, v: float(np.median(scores[v]) / np.median(scores["V"]) - 1)
    interval = {v: median_ratio_interval(adjusted[v], adjusted["V"], np.random.RandomState(args.seed)) for v in ranked}
    lines = [f"Each trial trains one variant from its own seed with a learning rate drawn log-uniform from "
             f"[3e-4, 3e-2] (Adam, gradient norm clipped to 5) and a hidden size drawn from {HIDDEN_SIZES}, for one "
             f"epoch over the first {budget['sentences']} Penn Treebank training sentences (vocabulary "
             f"{budget['vocabulary']}, batches of 32, full BPTT), and is scored by its perplexity on the first "
             f"{budget['valid']} validation sentences. V is Greff et al.'s vanilla LSTM (our peephole LSTM); NP, "
             "CIFG, NIG, NFG, NOG, NIAF, NOAF and FGR each change one thing in it (DESIGN.md section 3). Trials ran "
             f"as Ray tasks, {sum(r.get('seconds', 0) for r in results) / 60:.0f} CPU-minutes in all; "
             "`results/compare-trials.jsonl` holds every trial's settings, curve and result.", "",
             f"At this budget the learning rate decides most of the outcome: over all trials the correlation of log "
             f"perplexity with log learning rate is {np.corrcoef(log_lr, log_ppl)[0, 1]:.2f} (a tenfold rate: "
             f"perplexity x{10 ** slope:.2f}). The column 'at an equal learning rate' compares each trial's "
             "perplexity with that trend's at its rate, which takes the luck of the draw out of the comparison.", "",
             "| variant | trials ok / run | median perplexity | best | median vs V | at an equal learning rate: "
             "median vs V (90% bootstrap interval) | median parameters |", "|---|---|---|---|---|---|---|"]
    for v in ranked:
        low, high = interval[v]
        lines.append(f"| {v} | {len(ok[v])} / {sum(r['variant'] == v for r in results)} | {np.median(ppl[v]):.1f} | "
                     f"{ppl[v].min():.1f} | {relative(ppl, v):+.1%} | {relative(adjusted, v):+.1%} ({low:+.0%} to "
                     f"{high:+.0%}) | {int(np.median([r['parameters'] for r in ok[v]])):,} |")
    failed = [r for r in results if r["status"] != "ok"]
    lines += ["", f"Failed or diverged trials: {len(failed)}" + "".join(
        f"\n- {r['variant']} trial {r['trial']} (lr {r['learning_rate']:.2g}, hidden {r['hidden']}): {r['error']}"
        for r in failed)]
    lines += ["", "**Against Greff et al.'s findings**, at an equal learning rate: a variant hurts if the 90% interval "
              "of its median relative to V's lies above +5%, helps if below -5%, costs nothing if inside +-5%; "
              "otherwise these trials cannot tell.", ""]
    for v, claim in (("NFG", "hurts"), ("NOAF", "hurts"), ("CIFG", "costs nothing"), ("NP", "costs nothing")):
        if v in adjusted:
            low, high = interval[v]
            verdict = ("hurts" if low > 0.05 else "helps" if high < -0.05 else
                       "costs nothing" if -0.05 <= low and high <= 0.05 else None)
            lines.append(f"- {v}: Greff: {claim}. Here: {relative(adjusted, v):+.1%} ({low:+.0%} to {high:+.0%}): "
                         + ("agrees." if verdict == claim else f"{verdict}, which does not agree." if verdict
                            else f"{len(ppl[v])} trials cannot tell."))
    best = ranked[0]
    beaten = [v for v in ranked[1:] if ppl[v].min() < np.median(ppl[best])]
    lines.append(f"- No variant always best: the best median is {best}'s ({np.median(ppl[best]):.1f}); "
                 + (f"the best trials of {', '.join(beaten)} beat that median, so {best} does not win every trial."
                    if beaten else "no other variant's best trial beats it."))
    write_report("compare", "Greff-style comparison of the recurrent cells", lines, figure)


# ---------------------------------------------------------------------------------------- main
PAPER = {"ptb-small": ("Zaremba et al. 2014, Table 1 (non-regularized LSTM)", 120.7, 114.5),
         "ptb-small-regularized": ("Kim et al. 2016, LSTM-Word-Small (2x200, dropout 0.5): the target's reference",
                                   "-", 97.6)}
EPOCH_LINE = re.compile(r"^epoch (\d+): train perplexity ([\d.]+), \w+ perplexity ([\d.]+), (\d+) s "
                        r"\(([\d,]+) training tokens/s\), learning rate ([\d.e-]+)")
FINAL_LINE = re.compile(r"^(Valid|Test) perplexity[^:]*: ([\d.]+)|^Total time: (\d+) s")
QUICK_PTB = ["--max-sentences", "4000", "--hidden-dim", "32", "--embedding-dim", "32", "--vocabulary-size", "2000",
             "--nepoch", "2", "--sample", "0"]


def read_log(path):
    """A train.py (or peer) log: its header line, the per-epoch rows and the final numbers."""
    epochs, final = [], {}
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        match = EPOCH_LINE.match(line)
        if match:
            epochs.append([float(v.replace(",", "")) for v in match.groups()])
        match = FINAL_LINE.match(line)
        if match:
            split, value, seconds = match.groups()
            final[split.lower() if split else "seconds"] = float(value or seconds)
    return {"header": lines[0] if lines else "", "epochs": epochs, "final": final}


def logged_run(command, path, reuse):
    """Run a training command, its output shown and kept in path; with reuse, a finished log is kept instead."""
    if reuse and os.path.exists(path) and "seconds" in read_log(path)["final"]:
        print(f"reusing {path}")
        return
    print("$ " + " ".join(command), flush=True)
    with open(path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
            log.flush()
    if process.wait():
        raise InputError(f"{command[1]} failed (exit status {process.returncode}); its log is {path}")


def ptb(args):
    """train.py --preset on the Penn Treebank's continuous stream, and for ptb-small its PyTorch peer with the
    same recipe on the same machine: per-epoch tables, final perplexities and wall times, a learning curve."""
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.preset + ("-quick" if args.quick else ""))
    ours = [sys.executable, "train.py", "--preset", args.preset, "--no-progress",
            "--model-output-file", os.path.join(args.out if args.quick else "runs", os.path.basename(stem) + ".npz")
            ] + (QUICK_PTB if args.quick else [])
    logged_run(ours, stem + "-ours.log", args.reuse)
    runs = {"ours": read_log(stem + "-ours.log")}
    peer = [sys.executable, "bench_torch.py", "--ptb-small"]
    if args.preset == "ptb-small" and not args.quick and args.peer:
        logged_run(peer, stem + "-torch.log", args.reuse)
        runs["PyTorch"] = read_log(stem + "-torch.log")
    if args.quick:
        (_, train1, valid1, *_), (_, train2, valid2, *_) = runs["ours"]["epochs"][:2]
        assert train2 < train1 and valid2 < valid1, f"the loss did not fall: {runs['ours']['epochs']}"
        print(f"ok: the loss falls: train perplexity {train1:.1f} -> {train2:.1f}, valid {valid1:.1f} -> {valid2:.1f}")
        return
    write_ptb_report(args.preset, runs, {"ours": ours, "PyTorch": peer}, args.note)


def write_ptb_report(preset, runs, commands, note=None):
    import train
    lines = [f"{train.PRESETS[preset][0]}: `{' '.join(['python'] + commands['ours'][1:4])}`, the corpus as one "
             "continuous stream (DESIGN.md section 8). Each epoch's line: perplexity of the epoch's training windows "
             "and of the validation stream (20 streams), wall seconds of the epoch with its evaluation, training "
             "tokens per second. At the end, valid and test as one stream; the total time counts everything "
             "from the start of the process (loading, compiling, training, evaluating, sampling).", ""]
    for name, run in runs.items():
        lines += [f"## {name}", "", f"`{' '.join(['python'] + commands[name][1:])}`", "", f"> {run['header']}", "",
                  "| epoch | learning rate | train perplexity | valid perplexity | seconds | training tokens/s |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {e:.0f} | {lr:g} | {tr:.2f} | {va:.2f} | {sec:.0f} | {tps:,.0f} |"
                  for e, tr, va, sec, tps, lr in run["epochs"]]
        lines.append("")
    lines += ["## Result", "", "| | valid perplexity | test perplexity | total wall time |", "|---|---|---|---|"]
    for name, run in runs.items():
        f = run["final"]
        lines.append(f"| {name} | {f.get('valid', float('nan')):.2f} | {f.get('test', float('nan')):.2f} | "
                     f"{f.get('seconds', float('nan')) / 60:.1f} min |")
    if preset in PAPER:
        source, valid, test = PAPER[preset]
        lines.append(f"| {source} | {valid} | {test} | |")
    if "PyTorch" in runs:
        ratio = runs["ours"]["final"]["seconds"] / runs["PyTorch"]["final"]["seconds"]
        lines += ["", f"Ours / PyTorch wall time: {ratio:.2f}x."]
    if note:
        lines += ["", f"Note: {note}"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (name, run), color in zip(runs.items(), ("C0", "C1")):
        epochs = np.array(run["epochs"])
        ax.plot(epochs[:, 0], epochs[:, 2], marker="o", color=color, label=f"{name}, valid")
        ax.plot(epochs[:, 0], epochs[:, 1], ls="--", color=color, label=f"{name}, train")
    if preset in PAPER:
        ax.axhline(PAPER[preset][2], color="gray", ls=":", label=f"paper's test perplexity {PAPER[preset][2]}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title(f"train.py --preset {preset}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    write_report(preset, f"{preset}: {train.PRESETS[preset][0]}", lines, fig)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=("vanishing", "adding", "compare", "degenerate", "ptb"))
    parser.add_argument("--quick", action="store_true", help="the small form CI runs, with its check")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=None, help="hidden units (vanishing 100, adding 128)")
    parser.add_argument("--steps", type=int, default=600, help="adding: training steps per cell and length")
    parser.add_argument("--lengths", type=lambda text: [int(T) for T in text.split(",")], default=None,
                        help="adding: only these lengths, e.g. 400 (for splitting the work between processes)")
    parser.add_argument("--cells", type=lambda text: [name for name in text.split(",") if name], default=None,
                        help=f"adding: only these cells, of {','.join(CELLS)}")
    parser.add_argument("--train-sentences", type=int, default=5000,
                        help="vanishing, compare: training sentences of each short run")
    parser.add_argument("--trials", type=int, default=5, help="compare: random-search trials per variant")
    parser.add_argument("--vocabulary", type=int, default=2000, help="compare: words kept")
    parser.add_argument("--address", default=None, help="compare: an existing Ray cluster (default: $RAY_ADDRESS, "
                        "else a local Ray on this machine)")
    parser.add_argument("--workers", type=int, default=None, help="compare: CPUs of the local Ray (default: all)")
    parser.add_argument("--out", default="results", help="adding, compare, ptb: where the runs' logs go")
    parser.add_argument("--preset", default="ptb-small", help="ptb: the train.py preset to run")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="ptb: without the PyTorch peer")
    parser.add_argument("--reuse", action="store_true", help="ptb: keep the runs whose logs are complete")
    parser.add_argument("--note", default=None, help="ptb: a remark for the report (e.g. what else ran meanwhile)")
    args = parser.parse_args(argv)
    if args.hidden is None:
        args.hidden = 128 if args.experiment == "adding" else 100
    import backend
    backend.set_float(64 if args.experiment == "degenerate" else 32)
    if args.experiment == "ptb":          # train.py and the peer run in processes of their own
        return ptb(args)
    {"vanishing": vanishing, "adding": adding, "compare": compare, "degenerate": degenerate}[args.experiment](args)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except InputError as error:
        sys.exit(f"experiments.py: {error}")
