#!/usr/bin/env python3
"""Run the original WildML tutorial code beside ours and compare their numbers, as a user would:

    python compare.py ~/rnn-tutorial-rnnlm ~/rnn-tutorial-gru-lstm ~/lstm-first-commit/lstm_theano.py

Each PATH is a folder or a file of your own copy of the tutorials: rnn_theano.py (RNNTheano, from
dennybritz/rnn-tutorial-rnnlm), gru_theano.py (GRUTheano, dennybritz/rnn-tutorial-gru-lstm) and
lstm_theano.py (LSTMTheano, only in that repository's first commit: git show 8572f70:lstm_theano.py).
The files run as they are: their Python 2 print statements become calls in memory, nothing else of
their source changes, and `import theano` in them resolves to theano_compat.py, the part of Theano
0.7/0.8 they use, on the library backend.py chose.  Nothing is written beside them (no bytecode), and
each is loaded under a private module name: a sibling they import (rnn_theano.py's `from utils import *`,
the gru-lstm utils.py's gru_theano) is theirs only while they load.  The training scripts are never run.

For each original class and ours (RNNAesara, GRUAesara, LSTMAesara), built after the same
np.random.seed with the same arguments: the settings, the initial parameters (exactly equal), the
probabilities, the predicted words (exactly equal), the loss, every gradient bptt returns, then the
parameters, RMSprop caches and loss after a few sgd_steps, each as the largest difference relative
to the original array's largest value; and the median time of one sgd_step of each.  With --train N both
take sgd_step on sentences 0 .. N-1 in order (the originals' train_with_sgd without its shuffling,
rate halving and files), their losses side by side.  The originals' trained files
(data/trained-model-theano.npz, data/pretrained.npz), where present, are loaded into the original class
with the original's own loader and into ours, and compared on the same sentences.  Sentences are the
tutorial's own (its reddit CSV, through our loader with the tutorial's vocabulary layout) where the folder
has them, otherwise the Penn Treebank's.

Exit status: 0 when everything agrees, 1 when something differs beyond its tolerance (named), 2 with
one line for bad input (a missing path, a folder with no model file, a file whose class cannot be built).

To run other Theano-era code on our backend in your own program, install the layer first:

    import theano_compat; theano_compat.install()
"""
import argparse
import ast
import contextlib
import datetime
import importlib.util
import inspect
import io
import os
import platform
import re
import shlex
import statistics
import sys
import time
import tokenize
import types
from typing import NamedTuple

import numpy as np

import backend
from errors import InputError

# float64: our tests measured 1.1e-15 at small sizes, 2e-14 at the tutorials' sizes; the rest is room
# for another BLAS's order of summation.  float32: see FLOAT32_TOLERANCE.
FLOAT64_TOLERANCE = 1e-12
# float32 rounds each value to 6e-8 of itself, and the two implementations sum the same terms in other
# orders (stacked gate products, fused kernels).  Measured with --quick --float 32 --train 5 on the real
# originals (PyTensor): at most 3.4e-7 (the GRU's RMSprop caches after 3 steps), about 6 roundings.  The
# sums grow with the sizes (an 8000-word softmax, longer sentences, more steps), so the tolerance leaves
# a factor of 300 for them, and stays far below what a changed bias, nonlinearity or range moves.
FLOAT32_TOLERANCE = 1e-4
SEED = 10                 # the tutorials' np.random.seed
CHECK_SENTENCES = 4       # sentences whose summed loss is compared
STEPS = 3                 # sgd_steps before the parameters are compared again
TIMED_STEPS = {False: 10, True: 3}      # per model, after 2 untimed ones; by --quick
REPORTS = 5               # loss reports during --train


class Kind(NamedTuple):
    """One tutorial model: its file and class, our class, its sizes and how its methods are named."""
    file: str
    original: str
    ours: str             # module.Class
    sizes: tuple          # word_dim, hidden_dim at the tutorial's sizes
    quick_sizes: tuple
    probabilities: str    # the method giving (T, V) probabilities
    predictions: str      # the method giving the argmax word ids
    learning_rate: float  # the tutorial's default
    data: tuple           # its sentences: the CSV beside it (relative to its folder) and our loader's layout
    trained: str          # the tutorial's trained parameter file, relative to its folder, or ""


KINDS = (
    Kind("rnn_theano.py", "RNNTheano", "rnn_aesara.RNNAesara", (8000, 100), (40, 9), "forward_propagation",
         "predict", 0.005, ("data/reddit-comments-2015-08.csv", "rnnlm"), "data/trained-model-theano.npz"),
    Kind("gru_theano.py", "GRUTheano", "gru_aesara.GRUAesara", (2000, 128), (40, 9), "predict",
         "predict_class", 0.001, ("data/reddit-comments-2015.csv", "gru"), "data/pretrained.npz"),
    Kind("lstm_theano.py", "LSTMTheano", "lstm_aesara.LSTMAesara", (8000, 100), (40, 9), "forward_propagation",
         "predict", 0.005, ("data/reddit-comments-2015-08.csv", "rnnlm"), ""),
)
MODEL_FILES = ", ".join(k.file for k in KINDS)


# --------------------------------------------------------------------------------------------------
# Loading the originals
# --------------------------------------------------------------------------------------------------

def python3_prints(source):
    """source with its Python 2 print statements written as calls (print x, y -> print(x, y); a trailing
    comma -> end=" "; print >>f, x -> print(x, file=f)); everything else byte for byte as it was.
    Works on the token stream, so strings and comments that contain 'print' are left alone."""
    lines = source.splitlines(keepends=True)
    offsets = np.cumsum([0] + [len(line) for line in lines]).tolist()
    at = lambda position: offsets[position[0] - 1] + position[1]  # noqa: E731  (row, col) -> index
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL)]
    edits, depth, starts_statement = [], 0, True
    for i, token in enumerate(tokens):
        if (starts_statement and token.type == tokenize.NAME and token.string == "print"
                and not (tokens[i + 1].string == "(" and _parenthesised_whole(tokens, i + 1))):
            edits.append(_print_call(source, tokens, i, at))    # already print(...): left as it is
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        starts_statement = (token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
                            or depth == 0 and token.type == tokenize.OP and token.string in (":", ";"))
    for start, end, text in reversed(edits):
        source = source[:start] + text + source[end:]
    return source


def _statement_end(tokens, i):
    """Index of the token that ends the simple statement containing tokens[i] (NEWLINE, ';' or the end)."""
    depth = 0
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t.type == tokenize.OP and t.string in "([{":
            depth += 1
        elif t.type == tokenize.OP and t.string in ")]}":
            depth -= 1
        elif depth == 0 and (t.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or t.string == ";"):
            return j
    return len(tokens) - 1


def _parenthesised_whole(tokens, i):
    """Whether the bracket at tokens[i] closes just before the statement ends: print(...) already a call."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].string in "([{" and tokens[j].type == tokenize.OP:
            depth += 1
        elif tokens[j].string in ")]}" and tokens[j].type == tokenize.OP:
            depth -= 1
            if depth == 0:
                return j + 1 == _statement_end(tokens, i)
    return False


def _print_call(source, tokens, i, at):
    """(start, end, replacement) turning the print statement at tokens[i] into a call."""
    end = _statement_end(tokens, i)
    arguments = tokens[i + 1:end]
    extra = []
    if arguments and arguments[0].string == ">>":
        commas = [k for k, t in enumerate(arguments) if t.string == "," and _depth(arguments, k) == 0]
        stop = commas[0] if commas else len(arguments)
        extra.append("file=" + source[at(arguments[1].start):at(arguments[stop - 1].end)])
        arguments = arguments[stop + 1:]
    if arguments and arguments[-1].string == ",":
        extra.insert(0, 'end=" "')
        arguments = arguments[:-1]
    parts = [source[at(arguments[0].start):at(arguments[-1].end)]] if arguments else []
    stop = tokens[end - 1].end if end > i + 1 else tokens[i].end
    return at(tokens[i].start), at(stop), "print(" + ", ".join(parts + extra) + ")"


def _depth(tokens, k):
    """Bracket depth just before tokens[k]."""
    opened = sum(t.type == tokenize.OP and t.string in "([{" for t in tokens[:k])
    return opened - sum(t.type == tokenize.OP and t.string in ")]}" for t in tokens[:k])


def _sibling_imports(source, folder):
    """The modules a source imports (at any depth) that are .py files in its folder."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return sorted(n for n in names if os.path.isfile(os.path.join(folder, n + ".py")))


class Originals:
    """The original files loaded so far: one module per path, each under a private name."""

    def __init__(self):
        self.modules, self.loading = {}, set()

    def load(self, path, provided=None):
        """The module of this .py file.  The siblings it imports (utils.py beside rnn_theano.py) are
        loaded first, or taken from `provided` ({name: module}), and are importable under their plain
        names only while it runs; sys.modules is restored afterwards."""
        path = os.path.abspath(path)
        if path in self.modules:
            return self.modules[path]
        provided = dict(provided or {})
        try:
            with open(path, "rb") as f:
                raw = f.read()
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
            source = python3_prints(raw.decode(encoding))
            code = compile(source, path, "exec", dont_inherit=True)
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: cannot be read ({e})") from None
        except (SyntaxError, tokenize.TokenError) as e:
            line = getattr(e, "lineno", None) or (e.args[1][0] if len(e.args) > 1 else "?")
            raise InputError(f"{path}: line {line}: not Python 2 that this loader converts "
                             f"({e.args[0] if e.args else e})") from None
        folder, stem = os.path.split(path)
        stem = stem[:-3]
        self.loading.add(path)
        for name in _sibling_imports(source, folder):
            sibling = os.path.join(folder, name + ".py")
            if name not in provided and name != stem:
                if sibling in self.loading:
                    raise InputError(f"{path}: imports {name}, which imports it in turn")
                provided[name] = self.load(sibling, provided)
        self.loading.discard(path)
        module = types.ModuleType(f"_original_{len(self.modules)}_{stem}")
        module.__file__ = path
        import theano_compat
        saved = {name: sys.modules.get(name) for name in provided}
        sys.modules.update(provided)
        sys.modules[module.__name__] = module
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, module.__dict__)
        except Exception as e:
            raise InputError(f"{path}: fails on import: {explain(e)}") from None
        finally:
            theano_compat.restore_modules(saved)
        self.modules[path] = module
        return module


def explain(error):
    """One line for an exception raised by an original file, naming a Theano name the layer lacks."""
    import theano_compat
    if isinstance(error, theano_compat.MissingTheanoName):
        return f"it needs {error.name}, which the Theano compatibility layer (theano_compat.py) does not provide"
    if isinstance(error, ImportError) and (error.name or "").split(".")[0] == "theano":
        return (f"it imports {error.name}, which the Theano compatibility layer (theano_compat.py) "
                "does not provide")
    where = ""
    frames = [f for f in inspect.getinnerframes(error.__traceback__) if f.filename != __file__] \
        if error.__traceback__ else []
    if frames:
        where = f" (line {frames[-1].lineno} of {os.path.basename(frames[-1].filename)})"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}{where}"


def find_models(paths):
    """[(Kind, path of the model file)] for the paths given: files themselves, folders searched for the
    tutorials' model files.  Raises InputError for a path that does not exist or holds none."""
    found = []
    for given in paths:
        path = os.path.abspath(os.path.expanduser(given))
        if not os.path.exists(path):
            raise InputError(f"{given}: no such file or folder")
        if os.path.isdir(path):
            here = [(k, os.path.join(path, k.file)) for k in KINDS if os.path.isfile(os.path.join(path, k.file))]
            if not here:
                raise InputError(f"{given}: a folder with no original model file ({MODEL_FILES})")
            found += here
            continue
        kind = next((k for k in KINDS if os.path.basename(path) == k.file), None) or _kind_by_class(path)
        if kind is None:
            raise InputError(f"{given}: not an original model file (none of {MODEL_FILES}, and it defines none "
                             f"of {', '.join(k.original for k in KINDS)})")
        found.append((kind, path))
    return found


def _kind_by_class(path):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e})") from None
    return next((k for k in KINDS if re.search(rf"^class\s+{k.original}\b", text, re.MULTILINE)), None)


def build_original(kind, module, path, word_dim, hidden_dim):
    """The original class at these sizes, after np.random.seed(SEED); InputError in one line if it cannot be built."""
    cls = getattr(module, kind.original, None)
    if not isinstance(cls, type):
        raise InputError(f"{path}: defines no class {kind.original}")
    np.random.seed(SEED)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return cls(word_dim, hidden_dim=hidden_dim)
    except Exception as e:
        raise InputError(f"{path}: cannot build {kind.original}: {explain(e)}") from None


def our_class(kind):
    module_name, name = kind.ours.split(".")
    return getattr(importlib.import_module(module_name), name)


_ours = {}      # our models by class, sizes and float type: each compiles once per process


def our_model(kind, word_dim, hidden_dim):
    """Ours at these sizes after np.random.seed(SEED), with zero optimizer caches.  One built before at
    the same sizes (the trained file's, another copy of a tutorial) is reused with the fresh values:
    compiling is what takes the time, and the compiled functions read the values at each call."""
    cls = our_class(kind)
    np.random.seed(SEED)
    fresh = cls(word_dim, hidden_dim=hidden_dim)
    model = _ours.setdefault((cls, word_dim, hidden_dim, backend.floatX()), fresh)
    if model is not fresh:
        for mine, new in zip(model.params + model.slots, fresh.params + fresh.slots):
            mine.set_value(new.get_value())
        model.bptt_truncate, model.truncation = fresh.bptt_truncate, fresh.truncation
    return model


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------

_ptb = {}


def sentences_for(kind, folder, word_dim):
    """(X, Y, description): the tutorial's reddit sentences where its CSV is in the folder, with the
    vocabulary its layout builds, else the Penn Treebank's, with a vocabulary of word_dim words."""
    csv = os.path.join(folder, kind.data[0])
    if os.path.isfile(csv):
        from corpus import load_data
        with contextlib.redirect_stdout(io.StringIO()):
            X, Y, _, _ = load_data(csv, vocabulary_size=word_dim, layout=kind.data[1])
        about = f"{kind.data[0]} ({kind.data[1]} vocabulary of {word_dim})"
    else:
        key = (word_dim, kind.data[1])
        if key not in _ptb:
            from corpus import load_ptb
            _ptb[key] = load_ptb(vocabulary_size=word_dim, layout=kind.data[1])["train"]
        X, Y = _ptb[key]
        about = f"Penn Treebank ({kind.data[1]} vocabulary of {word_dim}; {kind.data[0]} absent)"
    return [np.asarray(x, dtype=np.int32) for x in X], [np.asarray(y, dtype=np.int32) for y in Y], about


# --------------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------------

class Row(NamedTuple):
    model: str
    check: str
    original: str     # a value worth showing (a loss, a time), or ""
    ours: str
    difference: str
    tolerance: str
    ok: object        # True, False, or None for rows that are measurements, not checks


def relative(ours, original):
    """Largest |ours - original| relative to the original's largest magnitude (absolute where that is 0)."""
    ours, original = np.asarray(ours, dtype=np.float64), np.asarray(original, dtype=np.float64)
    if ours.shape != original.shape:
        return np.inf
    scale = np.max(np.abs(original)) if original.size else 0.0
    error = np.max(np.abs(ours - original)) if original.size else 0.0
    return float(error / scale) if scale > 0 else float(error)


class Comparison:
    """The rows of one run, and its tolerance."""

    def __init__(self, tolerance):
        self.tolerance, self.rows = tolerance, []

    def close(self, model, check, ours, original, show=False):
        error = relative(ours, original)
        self.rows.append(Row(model, check, f"{float(original):.10g}" if show else "",
                             f"{float(ours):.10g}" if show else "", f"{error:.2g}", f"{self.tolerance:g}",
                             bool(error <= self.tolerance)))
        return error <= self.tolerance

    def exact(self, model, check, ours, original, note=""):
        ours, original = np.asarray(ours), np.asarray(original)
        same = ours.shape == original.shape and np.array_equal(ours, original)
        if same:
            difference = "exactly equal"
        elif ours.shape != original.shape:
            difference = f"shape {ours.shape} vs {original.shape}"
        else:
            difference = f"{int(np.sum(ours != original))} of {original.size} differ"
            if np.issubdtype(original.dtype, np.floating):
                difference += f", by {relative(ours, original):.2g}"
        self.rows.append(Row(model, check, "", "", difference + note, "equal", bool(same)))
        return same

    def predictions(self, model, check, ours, original, probabilities):
        """Predicted ids equal; in float32 a word whose original probability is within the tolerance of
        the largest counts as a tie that rounding may break either way."""
        ours, original = np.asarray(ours), np.asarray(original)
        if ours.shape == original.shape and backend.floatX() == "float32":
            rows = np.arange(len(original))
            p = np.asarray(probabilities, dtype=np.float64)
            ties = (ours != original) & (p[rows, original] - p[rows, ours] <= self.tolerance * p[rows, original])
            if np.any(ties):
                ours = np.where(ties, original, ours)
                return self.exact(model, check, ours, original, f" ({int(np.sum(ties))} ties within rounding)")
        return self.exact(model, check, ours, original)

    def note(self, model, check, original="", ours="", difference=""):
        self.rows.append(Row(model, check, original, ours, difference, "", None))

    def failures(self):
        return [r for r in self.rows if r.ok is False]


def call(function, *args):
    """A method of an original model, its prints kept out of the table."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)


def parameters(model, names):
    return {n: np.array(getattr(model, n).get_value()) for n in names}


def set_state(model, values):
    for name, value in values.items():
        getattr(model, name).set_value(value)


def compare_pair(comparison, label, kind, original, ours, X, Y, train, timed_steps):
    """Every check of one original model against ours (see the module's docstring)."""
    names = [p.name for p in ours.params]
    slots = [s.name for s in ours.slots]
    for setting in ("word_dim", "hidden_dim", "bptt_truncate"):
        comparison.exact(label, f"setting {setting} = {getattr(ours, setting)}", getattr(ours, setting),
                         getattr(original, setting, None))
    missing = [n for n in names + slots if not hasattr(original, n)]
    if missing:
        comparison.exact(label, "parameters present", [n for n in names + slots if n not in missing], names + slots)
        return
    initial = parameters(original, names + slots)
    same = [comparison.exact(label, f"initial {n}", getattr(ours, n).get_value(), initial[n]) for n in names + slots]
    if not all(same):       # the computations are compared from the same values
        set_state(ours, initial)
        comparison.note(label, "(our parameters set to the original's, to compare the computations)")
    x, y = X[0], Y[0]
    words = f"sentence 0, {len(x)} words"
    probabilities = call(getattr(original, kind.probabilities), x)
    comparison.close(label, f"probabilities ({words})", getattr(ours, kind.probabilities)(x), probabilities)
    comparison.predictions(label, f"predicted words ({words})", getattr(ours, kind.predictions)(x),
                           call(getattr(original, kind.predictions), x), probabilities)
    comparison.close(label, f"loss ce_error ({words})", ours.ce_error(x, y), call(original.ce_error, x, y), show=True)
    for name, g_ours, g_original in zip(names, ours.bptt(x, y), call(original.bptt, x, y)):
        comparison.close(label, f"gradient d{name} (bptt, {words})", g_ours, g_original)
    Xc, Yc = X[:CHECK_SENTENCES], Y[:CHECK_SENTENCES]
    comparison.close(label, f"calculate_loss (sentences 0-{len(Xc) - 1})", ours.calculate_loss(Xc, Yc),
                     call(original.calculate_loss, Xc, Yc), show=True)
    for i in range(STEPS):
        call(original.sgd_step, X[i], Y[i], kind.learning_rate)
        ours.sgd_step(X[i], Y[i], kind.learning_rate)
    after = f"after {STEPS} sgd_steps (rate {kind.learning_rate:g})"
    for n in names + slots:
        comparison.close(label, f"{n} {after}", getattr(ours, n).get_value(), getattr(original, n).get_value())
    comparison.close(label, f"calculate_loss {after}", ours.calculate_loss(Xc, Yc),
                     call(original.calculate_loss, Xc, Yc), show=True)
    if train:
        set_state(original, initial)
        set_state(ours, initial)
        train_side_by_side(comparison, label, kind, original, ours, X[:train], Y[:train], names + slots)
    time_steps(comparison, label, kind, original, ours, x, y, timed_steps)


def train_side_by_side(comparison, label, kind, original, ours, X, Y, names):
    """sgd_step on each sentence in order, the losses over these sentences reported REPORTS times."""
    n = len(X)
    every = max(1, n // REPORTS)
    for i in range(n + 1):
        if i % every == 0 or i == n:
            comparison.close(label, f"--train: calculate_loss after {i} of {n} steps", ours.calculate_loss(X, Y),
                             call(original.calculate_loss, X, Y), show=True)
        if i < n:
            call(original.sgd_step, X[i], Y[i], kind.learning_rate)
            ours.sgd_step(X[i], Y[i], kind.learning_rate)
    worst = max(names, key=lambda m: relative(getattr(ours, m).get_value(), getattr(original, m).get_value()))
    comparison.close(label, f"--train: parameters after {n} steps (worst: {worst})",
                     getattr(ours, worst).get_value(), getattr(original, worst).get_value())


def time_steps(comparison, label, kind, original, ours, x, y, repeats):
    """The median time of one sgd_step of each, timed in alternation so that both meet the same load."""
    def step_original():
        original.sgd_step(x, y, kind.learning_rate)

    def step_ours():
        ours.sgd_step(x, y, kind.learning_rate)
    times = {step_original: [], step_ours: []}
    for round_ in range(repeats + 2):
        for step, spent in times.items():
            start = time.perf_counter()
            step()
            if round_ >= 2:
                spent.append(time.perf_counter() - start)
    t_original, t_ours = (statistics.median(t) * 1000 for t in times.values())
    comparison.note(label, f"median sgd_step, ms ({len(x)} words, {repeats} steps each)", f"{t_original:.2f}",
                    f"{t_ours:.2f}", f"ours/original {t_ours / t_original:.2f}")


def compare_trained(comparison, originals, kind, path, modules, quick, built):
    """The tutorial's trained file, loaded into the original class by the original's own loader and into
    ours, compared on the same sentences; or a row saying it is absent.  A loader that fills a model
    is given `built` (the original model compared before) where the file has its sizes."""
    folder = os.path.dirname(path)
    file = os.path.join(folder, kind.trained)
    label = f"{kind.original} (trained)"
    if not os.path.isfile(file):
        comparison.note(label, f"trained file {kind.trained}: absent in {folder}")
        return
    utils_path = os.path.join(folder, "utils.py")
    if not os.path.isfile(utils_path):
        comparison.note(label, f"trained file {kind.trained}: no utils.py beside it, so no original loader")
        return
    utils = originals.load(utils_path, {os.path.basename(path)[:-3]: modules[path]})
    loader = getattr(utils, "load_model_parameters_theano", None)
    if loader is None:
        raise InputError(f"{utils_path}: defines no load_model_parameters_theano")
    from utils import load_model_parameters_aesara, read_arrays
    arrays = read_arrays(file)
    if "V" not in arrays or arrays["V"].ndim != 2:
        raise InputError(f"{file}: no 2-D output matrix V, so not the tutorial's parameter file")
    word_dim, hidden_dim = (int(n) for n in arrays["V"].shape)
    cls = getattr(modules[path], kind.original)
    arguments = inspect.signature(loader).parameters
    try:
        if "model" in arguments:                       # the RNN tutorial's loader fills a model
            original = built if (built.word_dim, built.hidden_dim) == (word_dim, hidden_dim) else \
                build_original(kind, modules[path], path, word_dim, hidden_dim)
            call(loader, file, original)
        elif "modelClass" in arguments:                # the GRU tutorial's builds one of this class
            with contextlib.redirect_stdout(io.StringIO()):
                original = loader(file, modelClass=cls)
        else:
            original = call(loader, file)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{utils_path}: load_model_parameters_theano({kind.trained}) fails: {explain(e)}") from None
    with contextlib.redirect_stdout(io.StringIO()):
        ours = load_model_parameters_aesara(file, our_model(kind, word_dim, hidden_dim))
    X, Y, about = sentences_for(kind, folder, word_dim)
    X, Y = X[:CHECK_SENTENCES if quick else 100], Y[:CHECK_SENTENCES if quick else 100]
    comparison.note(label, f"{kind.trained}: {word_dim} words x {hidden_dim} hidden, "
                    f"{arrays['V'].dtype}; {len(X)} sentences of {about}")
    names = [p.name for p in ours.params]
    for n in names:
        comparison.exact(label, f"loaded {n}", getattr(ours, n).get_value(), getattr(original, n).get_value())
    comparison.close(label, f"calculate_loss ({len(X)} sentences)", ours.calculate_loss(X, Y),
                     call(original.calculate_loss, X, Y), show=True)
    comparison.predictions(label, f"predicted words ({len(X)} sentences)",
                           np.concatenate([getattr(ours, kind.predictions)(x) for x in X]),
                           np.concatenate([call(getattr(original, kind.predictions), x) for x in X]),
                           np.concatenate([call(getattr(original, kind.probabilities), x) for x in X]))


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(message)


def parse(argv):
    parser = _Parser(prog="compare.py", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help=f"a folder or file of your copy of the tutorials ({MODEL_FILES})")
    parser.add_argument("--float", type=int, default=None, choices=(32, 64),
                        help="compare in float32 or float64 (default 64, or THEANO_FLAGS' floatX)")
    parser.add_argument("--quick", action="store_true", help="small sizes (40 words, 9 hidden) instead of the "
                        "tutorials' (RNN and LSTM 8000/100, GRU 2000/128)")
    parser.add_argument("--train", type=int, default=0, metavar="N",
                        help="also train both on sentences 0 .. N-1 in order, comparing the losses")
    parser.add_argument("--save", metavar="FILE", help="also write the table as markdown to FILE")
    args = parser.parse_args(argv)
    if args.train < 0:
        raise InputError(f"--train must be 0 or more sentences, got {args.train}")
    if args.save and not os.path.isdir(os.path.dirname(os.path.abspath(args.save))):
        raise InputError(f"--save {args.save}: no such folder {os.path.dirname(os.path.abspath(args.save))}")
    return args


def progress(message):
    """A line on a terminal's stderr while the slow parts run (compiling takes minutes at full size)."""
    if sys.stderr.isatty():
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args):
    """The comparison's rows, header lines and the tolerance."""
    import theano_compat
    bits = args.float or backend.FLAGS_FLOAT or 64
    backend.set_float(bits)
    tolerance = FLOAT64_TOLERANCE if bits == 64 else FLOAT32_TOLERANCE
    found = find_models(args.paths)
    header = ["Found: " + "; ".join(f"{k.file} ({k.original}) at {p}" for k, p in found)]
    missing = [k.file for k in KINDS if k not in [f[0] for f in found]]
    if missing:
        header.append("Not given: " + ", ".join(missing))
    comparison = Comparison(tolerance)
    originals = Originals()
    with theano_compat.installed():
        modules = {path: originals.load(path) for _, path in found}
        built = [(kind, path, *(kind.quick_sizes if args.quick else kind.sizes)) for kind, path in found]
        models = []
        for kind, path, V, H in built:
            progress(f"building {kind.original} from {path} at {V} words, {H} hidden")
            models.append((kind, path, build_original(kind, modules[path], path, V, H), V, H))
        for kind, path, original, V, H in models:
            progress(f"comparing {kind.original} with {kind.ours.split('.')[1]}")
            X, Y, about = sentences_for(kind, os.path.dirname(path), V)
            if len(X) < max(STEPS, CHECK_SENTENCES, args.train):
                raise InputError(f"{about}: {len(X)} sentences, fewer than the {max(STEPS, args.train)} needed")
            label = kind.original if [k for k, *_ in models].count(kind) == 1 else f"{kind.original} ({path})"
            ours = our_model(kind, V, H)
            comparison.note(label, f"{V} words, {H} hidden, bptt_truncate {original.bptt_truncate}; sentences: {about}")
            compare_pair(comparison, label, kind, original, ours, X, Y, args.train, TIMED_STEPS[args.quick])
            if kind.trained:
                progress(f"{kind.original}: the trained file {kind.trained}")
                compare_trained(comparison, originals, kind, path, modules, args.quick, original)
    return comparison, header, tolerance


def table(rows):
    lines = ["| model | check | original | ours | difference | tolerance | agrees |", "|---|---|---|---|---|---|---|"]
    mark = {True: "yes", False: "**NO**", None: ""}
    return lines + [f"| {r.model} | {r.check} | {r.original} | {r.ours} | {r.difference} | {r.tolerance} | "
                    f"{mark[r.ok]} |" for r in rows]


def verdict(comparison):
    failures = comparison.failures()
    if not failures:
        return f"All {sum(r.ok is True for r in comparison.rows)} checks agree."
    first = failures[0]
    return (f"DIFFERS: {first.model}: {first.check}: {first.difference} (tolerance {first.tolerance}); "
            f"{len(failures)} of {sum(r.ok is not None for r in comparison.rows)} checks differ: "
            + ", ".join(f"{r.model} {r.check}" for r in failures[:8]) + ("..." if len(failures) > 8 else ""))


def markdown(argv, header, comparison, tolerance, seconds):
    from timing import machine
    versions = f"numpy {np.__version__}"
    return "\n".join([
        "# The original tutorial code beside ours", "",
        f"Command: `python compare.py {' '.join(shlex.quote(a) for a in argv)}`  ",
        f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min  ",
        f"Machine: {machine()}  ",
        f"Python {platform.python_version()}; {backend.describe()}; {versions}; "
        f"{backend.floatX()}, tolerance {tolerance:g} of each array's largest value  ",
        *[line + "  " for line in header], "",
        *table(comparison.rows), "", verdict(comparison), ""])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    started = time.perf_counter()
    try:
        args = parse(argv)
        comparison, header, tolerance = run(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = markdown(argv, header, comparison, tolerance, time.perf_counter() - started)
    print(text)
    if args.save:
        with open(args.save, "w") as f:
            f.write(text)
    return 1 if comparison.failures() else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
