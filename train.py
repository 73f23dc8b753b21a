#!/usr/bin/env python3
"""Train a recurrent language model and sample from it, as the WildML tutorials' train.py did.

With no arguments: an LSTM on the Penn Treebank (shipped offline by the `treebank` package), then
validation and test perplexity and a few sampled sentences.  Every setting is a flag, and the
tutorials' environment variables still work (a flag wins over the environment):

    LEARNING_RATE=0.005 HIDDEN_DIM=80 NEPOCH=1 python train.py --model rnn --input-data-file comments.csv
    python train.py --nepoch 0 --model-file runs/lstm.npz --sample 10       # only sample
"""
import argparse
import datetime
import json
import math
import os
import signal
import sys
import time

import numpy as np

from errors import InputError

# --model: (module, class, constructor options beyond the shared ones)
MODELS = {
    "rnn": ("rnn_aesara", "RNNAesara", {}),
    "lstm": ("lstm_aesara", "LSTMAesara", {}),
    "gru": ("gru_aesara", "GRUAesara", {}),
    "peephole": ("lstm_aesara", "LSTMAesara", {"peephole": True}),
    "cifg": ("lstm_aesara", "LSTMAesara", {"coupled": True}),
    "dglstm": ("dglstm_aesara", "DGLSTMAesara", {}),
    "cwrnn": ("cwrnn_aesara", "CWRNNAesara", {}),
}
STACKED = ("lstm", "peephole", "cifg", "dglstm")     # the models --layers applies to

# --preset: (what it is, its settings); DESIGN.md sections 6 and 8
ZAREMBA_SMALL = dict(model="lstm", layers=2, hidden_dim=200, embedding_dim=200, init_scale=0.1, unroll=20,
                     batch_size=20, optimizer="sgd", learning_rate=1.0, lr_decay=0.5, decay_after=4, nepoch=13,
                     clip=5.0, bptt_truncate=-1, float=32)
PRESETS = {
    "ptb-small": ("Zaremba et al. 2014's small LSTM, 2x200, no dropout, on continuous streams", ZAREMBA_SMALL),
    "ptb-small-regularized": ("the same size with tied embeddings (Press & Wolf 2016) and variational dropout "
                              "(Gal & Ghahramani 2016)",
                              {**ZAREMBA_SMALL, "tied": True, "dropout": 0.3, "variational_dropout": True,
                               "unroll": 35, "nepoch": 30, "decay_after": 8, "lr_decay": 0.8,
                               "halve_lr_on_rise": True}),
}

# (flag, environment variable of the tutorials or None, type, default, help)
SETTINGS = [
    ("--model", None, str, "lstm", "rnn, lstm, gru, peephole (LSTM with peepholes), cifg (LSTM with coupled "
     "input and forget gates), dglstm (depth-gated LSTM) or cwrnn (clockwork RNN)"),
    ("--input-data-file", "INPUT_DATA_FILE", str, None,
     "a .csv (text in column 0, header row) or a text file; default: the Penn Treebank"),
    ("--vocabulary-size", "VOCABULARY_SIZE", int, None,
     "words kept, including the special tokens (default: all of PTB; 2000 for a file)"),
    ("--vocabulary-layout", None, str, "gru", "word order of a file's vocabulary: 'gru' (the GRU tutorial's "
     "<MASK/>, UNKNOWN_TOKEN, rarest first) or 'rnnlm' (the RNN tutorial's most common first, UNKNOWN_TOKEN last)"),
    ("--hidden-dim", "HIDDEN_DIM", int, 200, "units in the recurrent layer(s)"),
    ("--layers", None, int, None, "stacked layers of lstm, peephole, cifg (default 1) or dglstm (default 2; "
     "the tutorials' GRU always has 2)"),
    ("--periods", None, str, None, "the clockwork RNN's module periods, ascending, e.g. 1,2,4,8 (the default)"),
    ("--embedding-dim", "EMBEDDING_DIM", int, None, "an input embedding of this size before the first layer (the GRU "
     "has its own, of --hidden-dim: the tutorial read EMBEDDING_DIM but never used it, so for gru it must equal that)"),
    ("--tied", None, bool, False, "tie the input embedding to the output matrix (Press & Wolf 2016; embedding "
     "size = --hidden-dim)"),
    ("--dropout", None, float, 0.0, "dropout probability on the non-recurrent connections (Zaremba et al. 2014)"),
    ("--variational-dropout", None, bool, False, "one dropout mask per sequence, the same at every step (Gal & "
     "Ghahramani 2016)"),
    ("--init-scale", None, float, 0.0, "draw every parameter from U(-s, s) (0: each model's own initialisation)"),
    ("--unroll", None, int, 0, "continuous-stream mode: the corpus as --batch-size parallel streams, read in "
     "windows of this many steps, the state carried across windows (0: sentence mode, state reset per sentence)"),
    ("--learning-rate", "LEARNING_RATE", float, None,
     "step size (default: 0.005 for sgd as the RNN tutorial, 0.001 for rmsprop as the GRU one, 0.002 for adam)"),
    ("--nepoch", "NEPOCH", int, 2, "epochs to train in total (0: only evaluate and sample)"),
    ("--model-output-file", "MODEL_OUTPUT_FILE", str, None,
     "where to save the model (default runs/<model>-<time>-<vocabulary>-<hidden>.npz)"),
    ("--print-every", "PRINT_EVERY", int, 10000, "sentences between progress reports, samples and checkpoints"),
    ("--model-file", "MODEL_FILE", str, None,
     "start from these parameters; with its .state.npz beside it, resume that run exactly"),
    ("--optimizer", None, str, "adam", "sgd, rmsprop or adam"),
    ("--clip", None, float, 5.0, "clip the gradient's global norm to this (0: no clipping)"),
    ("--batch-size", None, int, 32, "sentences per update (1: per-sentence steps as in the tutorials)"),
    ("--bptt-truncate", None, int, -1, "steps to backpropagate (-1: full BPTT)"),
    ("--truncation", None, str, "theano", "what bptt-truncate means: 'theano' (the originals) or 'bptt' (per output)"),
    ("--seed", None, int, 10, "seed of np.random (initial parameters, shuffling, sampling)"),
    ("--float", None, int, None, "32 or 64 bit floats (default: floatX of THEANO_FLAGS, AESARA_FLAGS or "
     "PYTENSOR_FLAGS, else 32)"),
    ("--backend", None, str, "c", "c (the library's C code) or jax (PyTensor's JAX backend: XLA, on a GPU where jax "
     "has CUDA; Python 3.12+; also RNNLM_BACKEND=jax, or device=gpu in THEANO_FLAGS)"),
    ("--devices", None, int, None, "jax: devices each batch is split over (default: all that JAX sees)"),
    ("--max-sentences", None, int, 0, "train on the first N sentences only (0: all)"),
    ("--sample", None, int, 5, "sentences to sample at each report and at the end"),
    ("--temperature", None, float, 1.0, "sampling temperature (lower: safer, duller sentences)"),
    ("--halve-lr-on-rise", None, bool, False, "halve the learning rate when the loss rises (the RNN tutorial's rule)"),
    ("--lr-decay", None, float, 1.0, "multiply the learning rate by this after every epoch past --decay-after"),
    ("--decay-after", None, int, 0, "epochs at the initial learning rate before --lr-decay applies"),
    ("--preset", None, str, None, "a published recipe, which any other flag overrides: " + ", ".join(
     f"{name} ({text})" for name, (text, _) in PRESETS.items())),
    ("--progress", None, bool, True, "a progress bar on stderr"),
]


class Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, not usage + message
        raise InputError(message)


def read_settings(argv):
    """Settings from flags, else the environment, else the defaults; checked, as a dict."""
    parser = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog=__doc__.split("\n\n", 1)[1])
    for flag, env, kind, default, text in SETTINGS:
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=text + " (--no-... switches off what a preset switched on)")
        else:
            hint = (f" [default {default}]" if default is not None else "") + (f" [env {env}]" if env else "")
            parser.add_argument(flag, default=None, metavar=kind.__name__.upper(), help=text + hint)
    args = vars(parser.parse_args(argv))
    if args["preset"] is not None and args["preset"] not in PRESETS:
        raise InputError(f"--preset must be one of {', '.join(PRESETS)}, got {args['preset']!r}")
    preset = PRESETS[args["preset"]][1] if args["preset"] else {}
    settings = {}
    for flag, env, kind, default, _ in SETTINGS:
        name = flag[2:].replace("-", "_")
        value, source = args[name], flag
        if value is None and env and os.environ.get(env, "").strip():
            value, source = os.environ[env].strip(), env
        if value is None:
            settings[name] = preset.get(name, default)
        elif kind is bool or kind is str:
            settings[name] = value
        else:
            try:
                settings[name] = kind(value)
            except ValueError:
                raise InputError(f"{source} must be a{'n integer' if kind is int else ' number'}, got {value!r}")
    check(settings)
    return settings


def check(s):
    def need(ok, message):
        if not ok:
            raise InputError(message)
    need(s["model"] in MODELS, f"--model must be one of {', '.join(MODELS)}, got {s['model']!r}")
    need(s["layers"] is None or s["model"] in STACKED,
         f"--layers {s['layers']}: only {', '.join(STACKED)} can be stacked, not {s['model']}")
    need(s["periods"] is None or s["model"] == "cwrnn", f"--periods is for the clockwork RNN (cwrnn), not {s['model']}")
    if s["periods"] is not None:
        try:
            s["periods"] = [int(T) for T in s["periods"].split(",")]
        except ValueError:
            raise InputError(f"--periods must be integers separated by commas, like 1,2,4,8; got {s['periods']!r}")
    need(s["optimizer"] in ("sgd", "rmsprop", "adam"), f"--optimizer must be sgd, rmsprop or adam, got {s['optimizer']!r}")
    need(s["vocabulary_layout"] in ("gru", "rnnlm"),
         f"--vocabulary-layout must be gru or rnnlm, got {s['vocabulary_layout']!r}")
    need(s["truncation"] in ("theano", "bptt"), f"--truncation must be theano or bptt, got {s['truncation']!r}")
    need(s["float"] in (None, 32, 64), f"--float must be 32 or 64, got {s['float']}")
    need(s["backend"] in ("c", "jax"), f"--backend must be c or jax, got {s['backend']!r}")
    need(s["devices"] is None or s["backend"] == "jax", "--devices is for the JAX backend (--backend jax)")
    for name in ("hidden_dim", "batch_size", "print_every"):
        need(s[name] >= 1, f"--{name.replace('_', '-')} must be at least 1, got {s[name]}")
    for name in ("nepoch", "max_sentences", "sample"):
        need(s[name] >= 0, f"--{name.replace('_', '-')} must not be negative, got {s[name]}")
    need(s["bptt_truncate"] == -1 or s["bptt_truncate"] >= 1, f"--bptt-truncate must be -1 or at least 1, got {s['bptt_truncate']}")
    need(s["vocabulary_size"] is None or s["vocabulary_size"] >= 3,
         f"--vocabulary-size must be at least 3, got {s['vocabulary_size']}")
    need(s["clip"] >= 0, f"--clip must not be negative, got {s['clip']}")
    need(s["temperature"] > 0, f"--temperature must be positive, got {s['temperature']}")
    if s["model"] == "gru":
        need(s["embedding_dim"] in (None, s["hidden_dim"]),
             f"--embedding-dim {s['embedding_dim']} differs from --hidden-dim {s['hidden_dim']}: the tutorial's GRU "
             "embeds words in hidden_dim dimensions (its EMBEDDING_DIM was never used)")
        s["embedding_dim"] = None            # the GRU's own embedding E is that one
    need(s["embedding_dim"] is None or s["embedding_dim"] >= 1, f"--embedding-dim must be at least 1, got {s['embedding_dim']}")
    need(not s["tied"] or s["embedding_dim"] in (None, s["hidden_dim"]),
         f"--tied: the embedding is the output matrix, of --hidden-dim {s['hidden_dim']} columns, "
         f"not --embedding-dim {s['embedding_dim']}")
    need(0 <= s["dropout"] < 1, f"--dropout must be in [0, 1), got {s['dropout']}")
    need(not s["dropout"] or s["bptt_truncate"] == -1, "--dropout trains with full BPTT: leave --bptt-truncate at -1")
    need(not s["variational_dropout"] or s["dropout"], "--variational-dropout needs a --dropout probability")
    need(s["init_scale"] >= 0, f"--init-scale must not be negative, got {s['init_scale']}")
    need(s["unroll"] >= 0, f"--unroll must not be negative, got {s['unroll']}")
    need(0 < s["lr_decay"] <= 1, f"--lr-decay must be in (0, 1], got {s['lr_decay']}")
    need(s["decay_after"] >= 0, f"--decay-after must not be negative, got {s['decay_after']}")
    need(s["learning_rate"] is None or (s["learning_rate"] > 0 and math.isfinite(s["learning_rate"])),
         f"--learning-rate must be a positive number, got {s['learning_rate']}")


def load_corpus(s):
    """{'train': (X, y), maybe 'valid', 'test'}, index_to_word, word_to_index."""
    import corpus
    if s["input_data_file"]:
        X, y, word_to_index, index_to_word = corpus.load_data(s["input_data_file"], s["vocabulary_size"] or 2000,
                                                              layout=s["vocabulary_layout"])
        data = {"train": (X, y)}
    else:
        data = corpus.load_ptb(s["vocabulary_size"], layout=s["vocabulary_layout"])
        index_to_word, word_to_index = data.pop("index_to_word"), data.pop("word_to_index")
    if s["max_sentences"]:
        data["train"] = tuple(part[:s["max_sentences"]] for part in data["train"])
    return data, index_to_word, word_to_index


def model_type(name):
    """The class of --model name and the constructor options that make it that variant."""
    import importlib
    module, cls, variant = MODELS[name]
    return getattr(importlib.import_module(module), cls), dict(variant)


def model_class(s):
    """The class to build, the shared constructor options, and the shape the command line asks for
    (peepholes, coupled gates, layers, periods); the class's defaults fill in the rest."""
    cls, shape = model_type(s["model"])
    if s["layers"] is not None:
        shape["layers"] = s["layers"]
    if s["periods"] is not None:
        shape["periods"] = tuple(s["periods"])
    if s["embedding_dim"] or s["tied"]:
        shape.update(embedding_dim=s["embedding_dim"] or s["hidden_dim"], tied=s["tied"])
    return cls, dict(bptt_truncate=s["bptt_truncate"], truncation=s["truncation"], dropout=s["dropout"],
                     variational=s["variational_dropout"]), shape


def describe(model):
    """What the header line says about the model's shape beyond its sizes."""
    parts = [f"{model.layers} layers"] if model.layers > 1 else []
    parts += [option for option in ("peephole", "coupled") if getattr(model, option, False)]
    if model.embedding_dim:
        parts.append(("tied " if model.tied else "") + f"embedding {model.embedding_dim}")
    if model.dropout:
        parts.append(f"{'variational ' if model.variational else ''}dropout {model.dropout:g}")
    if hasattr(model, "periods"):
        parts.append("periods " + ",".join(map(str, model.periods)))
    return f" ({', '.join(parts)})" if parts else ""


def timed_step(model, feed, s, learning_rate):
    """The tutorials' first line: how long one training step takes (on a copy of the state: the step is
    undone, and np.random restored, so timing it does not change the run).  Returns (seconds, what the
    step trained on)."""
    import training
    if s["unroll"]:
        batch = feed.plan()[0]
        what = f"{s['batch_size']} streams x {s['unroll']} steps"
    else:                                         # the tutorials timed X_train[10]; in batches, a typical
        by_length = np.argsort(feed.lengths, kind="stable")          # bucketed batch of median length
        middle = max(0, len(by_length) // 2 - s["batch_size"] // 2)
        batch = [min(10, feed.size - 1)] if s["batch_size"] == 1 else by_length[middle:middle + s["batch_size"]].tolist()
        what = f"{len(batch)} sentences, {sum(feed.lengths[i] for i in batch)} words"
    options = dict(optimizer=s["optimizer"], clip=s["clip"])
    saved, random_state = [v.get_value() for v in model.params + model.slots], np.random.get_state()
    feed.train(model, training.TrainingState(learning_rate), batch, **options)   # compiles, creates the slots
    saved += [np.zeros_like(v.get_value()) for v in model.slots[len(saved) - len(model.params):]]   # as created
    start = time.perf_counter()
    feed.train(model, training.TrainingState(learning_rate), batch, **options)
    elapsed = time.perf_counter() - start
    for v, value in zip(model.params + model.slots, saved):
        v.set_value(value)
    np.random.set_state(random_state)
    return elapsed, what


def plot_curve(path, history, title, seen="sentences"):
    if not history:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from utils import write_atomically
    seen, loss = zip(*history)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(seen, np.exp(loss), marker="o")
    ax.set_xlabel(f"{seen} seen")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


def main(argv):
    began = time.perf_counter()
    s = read_settings(argv)
    import backend
    s["float"] = s["float"] or backend.FLAGS_FLOAT or 32
    backend.set_float(s["float"])
    if s["backend"] == "jax" or backend.COMPILER == "jax":
        backend.use_jax(s["devices"])
    import training
    from utils import load_checkpoint, load_model_parameters_aesara, remove_leftovers, state_path

    np.seterr(all="ignore")      # overflow shows up as a non-finite loss, which the loop reports itself
    cls, options, shape = model_class(s)
    cls.check_shape(s["hidden_dim"], **shape)        # before loading any data
    np.random.seed(s["seed"])
    data, index_to_word, word_to_index = load_corpus(s)
    X_train, y_train = data["train"]
    out = s["model_output_file"] or os.path.join("runs", "%s-%s-%d-%d.npz" % (
        s["model"], datetime.datetime.now().strftime("%Y-%m-%d-%H-%M"), len(index_to_word), s["hidden_dim"]))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    remove_leftovers(out)
    default_rate = {"sgd": 0.005, "rmsprop": 0.001, "adam": 0.002}[s["optimizer"]]
    state = training.TrainingState(s["learning_rate"] or default_rate)
    if s["model_file"]:
        model = load_model_parameters_aesara(s["model_file"], cls, **options)     # the file holds its shape
        for option, value in shape.items():
            if getattr(model, option) != value:
                raise InputError(f"{s['model_file']}: holds a model with {option}={getattr(model, option)}, "
                                 f"not the {option}={value} asked for")
        if model.word_dim != len(index_to_word):
            raise InputError(f"{s['model_file']}: parameters for a vocabulary of {model.word_dim} words, "
                             f"but the data has {len(index_to_word)}")
        if os.path.exists(state_path(s["model_file"])):
            state, saved_words, saved = load_checkpoint(s["model_file"], model)
            if saved_words != index_to_word:
                raise InputError(f"{state_path(s['model_file'])}: trained on a different vocabulary than this data")
            layout = lambda settings: (settings.get("unroll", 0), settings["batch_size"])
            mid_epoch = state.batches is not None and state.position < len(state.batches)
            windows_differ = layout(saved) != layout(s) and (saved.get("unroll") or s["unroll"])
            if mid_epoch and s["nepoch"] > state.epoch and windows_differ:
                raise InputError(f"{state_path(s['model_file'])}: stopped mid-epoch with --unroll {layout(saved)[0]} "
                                 f"--batch-size {layout(saved)[1]}; resume with those")
            if s["learning_rate"]:           # given explicitly: it replaces the saved (maybe halved) rate
                state.learning_rate = s["learning_rate"]
            print(f"Resuming after {state.examples_seen} {unit(s)} (epoch {state.epoch + 1}), "
                  f"learning rate {state.learning_rate:g}")
    else:
        model = cls(len(index_to_word), hidden_dim=s["hidden_dim"], **options, **shape)
        if s["init_scale"]:
            model.initialize_uniform(s["init_scale"])
    meaning = "full BPTT" if model.bptt_truncate < 0 else (
        f"bptt_truncate={model.bptt_truncate}, truncation='{model.truncation}' (" +
        ("the originals' scan: only the last k steps of each sentence" if model.truncation == "theano"
         else "the tutorial's: each output's error flows back k steps") + ")")
    print(f"{type(model).__name__}{describe(model)}: vocabulary {model.word_dim}, hidden {model.hidden_dim}, {meaning}; "
          f"{s['optimizer']} lr {state.learning_rate:g}, batch {s['batch_size']}, float{s['float']}, "
          f"{backend.describe()}; {len(y_train)} training sentences; " + (
              f"continuous streams: {s['batch_size']} streams of the corpus, windows of {s['unroll']} steps, "
              "the state carried across windows" if s["unroll"] else "sentence mode: the state starts at zero in "
              "every sentence"))

    if s["nepoch"] > state.epoch:
        print("Compiling the training step (the first run takes about a minute; then it is cached)...", flush=True)
        started = time.perf_counter()
        feed = training.feed(X_train, y_train, s["batch_size"], s["unroll"])
        seconds, what = timed_step(model, feed, s, state.learning_rate)
        print(f"Compiled in {time.perf_counter() - started:.0f} s.")
        print("SGD Step time: %f milliseconds (%s)" % (seconds * 1000, what))
        sys.stdout.flush()
        run_training(model, s, state, data, index_to_word, word_to_index, out, feed.size)
    report(model, s, data, index_to_word, word_to_index, began)


def unit(s):
    """What training counts: sentences, or in stream mode tokens."""
    return "tokens" if s["unroll"] else "sentences"


def evaluation_split(data):
    return ("valid", data["valid"]) if "valid" in data else ("train", tuple(p[:2000] for p in data["train"]))


def evaluation_loss(model, s, X, Y, streams=None):
    """Mean cross-entropy per predicted word: over sentences, or in stream mode over the corpus as
    `streams` continuous streams (default --batch-size) in windows of --unroll steps."""
    import training
    if s["unroll"]:
        total, words = training.evaluate_stream(model, training.token_stream(Y), streams or s["batch_size"], s["unroll"])
    else:
        total, words = training.evaluate(model, X, Y)
    return total / words


def sample_after(s):
    """Where sampled sentences start: after SENTENCE_START, or in stream mode after a sentence's end."""
    from corpus import SENTENCE_END_TOKEN, SENTENCE_START_TOKEN
    return SENTENCE_END_TOKEN if s["unroll"] else SENTENCE_START_TOKEN


def run_training(model, s, state, data, index_to_word, word_to_index, out, epoch_size):
    import training
    from utils import save_checkpoint
    X_train, y_train = data["train"]
    split, (X_eval, y_eval) = evaluation_split(data)
    progress = None
    if s["progress"]:
        from tqdm import tqdm
        progress = tqdm(total=epoch_size * s["nepoch"], initial=state.examples_seen, unit=unit(s)[:3],
                        dynamic_ncols=True, file=sys.stderr, smoothing=0.05)
    say = progress.write if progress else print
    recent = {"cost": 0.0, "words": 0}
    epoch = {"cost": 0.0, "words": 0, "started": time.perf_counter()}

    def on_batch(state, words, cost):
        if not math.isfinite(cost):
            raise training.Diverged(f"the loss became {cost} after {state.examples_seen} {unit(s)}")
        for totals in (recent, epoch):
            totals["cost"] += cost
            totals["words"] += words
        if progress:
            progress.update(state.examples_seen - progress.n)
            progress.set_postfix_str(f"train ppl {training.exp_loss(recent['cost'] / recent['words']):.1f}", refresh=False)

    def checkpoint(loss=0.0):
        """Save, unless the run has diverged: a non-finite parameter, or a non-finite evaluation loss from
        parameters grown huge but still finite.  The last good checkpoint is then kept."""
        if not all(np.isfinite(p.get_value(borrow=True)).all() for p in model.params):
            raise training.Diverged(f"the parameters became NaN or infinite after {state.examples_seen} {unit(s)}")
        if not math.isfinite(loss):
            raise training.Diverged(f"the {split} loss became {loss} after {state.examples_seen} {unit(s)}")
        save_checkpoint(out, model, state, index_to_word, s)
        plot_curve(out[:-4] + ".png" if out.endswith(".npz") else out + ".png", state.history,
                   f"{type(model).__name__} {model.hidden_dim} on {s['input_data_file'] or 'Penn Treebank'}", unit(s))

    def samples():
        """Sentences drawn from np.random without advancing it: training (shuffles, dropout) then draws the
        same numbers with or without samples, and a checkpoint's random state serves a resume exactly."""
        random_state = np.random.get_state()
        for _ in range(s["sample"]):
            say("  " + " ".join(training.generate_sentence(model, index_to_word, word_to_index, s["temperature"],
                                                           after=sample_after(s))))
        np.random.set_state(random_state)

    def callback(model, state):
        """Every PRINT_EVERY sentences: evaluate, maybe halve the rate, checkpoint, then sample."""
        loss = evaluation_loss(model, s, X_eval, y_eval)
        train_ppl = training.exp_loss(recent["cost"] / max(recent["words"], 1))
        recent.update(cost=0.0, words=0)
        halved = training.record_loss(state, loss, s["halve_lr_on_rise"])
        checkpoint(loss)
        say(f"\n{datetime.datetime.now().isoformat(timespec='seconds')} ({state.examples_seen} sentences, "
            f"epoch {state.epoch + 1})\n" + "-" * 50 +
            f"\nLoss: {loss:f}   {split} perplexity {training.exp_loss(loss):.1f}   "
            f"(training batches since the last report: {train_ppl:.1f})"
            + (f"\nSetting learning rate to {state.learning_rate:g}" if halved else ""))
        samples()
        say(f"Saved model parameters to {out}.")

    def on_epoch(model, state):
        """After each epoch: the learning-rate schedule; in stream mode also the epoch's report
        (evaluation, checkpoint, samples), which sentence mode makes every PRINT_EVERY sentences."""
        rate = state.learning_rate
        if state.epoch >= s["decay_after"]:
            state.learning_rate *= s["lr_decay"]
        if not s["unroll"]:
            return
        trained = time.perf_counter() - epoch["started"]
        loss = evaluation_loss(model, s, X_eval, y_eval)
        halved = training.record_loss(state, loss, s["halve_lr_on_rise"])
        checkpoint(loss)
        say(f"epoch {state.epoch}: train perplexity {training.exp_loss(epoch['cost'] / max(epoch['words'], 1)):.2f}, "
            f"{split} perplexity {training.exp_loss(loss):.2f}, {time.perf_counter() - epoch['started']:.0f} s "
            f"({epoch['words'] / trained:,.0f} training tokens/s), learning rate {rate:g}"
            + (f"; halved to {state.learning_rate:g}, the {split} loss rose" if halved else ""))
        samples()
        epoch.update(cost=0.0, words=0, started=time.perf_counter())

    stop = {}

    def interrupt(signum, frame):   # act at the end of the current batch, where the state is consistent
        stop["signal"] = signal.Signals(signum).name

    handlers = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        training.train_with_sgd(model, X_train, y_train, state, s["nepoch"], optimizer=s["optimizer"],
                                clip=s["clip"], batch_size=s["batch_size"], unroll=s["unroll"], callback=callback,
                                callback_every=0 if s["unroll"] else s["print_every"], on_batch=on_batch,
                                on_epoch=on_epoch, should_stop=lambda: bool(stop))
    except training.Interrupted:
        if progress:
            progress.close()
        checkpoint()
        print(f"{stop['signal']}: saved the model and training state to {out} after {state.examples_seen} "
              f"{unit(s)}; resume with --model-file {out}", file=sys.stderr)
        sys.exit(130 if stop["signal"] == "SIGINT" else 143)
    except training.Diverged as error:
        raise training.Diverged(f"{error}; the last checkpoint, if any, is kept in {out}") from None
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if progress:
            progress.close()
    if not state.history or state.history[-1][0] != state.examples_seen:
        checkpoint()         # the training state as it is: a later resume continues exactly from here
        print(f"Saved model parameters to {out}.")


def report(model, s, data, index_to_word, word_to_index, began):
    import training
    how = " (one continuous stream)" if s["unroll"] else ""
    for split in ("valid", "test"):
        if split in data:
            loss = evaluation_loss(model, s, *data[split], streams=1)
            print(f"{split.capitalize()} perplexity{how}: {training.exp_loss(loss):.2f}", flush=True)
    print(f"Total time: {time.perf_counter() - began:.0f} s (loading, compiling, training, evaluating)")
    if s["sample"]:
        print("Samples:")
        for _ in range(s["sample"]):
            print("  " + " ".join(training.generate_sentence(model, index_to_word, word_to_index, s["temperature"],
                                                             after=sample_after(s))))


if __name__ == "__main__":
    import training
    try:
        main(sys.argv[1:])
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except training.Diverged as error:
        print(f"error: training diverged: {error}. Try a smaller --learning-rate or --clip.", file=sys.stderr)
        sys.exit(3)
    except OSError as error:       # e.g. the output folder is not writable, the disk is full
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:      # before training started (loading data, compiling)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
