"""The LSTM literature's claims, measured with the library (docs/design.md, "Measuring"):

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
import pickle
import platform
import shutil
import subprocess
import sys
import time

import numpy as np

import models
import runlog
from errors import InputError
from presets import PRESETS

CELLS = tuple(models.REGISTRY)
NAMES = {name: entry.title for name, entry in models.REGISTRY.items()}
build = models.build


class ClaimFailed(Exception):
    """A quick form's check found that its claim does not hold."""


def confirm(holds, message):
    """The quick form's check of its claim: a one-line failure (exit status 1) when it does not hold."""
    if not holds:
        raise ClaimFailed(message)


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


def markdown_table(header, rows):
    """A markdown table's lines: the header's cells, the rule, then each row's cells."""
    line = lambda cells: "|" + "".join(f" {cell} |" if cell else " |" for cell in cells)
    return [line(header), "|" + "---|" * len(header)] + [line(row) for row in rows]


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


VANISHING_UNROLL = 20      # train.py --preset ptb-small's windows
WHEN = ("initial", "trained", "stream")


def vanishing(args):
    import training
    from utils import model_arrays, set_parameters
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
        initial = model_arrays(model)
        for when, unroll in (() if args.quick else (("trained", 0), ("stream", VANISHING_UNROLL))):
            set_parameters(model, initial, "the initial model")       # the same start for both modes
            for slot in model.slots:
                slot.set_value(np.zeros_like(slot.get_value()))
            np.random.seed(args.seed)
            state = training.TrainingState(0.002)
            training.train_with_sgd(model, X, y, state, 1, optimizer="adam", clip=5.0, batch_size=32, unroll=unroll)
            curves[cell, when] = gradient_norms(model, sentences)
        print(cell, {f"{when} {k}": f"{v[50]:.2e}" for (c, when), norms in curves.items() if c == cell
                     for k, v in norms.items()}, flush=True)
    if args.quick:
        rnn, lstm = curves["rnn", "initial"]["s"][50], curves["lstm", "initial"]["s"][50]
        confirm(rnn * 100 <= lstm, f"at lag 50 the RNN's gradient {rnn:.2e} is not 100x below the LSTM's {lstm:.2e}")
        print(f"ok: at lag 50 the untrained RNN's gradient is {lstm / rnn:.0f}x below the LSTM's")
        return
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(19, 5.5), sharey=True)
    for ax, when in zip(axes, WHEN):
        for n, cell in enumerate(cells):
            for name, norms in curves[cell, when].items():
                cell_state = name.rstrip("0123456789") == "c"
                if name != list(curves[cell, when])[-1] and not cell_state:     # the last state feeds the output
                    continue
                ax.semilogy(np.arange(1, lag + 1), norms[1:], color=f"C{n}", linestyle="--" if cell_state else "-",
                            label=f"{NAMES[cell]}: {'cell c' if cell_state else 'state h'} ({name})")
        ax.set_title({"initial": "at initialization",
                      "trained": f"after one epoch on {args.train_sentences} sentences, sentence mode",
                      "stream": f"after the same tokens as {VANISHING_UNROLL}-step windows of 32 streams"}[when],
                     fontsize=10)
        ax.set_xlabel("lag T - t (steps back from the last word)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean ||dL_T / d state_t|| (log scale)")
    axes[2].legend(fontsize=7, ncol=2)
    figure.suptitle(f"Vanishing gradients: how the loss on word {lag + 1} of a Penn Treebank sentence depends on "
                    f"earlier states (hidden {args.hidden}, vocabulary 2000, mean of {len(sentences)} sentences)")
    lags = (1, 10, 20, 50)
    lines = [f"Mean over {len(sentences)} Penn Treebank training sentences of at least {lag + 1} words (cut there; "
             f"vocabulary 2000) of the norm of the gradient of word {lag + 1}'s loss with respect to each state, "
             f"for hidden size {args.hidden}. Trained: after one epoch of Adam (lr 0.002, batch 32, clip 5) on the "
             f"first {args.train_sentences} training sentences, from the same initial model in two modes: "
             "'trained', sentence mode (batches of 32 whole sentences, each from zero states, full BPTT); "
             f"'stream', the same sentences' tokens as one text cut into 32 streams read in windows of "
             f"{VANISHING_UNROLL} steps, each window starting from the states the previous one ended in (the "
             "gradient cut there), as train.py --preset ptb-small trains. The same tokens, optimizer and sizes: "
             "only the streams differ. A state's gradient is its total derivative through every later step (for "
             "the LSTM family's cell c, with the same step's h held). The gradients are measured the same way "
             "for both: within one sentence, from zero states.", "",
             "Lag 50 against lag 1 of each model's longest-lived state (the cell c where there is one, else the "
             "state), after training in each mode:", ""]
    longest = {cell: next((n for n in curves[cell, "initial"] if n.rstrip("0123456789") == "c"),
                          list(curves[cell, "initial"])[-1]) for cell in cells}
    lines += markdown_table(("cell", "state", "initial", "sentence mode", "stream mode"),
                            [(NAMES[cell], longest[cell], *(f"{curves[cell, when][longest[cell]][50] / curves[cell, when][longest[cell]][1]:.1e}"
                                                          for when in WHEN)) for cell in cells])
    lines += ["", "Every state:", ""]
    lines += markdown_table(("cell", "state", "when", *(f"lag {k}" for k in lags), "lag 50 / lag 1"),
                            [(NAMES[cell], name, when, *(f"{norms[k]:.2e}" for k in lags), f"{norms[50] / norms[1]:.1e}")
                             for cell in cells for when in WHEN
                             for name, norms in curves[cell, when].items()])
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


ADDING_BASELINE = 1 / 6             # the MSE of always predicting 1, the targets' mean
ADDING_SOLVED = 0.01                # a check below this test MSE counts towards solved
ADDING_RATES = (1e-3, 3e-3, 1e-2)   # the pilot's Adam learning rates
ADDING_PILOT = {"T": 100, "budget": 1000}      # run to the end, one seed per rate: the best final MSE wins
ADDING_LENGTHS = (50, 100, 200, 400)
ADDING_LONG_CELLS = ("rnn", "lstm", "gru", "cifg")     # the cells of the minimum grid beyond T = 200
# 80,000 sequences of 20: more than the ~74,000 Hochreiter & Schmidhuber (1997) needed at T = 100
ADDING_FAIR_STEPS = 4000
ADDING_CHECKPOINTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs", "adding")
_regression_models = {}             # a process's compiled models, reused by its later runs (Ray workers)


def first_solved(curve):
    """The step of the first of two consecutive checks below ADDING_SOLVED, or None."""
    for (step, mse), (_, after) in zip(curve, curve[1:]):
        if mse < ADDING_SOLVED and after < ADDING_SOLVED:
            return step
    return None


def train_adding(cell, T, budget, hidden, seed, learning_rate, batch=20, check_every=100, early_stop=True,
                 checkpoint=None, compiled=None):
    """Train one cell on the adding problem with Adam (gradient norm clipped to 1), up to `budget` steps of
    `batch` fresh sequences, scored on 500 fixed test sequences every check_every steps.  Solved: test MSE
    below 0.01 at two consecutive checks (solved at the first); with early_stop the run ends at the second.
    checkpoint: a file that keeps the run's state at every check, from which an interrupted run, or one
    given a larger budget, continues exactly.  Returns {"curve": [(step, MSE)], "solved", "steps"}."""
    import training
    rng = np.random.RandomState(seed)
    model = fresh_regression_model(_regression_models if compiled is None else compiled, cell, hidden, seed)
    X_test, y_test = adding_batch(np.random.RandomState([seed, T]), T, 500)     # apart from the training draws
    identity = [cell, T, hidden, seed, learning_rate, batch, check_every]
    curve, step = [], 0
    if checkpoint and os.path.exists(checkpoint):
        with open(checkpoint, "rb") as f:
            saved = pickle.load(f)
        if saved["identity"] == identity:
            model.compiled("train_values", optimizer="adam", clip=1.0)      # creates Adam's slots
            for variable, value in zip(model.params + model.slots, saved["arrays"]):
                variable.set_value(value)
            rng.set_state(saved["rng"])
            curve, step = saved["curve"], saved["step"]
    while step < budget and not (early_stop and first_solved(curve)):
        model.train_values(*adding_batch(rng, T, batch), learning_rate, optimizer="adam", clip=1.0)
        step += 1
        if step % check_every == 0 or step == budget:
            mse = float(np.mean(np.square(model.values(X_test) - y_test)))
            if not np.isfinite(mse):
                raise training.Diverged(f"the test MSE became {mse} at step {step}")
            curve.append((step, mse))
            if checkpoint:
                os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
                with open(checkpoint + ".new", "wb") as f:
                    pickle.dump({"identity": identity, "step": step, "curve": curve, "rng": rng.get_state(),
                                 "arrays": [v.get_value() for v in model.params + model.slots]}, f)
                os.replace(checkpoint + ".new", checkpoint)     # never half-written
    return {"curve": curve, "solved": first_solved(curve), "steps": step}


def adding_key(run):
    """A protocol run's identity in the log (rows of older runs, without a phase, have none)."""
    if "phase" not in run:
        return None
    return run["phase"], run["cell"], run["T"], run["seed"], run["learning_rate"], run["hidden"]


def run_adding(config):
    """One run of the protocol (a Ray task): the config with its result.  A failure of any kind, divergence
    included, is returned as such, not raised."""
    started = time.perf_counter()
    result = dict(config, status="ok", error=None, curve=[], solved=None, steps=0)
    try:
        import backend
        backend.set_float(32)
        name = "{phase}-{cell}-T{T}-h{hidden}-seed{seed}-lr{learning_rate:g}.pkl".format(**config)
        result.update(train_adding(config["cell"], config["T"], config["budget"], config["hidden"], config["seed"],
                                   config["learning_rate"], config["batch"], config["check_every"],
                                   early_stop=config["phase"] == "final",
                                   checkpoint=os.path.join(ADDING_CHECKPOINTS, name)))
    except Exception as error:          # a failed run is a result of the protocol, not the end of it
        result.update(status="diverged" if type(error).__name__ == "Diverged" else "failed",
                      error=f"{type(error).__name__}: {error}"[:300])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def pilot_rates(done, cells, hidden, seed):
    """{cell: the pilot's learning rate with the lowest final test MSE}, for the cells whose pilot is complete."""
    rates = {}
    for cell in cells:
        runs = [done.get(("pilot", cell, ADDING_PILOT["T"], seed, lr, hidden)) for lr in ADDING_RATES]
        runs = [r for r in runs if r]
        if len(runs) == len(ADDING_RATES) and any(r["status"] == "ok" for r in runs):
            rates[cell] = min((r for r in runs if r["status"] == "ok"), key=lambda r: r["curve"][-1][1])["learning_rate"]
    return rates


def adding_grid(cells, lengths, seeds, rates, hidden, budget, long_cells=ADDING_LONG_CELLS):
    """The final phase's runs: every cell up to T = 200, beyond it long_cells only, each at its pilot's
    learning rate."""
    return [{"phase": "final", "cell": cell, "T": T, "seed": seed, "learning_rate": rates[cell], "hidden": hidden,
             "budget": budget, "batch": 20, "check_every": 100}
            for T in lengths for cell in cells if cell in rates and (T <= 200 or cell in long_cells)
            for seed in seeds]


def adding(args):
    """The protocol: a pilot at T = 100 picks each cell's learning rate (of ADDING_RATES, by final test MSE),
    then every cell runs len(seeds) seeds at each length, to a fair budget or until solved.  Every run is a
    Ray task, logged as it finishes in results/adding-runs.jsonl with its phase, rate and budget, so that an
    interrupted protocol resumes (an unfinished run from its checkpoint in runs/adding/; a failed one, e.g.
    a worker lost, again; a diverged one is a result), a run logged with a smaller budget and unsolved is
    continued to the new one, and a larger grid can run on a cluster (--address).  The report is written
    from the log, complete or not."""
    if args.quick:
        curve = train_adding("lstm", 30, 400, 32, args.seed, 0.01, early_stop=False, compiled={})["curve"]
        mse = curve[-1][1]
        confirm(mse < ADDING_BASELINE / 4, f"the LSTM's MSE {mse:.3f} at T = 30 is not a quarter of the baseline 1/6")
        print(f"ok: the LSTM's MSE at T = 30 is {mse:.4f}, below a quarter of the baseline 1/6")
        return
    cells = args.cells or CELLS
    unknown = (set(cells) | set(args.long_cells or ())) - set(CELLS) or {T for T in args.lengths or () if T < 2}
    if unknown:
        raise InputError(f"--cells and --long-cells take some of {','.join(CELLS)} and --lengths lengths of 2 or more, "
                         f"not {','.join(map(str, sorted(unknown)))}")
    lengths = args.lengths or ADDING_LENGTHS
    budget = args.steps or ADDING_FAIR_STEPS
    seeds = list(range(args.seed, args.seed + args.seeds))
    pilot_seed = args.seed + 100        # a seed of its own: the finals do not repeat the pilot's runs
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "adding-runs.jsonl")
    address = args.address or os.environ.get("RAY_ADDRESS")
    pilot = [{"phase": "pilot", "cell": cell, "T": ADDING_PILOT["T"], "seed": pilot_seed, "learning_rate": lr,
              "hidden": args.hidden, "budget": ADDING_PILOT["budget"], "batch": 20, "check_every": 100}
             for cell in cells for lr in ADDING_RATES]
    if not args.report:
        run_study(pilot, path, address, args.workers, task=run_adding, key=adding_key, noun="runs",
                  rerun=lambda old, new: old["status"] == "failed")
    rates = pilot_rates(finished_runs(path, adding_key), cells, args.hidden, pilot_seed)
    final = adding_grid(cells, lengths, seeds, rates, args.hidden, budget, args.long_cells or ADDING_LONG_CELLS)
    if not args.report:
        run_study(final, path, address, args.workers, task=run_adding, key=adding_key, noun="runs",
                  rerun=lambda old, new: old["status"] == "failed" or old["status"] == "ok" and old["solved"] is None
                  and old["budget"] < new["budget"])
    write_adding(finished_runs(path, adding_key), pilot, final, cells, lengths, seeds, rates, args)


def median_steps_to_solve(runs, budget):
    """The median over the runs of the steps to solve, an unsolved run counting as more than any budget;
    as text ("> budget" when the median run did not solve)."""
    steps = sorted(r["solved"] if r["solved"] is not None else np.inf for r in runs)
    middle = steps[(len(steps) - 1) // 2: len(steps) // 2 + 1]
    return f"> {budget}" if np.isinf(middle).any() else f"{np.mean(middle):.0f}"


def adding_cell(runs, expected, fair):
    """The table's entry for one cell and length: solved k/n, the median steps to solve, and what is missing,
    failed or budget-limited."""
    if not runs:
        return f"{expected} to run"
    ok = [r for r in runs if r["status"] == "ok"]
    text = f"{sum(r['solved'] is not None for r in ok)}/{expected}"
    if ok and len(ok) == expected:
        text += f", {median_steps_to_solve(ok, max(r['budget'] for r in ok))}"
    notes = [f"{expected - len(runs)} to run"] if len(runs) < expected else []
    notes += [f"seed {r['seed']} {r['status']}" for r in runs if r["status"] != "ok"]
    limited = [r for r in ok if r["solved"] is None and r["budget"] < fair]
    if limited:
        notes.append("budget-limited: " + ", ".join(f"{r['steps']} steps" for r in limited))
    return text + (f" ({'; '.join(notes)})" if notes else "")


def adding_claims(solved_counts):
    """The literature's two claims on the adding problem, judged per length from {(cell, T): (solved, runs)}
    of the final phase: an RNN fails at long lags (Hochreiter & Schmidhuber 1997) and an LSTM, given enough
    sequences, solves them.  At a length where both have all their runs, the pair is reproduced when the
    LSTM solves most and the RNN none, contradicted when the RNN solves as many as the LSTM, else undecided.
    Lines of markdown."""
    verdicts = {}
    for T in sorted({T for _, T in solved_counts}):
        rnn, lstm = solved_counts.get(("rnn", T)), solved_counts.get(("lstm", T))
        if not rnn or not lstm:
            continue
        if rnn[0] == 0 and 2 * lstm[0] > lstm[1]:
            verdict = "reproduced"
        elif rnn[0] >= lstm[0]:
            verdict = "contradicted"
        else:
            verdict = "undecided"
        verdicts.setdefault(verdict, []).append(f"T = {T} (RNN {rnn[0]}/{rnn[1]}, LSTM {lstm[0]}/{lstm[1]})")
    return [f"- *Long lags defeat the RNN, not the LSTM* (Hochreiter & Schmidhuber 1997), {verdict}: "
            + ", ".join(where) for verdict, where in verdicts.items()]


def write_adding(done, pilot, final, cells, lengths, seeds, rates, args):
    fair = ADDING_FAIR_STEPS
    get = lambda config: done.get(adding_key(config))
    lines = [f"Each cell has {args.hidden} hidden units (the DG-LSTM two layers of {args.hidden}), a linear output "
             "on its last state and Adam (gradient norm clipped to 1) on batches of 20 fresh sequences. Test: 500 "
             "fixed sequences per run, scored every 100 steps. Solved: test MSE below 0.01 at two consecutive "
             "checks; the steps to solve are those of the first (a multiple of 100), and the run stops at the "
             f"second. Baseline: predicting 1 gives MSE 1/6 = {ADDING_BASELINE:.3f}. Every run is one line of "
             "`results/adding-runs.jsonl` (phase, learning rate, step budget, curve); the lines without a phase "
             "are the single-seed runs of an earlier version (one rate, 600 steps) and count nowhere here.", "",
             "## Pilot: each cell's learning rate", "",
             f"T = {ADDING_PILOT['T']}, seed {pilot[0]['seed'] if pilot else '-'}, {ADDING_PILOT['budget']} steps "
             "run to the end whatever the MSE. The rate with the lowest final test MSE (bold) is the cell's in the "
             "final phase.", "", "| cell | " + " | ".join(f"lr {lr:g}: final MSE" for lr in ADDING_RATES) + " |",
             "|---|" + "---|" * len(ADDING_RATES)]
    for cell in cells:
        row = []
        for config in (c for c in pilot if c["cell"] == cell):
            run = get(config)
            text = ("to run" if run is None else run["status"] if run["status"] != "ok" else
                    f"{run['curve'][-1][1]:.4f}" + (f" (solved at {run['solved']})" if run["solved"] else ""))
            row.append(f"**{text}**" if rates.get(cell) == config["learning_rate"] else text)
        lines.append(f"| {NAMES[cell]} | " + " | ".join(row) + " |")
    lines += ["", "## Final: solved k/n and median steps to solve", "",
              f"{len(seeds)} seeds ({', '.join(map(str, seeds))}) per cell and length, each at its pilot's rate, "
              f"with a budget of {fair} steps ({fair * 20:,} sequences: more than the ~74,000 Hochreiter & "
              "Schmidhuber (1997) needed at T = 100). The median counts an unsolved run as slower than any budget "
              "('> budget'). Budget-limited: a run not solved within a budget below that one, with the steps it "
              f"got. Beyond T = 200 the grid holds the {', '.join(NAMES[c] for c in ADDING_LONG_CELLS)} only.", "",
              "| cell | lr | " + " | ".join(f"T = {T}" for T in lengths) + " |", "|---|---|" + "---|" * len(lengths)]
    complete = {}           # (cell, T): (solved, runs) where every run is logged and ok
    for cell in cells:
        row = []
        for T in lengths:
            configs = [c for c in final if c["cell"] == cell and c["T"] == T]
            runs = [r for r in map(get, configs) if r]
            row.append(adding_cell(runs, len(configs), fair) if configs else "-")
            if configs and len(runs) == len(configs) and all(r["status"] == "ok" for r in runs):
                complete[cell, T] = (sum(r["solved"] is not None for r in runs), len(runs))
        rate = f"{rates[cell]:g}" if cell in rates else "pilot to run"
        lines.append(f"| {NAMES[cell]} | {rate} | " + " | ".join(row) + " |")
    claims = adding_claims(complete)
    if claims:
        lines += ["", "## The claims", "", "Solved runs of the final phase, at the lengths where every run is "
                  "logged:", ""] + claims
    missing = sum(get(c) is None for c in pilot + final) + len(ADDING_RATES) * sum(c not in rates for c in cells)
    finished = [r for r in map(get, pilot + final) if r]
    lines += ["", f"Runs logged: {len(finished)} ({sum(r['seconds'] for r in finished) / 3600:.1f} hours of one worker); "
              + (f"still to run: {missing} or more (the final runs of a cell wait for its pilot). Resume with the "
                 "same command: finished runs are read from the log, an interrupted one continues from its "
                 "checkpoint in runs/adding/." if missing else "the grid is complete.")]
    plt = pyplot()
    figure, axes = plt.subplots(1, len(lengths), figsize=(4.2 * len(lengths), 4.6), sharey=True, squeeze=False)
    for ax, T in zip(axes[0], lengths):
        for n, cell in enumerate(cells):
            runs = [r for r in map(get, (c for c in final if c["cell"] == cell and c["T"] == T))
                    if r and r["status"] == "ok" and r["curve"]]
            if not runs:
                continue
            steps = np.arange(100, max(r["steps"] for r in runs) + 1, 100)
            # a run stopped when solved keeps its last score
            mse = np.array([np.interp(steps, *zip(*r["curve"])) for r in runs])
            ax.semilogy(steps, np.median(mse, axis=0), color=f"C{n}",
                        label=f"{NAMES[cell]} (lr {rates[cell]:g})")
            if len(runs) > 1:
                ax.fill_between(steps, mse.min(axis=0), mse.max(axis=0), color=f"C{n}", alpha=0.15, linewidth=0)
        if not ax.lines:
            ax.text(0.5, 0.5, "no final runs logged yet", transform=ax.transAxes, ha="center", color="gray")
        ax.axhline(ADDING_BASELINE, color="black", linestyle=":", label="baseline 1/6 (always predict 1)")
        ax.axhline(ADDING_SOLVED, color="gray", linestyle="--", label="solved: MSE 0.01")
        ax.set_xlim(0, max([c["budget"] for c in final] + [100]))
        ax.set_title(f"T = {T} steps")
        ax.set_xlabel("training step (batch of 20 sequences)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel("test mean squared error (500 sequences, log scale)")
    handles = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    figure.legend(handles.values(), handles.keys(), loc="lower center", ncol=5, fontsize=8,
                  bbox_to_anchor=(0.5, -0.12))
    figure.suptitle(f"The adding problem: median of {len(seeds)} seeds (line) and their range (band) per cell, "
                    f"hidden {args.hidden}, Adam at each cell's pilot rate, up to {fair} steps")
    write_report("adding", "The adding problem", lines, figure)


# ---------------------------------------------------------------------------------------- degenerate
def degenerate(args):
    """The WildML tutorial's claim (part 4) that an LSTM whose gates are held open (f = 0, i = 1, o = 1) is an
    RNN with one more tanh, s_t = tanh(tanh(U x_t + W s_{t-1})): the LSTM's probabilities against that
    recurrence in numpy and against our RNN with the same U, W and V (tests/test_models.py asserts the same)."""
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
        confirm(against_twice < 1e-12 and against_rnn > 1e-2, f"the open-gated LSTM differs by {against_twice:.1e} "
                f"from the RNN with one more tanh and by {against_rnn:.1e} from the plain RNN")
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
# NP (no peepholes) is our plain LSTM.  Then four other cells of the library.  name: (models.REGISTRY name,
# options).  The study's design, not a list of the library's cells: a trial's seed follows its variant's place here.
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


def trial_key(record):
    """A comparison trial's identity in its log."""
    return record["variant"], record["trial"]


def finished_runs(path, key=trial_key):
    """The runs already recorded in a study's log (one JSON object per line), by key(record); a later line
    replaces an earlier one of the same key, and lines whose key is None are not the study's."""
    if not os.path.exists(path):
        return {}
    done = {}
    for line in open(path):
        if line.strip():
            record = json.loads(line)
            if key(record) is not None:
                done[key(record)] = record
    return done


def run_study(configs, path, address=None, workers=None, task=None, key=trial_key, noun="trials",
              rerun=lambda old, new: False):
    """Run task(config) (default run_trial) as Ray tasks for the configs not yet in the log, appending each
    result to the log as it arrives (an interrupted study resumes where it stopped); rerun(logged, config)
    says when a logged run is to run again (a larger budget).  address: an existing Ray cluster (else a
    local Ray on this machine's cores), whose nodes need this directory's code, shipped as the job's
    working directory."""
    try:
        import ray
    except ImportError:
        raise InputError("the studies run on Ray: pip install -r requirements-ray.txt") from None
    done = finished_runs(path, key)
    todo = [c for c in configs if key(c) not in done or rerun(done[key(c)], c)]
    print(f"{sum(key(c) in done for c in configs)} {noun} already recorded in {path}, {len(todo)} to run", flush=True)
    if not todo:
        return done
    here = os.path.dirname(os.path.abspath(__file__))
    runtime = ({"working_dir": here, "excludes": [".git", ".venv*", "runs", "results", "__pycache__"]} if address
               else {"env_vars": {"PYTHONPATH": here}})
    ray.init(address=address, num_cpus=None if address else workers, runtime_env=runtime,
             include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(task or run_trial)
        pending = {remote.remote(c): c for c in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            config = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as error:      # the worker itself died: recorded, and the study goes on
                result = dict(config, status="failed", curve=[], error=f"{type(error).__name__}: {error}"[:300])
            with open(path, "a") as log:
                log.write(json.dumps(result) + "\n")
            score = (f"valid perplexity {result.get('valid_perplexity', float('nan')):.1f}" if "variant" in result
                     else f"solved at {result.get('solved')}, {result.get('steps', 0)} steps")
            print(f"{' '.join(map(str, key(result)))}: {result['status']}, {score}, {result.get('seconds', 0):.0f} s",
                  flush=True)
    finally:
        ray.shutdown()
    return finished_runs(path, key)


def compare(args):
    variants = ("RNN", "CW-RNN") if args.quick else tuple(VARIANTS)     # quick: the cheapest to compile
    trials = 1 if args.quick else args.trials
    budget = ({"vocabulary": 500, "sentences": 200, "valid": 100} if args.quick else
              {"vocabulary": args.vocabulary, "sentences": args.train_sentences, "valid": 1000})
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "compare-quick-trials.jsonl" if args.quick else "compare-trials.jsonl")
    configs = trial_configs(variants, trials, args.seed, budget)
    # Submitted trial by trial, so that a study stopped early has every variant at nearly the same count.
    by_trial = sorted(configs, key=lambda c: c["trial"])
    done = (finished_runs(path) if args.report else
            run_study(by_trial, path, args.address or os.environ.get("RAY_ADDRESS"), args.workers))
    results = [done[c["variant"], c["trial"]] for c in configs if (c["variant"], c["trial"]) in done]
    if args.quick:
        confirm(len(results) == len(configs), f"{len(results)} of {len(configs)} trials recorded")
        for r in results:
            confirm(r["status"] == "ok" and np.isfinite(r["valid_perplexity"]),
                    f"{r['variant']} trial {r['trial']}: {r['status']}, {r.get('error') or r['valid_perplexity']}")
        print(f"ok: {len(results)} trials on Ray, perplexities " +
              ", ".join(f"{r['variant']} {r['valid_perplexity']:.0f}" for r in results))
        return
    write_comparison(results, variants, budget, args)


GREFF_FINDINGS = (("NFG", "hurts"), ("NOAF", "hurts"), ("CIFG", "costs nothing"), ("NP", "costs nothing"))
EQUIVALENCE = 0.05      # "costs nothing": the whole interval of the ratio to V within +-5%


def adjusted_log_perplexity(trials, variants):
    """Each trial's log perplexity less the part its hyperparameters explain, from one least-squares fit
    of log perplexity on the variant (one level each), log learning rate and its square, and log hidden
    size: the score it would have had at a common learning rate and size (an analysis of covariance)."""
    log_lr = np.log10([r["learning_rate"] for r in trials])
    log_hidden = np.log([r["hidden"] for r in trials])
    covariates = np.stack([log_lr - log_lr.mean(), (log_lr - log_lr.mean()) ** 2, log_hidden - log_hidden.mean()], 1)
    levels = np.array([[r["variant"] == v for v in variants] for r in trials], float)
    y = np.log([r["valid_perplexity"] for r in trials])
    coefficients = np.linalg.lstsq(np.hstack([levels, covariates]), y, rcond=None)[0]
    return y - covariates @ coefficients[len(variants):]


def variance_shares(trials):
    """{factor: eta squared}: the share of the variance of log perplexity over all trials that each factor
    explains alone (a one-way analysis of variance; the learning rate in 5 bins of equal count)."""
    y = np.log([r["valid_perplexity"] for r in trials])
    lr = np.array([r["learning_rate"] for r in trials])
    bins = np.searchsorted(np.quantile(lr, [0.2, 0.4, 0.6, 0.8]), lr)
    factors = {"learning rate (5 bins)": bins, "hidden size (6 values)": [r["hidden"] for r in trials],
               "variant": [r["variant"] for r in trials]}
    shares = {}
    for name, groups in factors.items():
        groups = np.asarray(groups)
        between = sum((groups == g).sum() * (y[groups == g].mean() - y.mean()) ** 2 for g in np.unique(groups))
        shares[name] = between / ((y - y.mean()) ** 2).sum()
    return shares


def welch_against(scores, reference, comparisons, alpha=0.05):
    """Welch's t-test of a variant's mean (log) score against V's, Bonferroni-corrected for `comparisons`
    tests: (corrected p, ratio of geometric means - 1, its interval at 1 - alpha / comparisons)."""
    from scipy import stats
    test = stats.ttest_ind(scores, reference, equal_var=False)
    interval = test.confidence_interval(1 - alpha / comparisons)
    return (min(1.0, test.pvalue * comparisons), float(np.exp(np.mean(scores) - np.mean(reference)) - 1),
            (float(np.exp(interval.low) - 1), float(np.exp(interval.high) - 1)))


def greff_verdict(claim, p, interval, alpha=0.05):
    """Reproduced, contradicted or undecided, for 'hurts' (significantly worse than V) and 'costs
    nothing' (not significantly different, and the interval inside +-EQUIVALENCE)."""
    low, high = interval
    if claim == "hurts":
        return "reproduced" if p < alpha and low > 0 else "contradicted" if p < alpha and high < 0 else "undecided"
    if p < alpha:
        return "contradicted"
    return "reproduced" if -EQUIVALENCE <= low and high <= EQUIVALENCE else "undecided"


def write_comparison(results, variants, budget, args):
    from scipy import stats
    ok = {v: [r for r in results if r["variant"] == v and r["status"] == "ok"] for v in variants}
    ppl = {v: np.array([r["valid_perplexity"] for r in ok[v]]) for v in variants}
    ranked = sorted((v for v in variants if len(ppl[v])), key=lambda v: np.median(ppl[v]))
    every = [r for v in ranked for r in ok[v]]
    adjusted = dict(zip(map(id, every), adjusted_log_perplexity(every, ranked)))
    scores = {v: np.array([adjusted[id(r)] for r in ok[v]]) for v in ranked}
    others = [v for v in ranked if v != "V"]
    raw = {v: welch_against(np.log(ppl[v]), np.log(ppl["V"]), len(others)) for v in others}
    equal = {v: welch_against(scores[v], scores["V"], len(others)) for v in others}
    shares = variance_shares(every)
    within = {v: np.corrcoef(np.log10([r["learning_rate"] for r in ok[v]]), np.log(ppl[v]))[0, 1] ** 2
              for v in ranked if len(ok[v]) > 2}
    trials = min(len(ok[v]) for v in ranked)
    plt = pyplot()
    figure, (box, scatter) = plt.subplots(1, 2, figsize=(15, 5.5))
    box.boxplot([ppl[v] for v in ranked], tick_labels=ranked)
    box.set_ylabel("validation perplexity after the budget (lower is better)")
    box.set_xlabel("variant (sorted by median)")
    box.tick_params(axis="x", labelrotation=45)
    box.set_title("Distribution over the random search's trials")
    for n, v in enumerate(ranked):
        scatter.scatter([r["learning_rate"] for r in ok[v]], ppl[v], color=f"C{n % 10}", marker="os^"[n // 10],
                        label=v)
    scatter.set_xscale("log")
    scatter.set_xlabel("learning rate (Adam, log scale)")
    scatter.set_ylabel("validation perplexity")
    scatter.set_title("Learning rate against perplexity, one point per trial")
    scatter.legend(fontsize=7, ncol=2)
    for ax in (box, scatter):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    figure.suptitle(f"Greff-style comparison: {trials} or more random-search trials per variant, each one epoch "
                    f"of Adam on {budget['sentences']} PTB sentences (vocabulary {budget['vocabulary']})")
    lines = [f"Each trial trains one variant from its own seed with a learning rate drawn log-uniform from "
             f"[3e-4, 3e-2] (Adam, gradient norm clipped to 5) and a hidden size drawn from {HIDDEN_SIZES}, for one "
             f"epoch over the first {budget['sentences']} Penn Treebank training sentences (vocabulary "
             f"{budget['vocabulary']}, batches of 32, full BPTT), and is scored by its perplexity on the first "
             f"{budget['valid']} validation sentences. V is Greff et al.'s vanilla LSTM (our peephole LSTM); NP, "
             "CIFG, NIG, NFG, NOG, NIAF, NOAF and FGR each change one thing in it. Trials ran as Ray tasks, "
             f"{sum(r.get('seconds', 0) for r in results) / 3600:.1f} CPU-hours in all; "
             "`results/compare-trials.jsonl` holds every trial's settings, curve and result.", "",
             "**The test.** Greff et al. (2015) marked a variant as different from V by Welch's t-test at "
             "p < 0.05. Here: Welch's t-test of each variant's mean log perplexity against V's, with a Bonferroni "
             f"correction, the p-value multiplied by the {len(others)} comparisons (significant: "
             "corrected p < 0.05), the difference shown as the ratio of geometric means less 1 with its "
             f"{100 - 5 / len(others):.1f}% (Bonferroni) interval. Greff's trials were tuned by a random search of "
             "200 trials and he tested the best 10%; ours are every trial of a random search over the learning "
             "rate and size, so each test is run twice: on the raw perplexities, and at an equal learning rate "
             "and size, where each trial's log perplexity is less the part that a least-squares fit (variant, "
             "log learning rate and its square, log hidden size) attributes to its hyperparameters.", "",
             "| variant | trials ok / run | median perplexity | best | raw: vs V (interval), corrected p | "
             "at an equal learning rate and size: vs V (interval), corrected p | median parameters |",
             "|---|---|---|---|---|---|---|"]
    for v in ranked:
        cells = [f"{d:+.1%} ({low:+.0%} to {high:+.0%}), {p:.2g}" for p, d, (low, high) in
                 ((raw[v], equal[v]) if v != "V" else ())] or ["reference", "reference"]
        lines.append(f"| {v} | {len(ok[v])} / {sum(r['variant'] == v for r in results)} | {np.median(ppl[v]):.1f} | "
                     f"{ppl[v].min():.1f} | {cells[0]} | {cells[1]} | "
                     f"{int(np.median([r['parameters'] for r in ok[v]])):,} |")
    failed = [r for r in results if r["status"] != "ok"]
    lines += ["", f"Failed or diverged trials: {len(failed)}" + "".join(
        f"\n- {r['variant']} trial {r['trial']} (lr {r['learning_rate']:.2g}, hidden {r['hidden']}): {r['error']}"
        for r in failed)]
    lines += ["", "**The learning rate's share of the variance** (Greff et al.'s fANOVA finding: the learning rate "
              "is by far the most important hyperparameter). Without fANOVA's random forest: the share of the "
              "variance of log perplexity over all trials that each factor explains alone (eta squared of a one-way "
              "analysis of variance):", "", "| factor | share of the variance |", "|---|---|"]
    lines += [f"| {name} | {share:.0%} |" for name, share in shares.items()]
    lines += ["", f"Within a variant, log learning rate alone explains a median {np.median(list(within.values())):.0%} "
              f"of the variance of log perplexity (R^2 of a line, {min(within.values()):.0%} to "
              f"{max(within.values()):.0%} over the variants).", "",
              "**Against Greff et al.'s findings**, at an equal learning rate and size (reproduced: a significant "
              f"difference in the claimed direction, or for 'costs nothing' no significant difference and the whole "
              f"interval within +-{EQUIVALENCE:.0%}; contradicted: significant the other way; undecided otherwise):",
              ""]
    for v, claim in GREFF_FINDINGS:
        if v in equal:
            p, d, (low, high) = equal[v]
            lines.append(f"- {v} {claim} (Greff): {greff_verdict(claim, p, (low, high))}: {d:+.1%} "
                         f"({low:+.0%} to {high:+.0%}), corrected p = {p:.2g}, {len(ok[v])} trials.")
    better = [v for v in others if equal[v][0] < 0.05 and equal[v][2][1] < 0]
    lines.append("- No variant improves on V significantly (Greff): " + (
        f"contradicted: {', '.join(better)} significantly better." if better else
        "reproduced at this power: none is significantly better (the intervals above say how large an "
        "improvement these trials could still miss)."))
    spread = np.sqrt(np.mean([np.var(scores[v], ddof=1) for v in ranked if len(scores[v]) > 1]))
    lines.append(f"- Power: at the spread of these trials (within-variant standard deviation {spread:.3f} of the adjusted "
                 "log perplexity), n trials per variant give Bonferroni intervals of about +-" + ", +-".join(
                     f"{np.exp(stats.t.ppf(1 - 0.025 / len(others), 2 * n - 2) * spread * np.sqrt(2 / n)) - 1:.0%} at {n}"
                     for n in (20, 50, 100)) + f": a 'costs nothing' within +-{EQUIVALENCE:.0%} needs the last.")
    biggest = max(shares, key=shares.get)
    lines.append(f"- The learning rate matters most (Greff): {'reproduced' if biggest.startswith('learning') else 'contradicted'}"
                 f": it explains {shares['learning rate (5 bins)']:.0%} of the variance, the hidden size "
                 f"{shares['hidden size (6 values)']:.0%}, the variant {shares['variant']:.0%}.")
    write_report("compare", "Greff-style comparison of the recurrent cells", lines, figure)


# ---------------------------------------------------------------------------------------- main
PAPER = {"ptb-small": ("Zaremba et al. 2014, Table 1 (non-regularized LSTM)", 120.7, 114.5),
         "ptb-small-regularized": ("Kim et al. 2016, LSTM-Word-Small (2x200, dropout 0.5): the target's reference",
                                   "-", 97.6)}
QUICK_PTB = ["--max-sentences", "4000", "--hidden-dim", "32", "--embedding-dim", "32", "--vocabulary-size", "2000",
             "--nepoch", "2", "--sample", "0"]
EPOCH_COLUMNS = ("epoch", "learning_rate", "train_perplexity", "perplexity", "seconds", "tokens_per_second")


def read_log(path):
    """A run's JSON-lines log (runlog.py), as the report uses it: the command and header line it started
    with, a row of EPOCH_COLUMNS per report, and the final numbers (valid, test, seconds)."""
    records = runlog.read(path)
    start = next((r for r in records if r["event"] == "start"), {})
    return {"command": start.get("command", ""), "header": start.get("header", ""),
            "epochs": [[r[column] for column in EPOCH_COLUMNS] for r in records if r["event"] == "report"],
            "final": next((r for r in records if r["event"] == "final"), {})}


def finished(path):
    """Whether a run's log is complete (has its final numbers)."""
    return os.path.exists(path) and "seconds" in read_log(path)["final"]


def logged_run(command, log, keep, reuse):
    """Run a training command, its output shown as it comes, and keep its JSON-lines log (written at
    `log`) in `keep`; with reuse, a complete log already in `keep` is used instead."""
    if reuse and finished(keep):
        print(f"reusing {keep}")
        return
    print("$ " + " ".join(command), flush=True)
    if subprocess.run(command).returncode:
        raise InputError(f"{command[1]} failed; its log is {log}")
    if log != keep:
        shutil.copyfile(log, keep)


def ptb(args):
    """train.py --preset on the Penn Treebank's continuous stream, and for ptb-small its PyTorch peer with the
    same recipe on the same machine: per-epoch tables, final perplexities and wall times, a learning curve."""
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.preset + ("-quick" if args.quick else ""))
    model = os.path.join(args.out if args.quick else "runs", os.path.basename(stem) + ".npz")
    ours = [sys.executable, "train.py", "--preset", args.preset, "--no-progress", "--model-output-file", model
            ] + (QUICK_PTB if args.quick else [])
    logged_run(ours, runlog.beside(model), stem + "-ours.jsonl", args.reuse)
    runs = {"ours": read_log(stem + "-ours.jsonl")}
    if args.preset == "ptb-small" and not args.quick and args.peer:
        peer = [sys.executable, "bench_torch.py", "--ptb-small", "--log", stem + "-torch.jsonl"]
        logged_run(peer, stem + "-torch.jsonl", stem + "-torch.jsonl", args.reuse)
        runs["PyTorch"] = read_log(stem + "-torch.jsonl")
    if args.quick:
        (_, _, train1, valid1, *_), (_, _, train2, valid2, *_) = runs["ours"]["epochs"][:2]
        confirm(train2 < train1 and valid2 < valid1, f"the loss did not fall: {runs['ours']['epochs']}")
        print(f"ok: the loss falls: train perplexity {train1:.1f} -> {train2:.1f}, valid {valid1:.1f} -> {valid2:.1f}")
        return
    write_ptb_report(args.preset, runs, args.note)


def write_ptb_report(preset, runs, note=None):
    description = PRESETS[preset][0]
    lines = [f"{description}: `python train.py --preset {preset}`, the corpus as one continuous stream "
             "(docs/design.md, \"Continuous streams\"). Each epoch's line: perplexity of the epoch's training windows "
             "and of the validation stream (20 streams), wall seconds of the epoch with its evaluation, training "
             "tokens per second. At the end, valid and test as one stream; the total time counts everything from the "
             "start of the process (loading, compiling, training, evaluating, sampling).", ""]
    for name, run in runs.items():
        lines += [f"## {name}", "", f"`{run['command']}`", "", f"> {run['header']}", ""]
        lines += markdown_table(("epoch", "learning rate", "train perplexity", "valid perplexity", "seconds",
                                 "training tokens/s"),
                                [(f"{e:.0f}", f"{lr:g}", f"{tr:.2f}", f"{va:.2f}", f"{sec:.0f}", f"{tps:,.0f}")
                                 for e, lr, tr, va, sec, tps in run["epochs"]]) + [""]
    final = lambda run, key: run["final"].get(key, float("nan"))
    rows = [(name, f"{final(run, 'valid'):.2f}", f"{final(run, 'test'):.2f}", f"{final(run, 'seconds') / 60:.1f} min")
            for name, run in runs.items()]
    if preset in PAPER:
        rows.append((PAPER[preset][0], str(PAPER[preset][1]), str(PAPER[preset][2]), ""))
    lines += ["## Result", ""] + markdown_table(("", "valid perplexity", "test perplexity", "total wall time"), rows)
    if "PyTorch" in runs:
        lines += ["", f"Ours / PyTorch wall time: {final(runs['ours'], 'seconds') / final(runs['PyTorch'], 'seconds'):.2f}x."]
    if note:
        lines += ["", f"Note: {note}"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (name, run), color in zip(runs.items(), ("C0", "C1")):
        epochs = np.array(run["epochs"])
        ax.plot(epochs[:, 0], epochs[:, 3], marker="o", color=color, label=f"{name}, valid")
        ax.plot(epochs[:, 0], epochs[:, 2], ls="--", color=color, label=f"{name}, train")
    if preset in PAPER:
        ax.axhline(PAPER[preset][2], color="gray", ls=":", label=f"paper's test perplexity {PAPER[preset][2]}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title(f"train.py --preset {preset}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    write_report(preset, f"{preset}: {description}", lines, fig)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=("vanishing", "adding", "compare", "degenerate", "ptb"))
    parser.add_argument("--quick", action="store_true", help="the small form CI runs, with its check")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=None, help="hidden units (vanishing 100, adding 128)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"adding: each final run's step budget (default {ADDING_FAIR_STEPS}, the fair one)")
    parser.add_argument("--seeds", type=int, default=3, help="adding: seeds per cell and length (--seed, --seed + 1, ...)")
    parser.add_argument("--lengths", type=lambda text: [int(T) for T in text.split(",")], default=None,
                        help=f"adding: the final phase's lengths (default {','.join(map(str, ADDING_LENGTHS))})")
    parser.add_argument("--cells", type=lambda text: [name for name in text.split(",") if name], default=None,
                        help=f"adding: only these cells, in this order, of {','.join(CELLS)}")
    parser.add_argument("--long-cells", type=lambda text: [name for name in text.split(",") if name], default=None,
                        help=f"adding: the cells run beyond T = 200 (default {','.join(ADDING_LONG_CELLS)})")
    parser.add_argument("--report", action="store_true",
                        help="adding, compare: write the report from the log as it stands, running nothing")
    parser.add_argument("--train-sentences", type=int, default=5000,
                        help="vanishing, compare: training sentences of each short run")
    parser.add_argument("--trials", type=int, default=5, help="compare: random-search trials per variant")
    parser.add_argument("--vocabulary", type=int, default=2000, help="compare: words kept")
    parser.add_argument("--address", default=None, help="adding, compare: an existing Ray cluster (default: "
                        "$RAY_ADDRESS, else a local Ray on this machine)")
    parser.add_argument("--workers", type=int, default=None, help="adding, compare: CPUs of the local Ray (default: all)")
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
    except ClaimFailed as error:
        sys.exit(f"experiments.py: the claim does not hold: {error}")
