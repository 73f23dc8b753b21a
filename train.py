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
import math
import os
import shlex
import sys
import time

import numpy as np

import models
from errors import InputError
from presets import PRESETS


def takes(flag):
    """The models that take a shape option of the command line ("layers", "periods")."""
    return [name for name, e in models.REGISTRY.items() if flag in e.flags]


# (flag, environment variable of the tutorials or None, type, default, help)
SETTINGS = [
    ("--model", None, str, "lstm", ", ".join(f"{name} ({e.about})" for name, e in models.REGISTRY.items())),
    ("--input-data-file", "INPUT_DATA_FILE", str, None,
     "a .csv (text in column 0, header row) or a text file; default: the Penn Treebank"),
    ("--vocabulary-size", "VOCABULARY_SIZE", int, None,
     "words kept, including the special tokens (default: all of PTB; 2000 for a file)"),
    ("--vocabulary-layout", None, str, "gru", "word order of a file's vocabulary: 'gru' (the GRU tutorial's "
     "<MASK/>, UNKNOWN_TOKEN, rarest first) or 'rnnlm' (the RNN tutorial's most common first, UNKNOWN_TOKEN last)"),
    ("--hidden-dim", "HIDDEN_DIM", int, 200, "units in the recurrent layer(s)"),
    ("--layers", None, int, None, "stacked layers, for " + ", ".join(takes("layers")) + " (default: the model's "
     "own number)"),
    ("--periods", None, str, None, "module periods, ascending, e.g. 1,2,4,8, for " + ", ".join(takes("periods"))
     + " (default: the model's own)"),
    ("--embedding-dim", "EMBEDDING_DIM", int, None, "an input embedding of this size before the first layer ("
     + ", ".join(name for name, e in models.REGISTRY.items() if e.own_embedding) + " embeds words itself in "
     "--hidden-dim dimensions: there it must equal that; the GRU tutorial read EMBEDDING_DIM but never used it)"),
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
     "where to save the model (default runs/<model>-<time>-<vocabulary>-<hidden>.npz); beside it go its training "
     "state (.state.npz), learning curve (.png) and a JSON-lines log of every report (.jsonl)"),
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
    import corpus
    import optimizers
    import recurrent
    model = models.entry(s["model"])
    need(s["layers"] is None or "layers" in model.flags,
         f"--layers {s['layers']}: only {', '.join(takes('layers'))} can be stacked, not {s['model']}")
    need(s["periods"] is None or "periods" in model.flags,
         f"--periods is for {', '.join(takes('periods'))}, not {s['model']}")
    if s["periods"] is not None:
        try:
            s["periods"] = [int(T) for T in s["periods"].split(",")]
        except ValueError:
            raise InputError(f"--periods must be integers separated by commas, like 1,2,4,8; got {s['periods']!r}")
    for name, allowed in (("optimizer", optimizers.OPTIMIZERS), ("vocabulary_layout", corpus.LAYOUTS),
                          ("truncation", recurrent.TRUNCATIONS)):
        need(s[name] in allowed, f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, got {s[name]!r}")
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
    if model.own_embedding:
        need(s["embedding_dim"] in (None, s["hidden_dim"]),
             f"--embedding-dim {s['embedding_dim']} differs from --hidden-dim {s['hidden_dim']}: {model.own_embedding}")
        s["embedding_dim"] = None            # the model's own embedding is that one
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


def load_model(path, name, cls, options):
    """The model in a parameter file, which holds its shape, as a model of the class --model names; when it
    does not load, the message says which model the file holds, if the registry can tell."""
    from utils import load_model_parameters_aesara, read_arrays
    try:
        return load_model_parameters_aesara(path, cls, **options)
    except InputError as error:
        held = models.identify(read_arrays(path))
        if held is None or held.name == name:
            raise
        raise InputError(f"{error} (the file holds a {held.title}: --model {held.name})") from None


def model_class(s):
    """The class to build, the shared constructor options, and the shape the command line asks for
    (the variant's options, layers, periods); the class's defaults fill in the rest."""
    model = models.entry(s["model"])
    shape = dict(model.options)
    if s["layers"] is not None:
        shape["layers"] = s["layers"]
    if s["periods"] is not None:
        shape["periods"] = tuple(s["periods"])
    if s["embedding_dim"] or s["tied"]:
        shape.update(embedding_dim=s["embedding_dim"] or s["hidden_dim"], tied=s["tied"])
    return model.load(), dict(bptt_truncate=s["bptt_truncate"], truncation=s["truncation"], dropout=s["dropout"],
                              variational=s["variational_dropout"]), shape


def describe(model, shown=()):
    """What the header line says about the model's shape beyond its sizes; shown: the attributes its
    registry entry names when they are set."""
    values = {name: getattr(model, name) for name in shown}
    parts = [f"{model.layers} layers"] if model.layers > 1 else []
    parts += [name for name, value in values.items() if value is True]          # switches: peephole, coupled
    if model.embedding_dim:
        parts.append(("tied " if model.tied else "") + f"embedding {model.embedding_dim}")
    if model.dropout:
        parts.append(f"{'variational ' if model.variational else ''}dropout {model.dropout:g}")
    parts += [f"{name} " + ",".join(map(str, value)) for name, value in values.items()       # lists: periods
              if value and value is not True]
    return f" ({', '.join(parts)})" if parts else ""


def main(argv):
    began = time.perf_counter()
    s = read_settings(argv)
    import backend
    s["float"] = s["float"] or backend.FLAGS_FLOAT or 32
    backend.set_float(s["float"])
    if s["backend"] == "jax" or backend.COMPILER == "jax":
        backend.use_jax(s["devices"])
    import training
    from training_run import TrainingRun
    from utils import load_checkpoint, remove_leftovers, state_path

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
    continues = False            # resuming the checkpoint at out, whose log this run continues
    if s["model_file"]:
        model = load_model(s["model_file"], s["model"], cls, options)
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
            continues = os.path.abspath(s["model_file"]) == os.path.abspath(out)
            print(f"Resuming after {state.examples_seen} {'tokens' if s['unroll'] else 'sentences'} "
                  f"(epoch {state.epoch + 1}), learning rate {state.learning_rate:g}")
    else:
        model = cls(len(index_to_word), hidden_dim=s["hidden_dim"], **options, **shape)
        if s["init_scale"]:
            model.initialize_uniform(s["init_scale"])
    meaning = "full BPTT" if model.bptt_truncate < 0 else (
        f"bptt_truncate={model.bptt_truncate}, truncation='{model.truncation}' (" +
        ("the originals' scan: only the last k steps of each sentence" if model.truncation == "theano"
         else "the tutorial's: each output's error flows back k steps") + ")")
    header = (f"{type(model).__name__}{describe(model, models.entry(s['model']).shown)}: vocabulary "
              f"{model.word_dim}, hidden {model.hidden_dim}, {meaning}; {s['optimizer']} lr {state.learning_rate:g}, "
              f"batch {s['batch_size']}, float{s['float']}, {backend.describe()}; {len(y_train)} training sentences; "
              + (f"continuous streams: {s['batch_size']} streams of the corpus, windows of {s['unroll']} steps, "
                 "the state carried across windows" if s["unroll"] else "sentence mode: the state starts at zero in "
                 "every sentence"))
    print(header)
    if backend.blas_fallback():
        print(f"Warning: {backend.blas_fallback()}")

    run = TrainingRun(model, s, state, data, index_to_word, word_to_index, out, continues=continues)
    if s["nepoch"] > state.epoch:
        run.train(header, shlex.join(["python", "train.py"] + list(argv)))
    run.finish(began)


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
