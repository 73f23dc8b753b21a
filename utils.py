"""Parameter files, gradient checking and data loading, under the tutorials' names.

Model files are plain .npz holding exactly the tutorials' keys (RNN: U, V, W; LSTM: the 14 names;
GRU: E, U, W, V, b, c), so the original code and ours read each other's files.  They are written
atomically (temporary file, fsync, rename): a crash mid-write leaves the previous file intact.
"""
import json
import os
import sys
import tempfile
import zipfile

import numpy as np

from corpus import load_data  # noqa: F401  (the tutorials imported load_data from utils)
from errors import InputError
from recurrent import assign
from training import TrainingState


def write_atomically(path, write):
    """Call write(file) on a temporary file next to path, then move it over path in one step."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_leftovers(path):
    """Delete the temporary files that a process killed while writing path, its .state.npz or its .png
    left behind (write_atomically's); returns their names."""
    folder = os.path.dirname(os.path.abspath(path))
    stem = path[:-4] if path.endswith(".npz") else path
    targets = {os.path.basename(p) for p in (path, state_path(path), stem + ".png")}
    # mkstemp's names: the prefix, 8 random characters, the suffix (the target's name)
    names = [n for n in os.listdir(folder) if n.startswith(".tmp-") and n[13:] in targets]
    for name in names:
        os.unlink(os.path.join(folder, name))
    return names


def save_arrays(path, arrays):
    """Write a dict of numpy arrays as an .npz at exactly this path (numpy would append .npz)."""
    write_atomically(path, lambda f: np.savez(f, **arrays))


def read_arrays(path):
    """All arrays of an .npz file, refusing pickled objects; bad files raise InputError in one line."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":        # an .npz is a zip archive
                raise InputError(f"{path}: not an .npz parameter file (not a zip archive)")
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a parameter file") from None
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise InputError(f"{path}: holds pickled Python objects, which are never loaded (unsafe)") from None
        raise InputError(f"{path}: not a readable .npz parameter file ({e})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable .npz parameter file ({e})") from None


def model_arrays(model):
    """What a model file holds: every parameter under its name, and the options its keys and shapes
    cannot tell (model.metadata(), e.g. the Clockwork RNN's periods), which readers of the
    original format ignore."""
    return {**{p.name: p.get_value() for p in model.params}, **model.metadata()}


def save_model_parameters_aesara(model, outfile):
    save_arrays(outfile, model_arrays(model))
    print(f"Saved model parameters to {outfile}.")


def set_parameters(model, arrays, source):
    """Copy arrays into the model's parameters, checking names, shapes and dtypes first."""
    missing = [p.name for p in model.params if p.name not in arrays]
    if missing:
        raise InputError(f"{source}: missing {', '.join(missing)} for a {type(model).__name__} "
                         f"(the file holds {', '.join(sorted(arrays)) or 'nothing'})")
    metadata = model.metadata()
    for key, value in metadata.items():
        if key in arrays and not np.array_equal(arrays[key], value):
            raise InputError(f"{source}: {key} {arrays[key].tolist()} differ from this model's {value.tolist()}")
    unexpected = sorted(set(arrays) - {p.name for p in model.params} - set(metadata))
    if unexpected:
        raise InputError(f"{source}: holds {', '.join(unexpected)}, which a {type(model).__name__} of "
                         f"this shape does not have (another model or number of layers?)")
    for p in model.params:
        value, want = arrays[p.name], p.get_value().shape
        if value.shape != want:
            raise InputError(f"{source}: {p.name} has shape {value.shape}, expected {want} "
                             f"for word_dim={model.word_dim}, hidden_dim={model.hidden_dim}")
        if not np.issubdtype(value.dtype, np.floating):
            raise InputError(f"{source}: {p.name} has dtype {value.dtype}, expected floating point")
        if not np.all(np.isfinite(value)):
            raise InputError(f"{source}: {p.name} contains NaN or infinite values")
    for p in model.params:
        assign(p, arrays[p.name])


def load_model_parameters_aesara(path, modelClass, **options):
    """Load a parameter file into a model.  modelClass may be a class, sized from the file (every model's
    output matrix V is word_dim x hidden_dim), or an existing model, filled in place.  options go to the
    constructor (bptt_truncate, truncation).  Returns the model."""
    arrays = read_arrays(path)
    if isinstance(modelClass, type):
        if "V" not in arrays or arrays["V"].ndim != 2:
            raise InputError(f"{path}: no 2-D output matrix V, so not a model parameter file")
        word_dim, hidden_dim = arrays["V"].shape
        options = {**modelClass.file_shape(arrays), **options}
        model = modelClass(int(word_dim), hidden_dim=int(hidden_dim), **options)
    else:
        model = modelClass
    set_parameters(model, arrays, path)
    print(f"Loaded model parameters from {path}: hidden_dim={model.hidden_dim} word_dim={model.word_dim}")
    return model


def state_path(model_path):
    """Where a checkpoint keeps what resuming needs beyond the parameters: beside the model file."""
    stem = model_path[:-4] if model_path.endswith(".npz") else model_path
    return stem + ".state.npz"


def save_checkpoint(model_path, model, state, index_to_word, settings):
    """The model file (original format) and, beside it, everything an exact resume needs: parameters
    again (so the state file alone is consistent even if a crash falls between the two writes),
    optimizer slots, the global np.random state, the position in training (in stream mode also the
    states the last window ended in), vocabulary and settings.
    No pickles: strings are unicode arrays, settings JSON."""
    _, keys, position, has_gauss, cached = np.random.get_state()       # the legacy MT19937 state
    batches = state.batches or []
    arrays = {"param:" + p.name: p.get_value() for p in model.params}
    arrays.update({"slot:" + s.name: s.get_value() for s in model.slots})
    arrays.update({f"carry:{i}": np.asarray(s) for i, s in enumerate(state.carry or [])})
    arrays.update({
        "rng_keys": keys, "rng_numbers": np.array([position, has_gauss]), "rng_gauss": np.array(cached),
        "learning_rate": np.array(state.learning_rate),
        "counters": np.array([state.epoch, state.position, state.examples_seen, state.batches is not None]),
        "batch_sentences": np.array([i for b in batches for i in b], dtype=np.int64),
        "batch_sizes": np.array([len(b) for b in batches], dtype=np.int64),
        "history": np.array(state.history, dtype=np.float64).reshape(-1, 2),
        "index_to_word": np.array(index_to_word, dtype=str),
        "settings": np.array(json.dumps(settings, sort_keys=True)),
    })
    save_arrays(state_path(model_path), arrays)
    save_arrays(model_path, model_arrays(model))


def load_checkpoint(model_path, model):
    """Restore a checkpoint written by save_checkpoint into model and np.random; returns
    (TrainingState, index_to_word, settings)."""
    path = state_path(model_path)
    arrays = read_arrays(path)
    try:
        set_parameters(model, {k[6:]: v for k, v in arrays.items() if k.startswith("param:")}, path)
        for key, value in arrays.items():
            if key.startswith(("slot:", "carry:", "learning_rate")) and not np.all(np.isfinite(value)):
                raise InputError(f"{path}: {key} contains NaN or infinite values")
        if not float(arrays["learning_rate"]) > 0:
            raise InputError(f"{path}: the learning rate {float(arrays['learning_rate'])} is not positive")
        for name, value in ((k[5:], v) for k, v in arrays.items() if k.startswith("slot:")):
            assign(model.slot(name, like=value), value)
        epoch, position, seen, mid_epoch = (int(v) for v in arrays["counters"])
        sizes, flat = arrays["batch_sizes"], arrays["batch_sentences"].tolist()
        ends = np.cumsum(sizes)
        batches = [flat[e - n:e] for e, n in zip(ends, sizes)] if mid_epoch else None
        carry = [arrays[f"carry:{i}"] for i in range(sum(k.startswith("carry:") for k in arrays))] or None
        state = TrainingState(float(arrays["learning_rate"]), epoch, position, seen, batches,
                              [tuple(row) for row in arrays["history"]], carry)
        position_rng, has_gauss = (int(v) for v in arrays["rng_numbers"])
        np.random.set_state(("MT19937", arrays["rng_keys"], position_rng, has_gauss, float(arrays["rng_gauss"])))
        return state, [str(w) for w in arrays["index_to_word"]], json.loads(str(arrays["settings"]))
    except KeyError as e:
        raise InputError(f"{path}: not a training state file (no {e.args[0]})") from None


def gradient_check_aesara(model, x, y, h=1e-3, error_threshold=1e-2, max_checks=None, verbose=True):
    """Compare full-BPTT gradients with central differences of the total loss, for every parameter.

    Like the tutorials' gradient_check_theano, but for any model (it walks model.params) and it tells
    the result instead of only printing it: returns {name: largest relative error}, and raises
    AssertionError naming the first element that exceeds error_threshold.  max_checks bounds the number
    of elements tried per parameter (spread evenly); use float64 for meaningful numbers."""
    saved = model.bptt_truncate
    model.bptt_truncate = -1           # the loss's true gradient needs the full backward pass
    try:
        gradients = model.bptt(x, y)
    finally:
        model.bptt_truncate = saved
    worst = {}
    for param, backprop in zip(model.params, gradients):
        value = param.get_value()
        indices = list(np.ndindex(value.shape))
        if max_checks and len(indices) > max_checks:
            indices = [indices[i] for i in np.linspace(0, len(indices) - 1, max_checks).astype(int)]
        worst[param.name] = 0.0
        for ix in indices:
            original = value[ix]
            value[ix] = original + h
            param.set_value(value)
            plus = model.calculate_total_loss([x], [y])
            value[ix] = original - h
            param.set_value(value)
            minus = model.calculate_total_loss([x], [y])
            value[ix] = original
            param.set_value(value)
            estimate = (plus - minus) / (2 * h)
            scale = abs(backprop[ix]) + abs(estimate)
            error = 0.0 if scale == 0 else abs(backprop[ix] - estimate) / scale
            worst[param.name] = max(worst[param.name], error)
            if error > error_threshold:
                raise AssertionError(f"gradient check failed for {param.name}{list(ix)}: backprop "
                                     f"{backprop[ix]:.8g}, numerical {estimate:.8g}, relative error {error:.3g}")
        if verbose:
            print(f"Gradient check for parameter {param.name} passed "
                  f"({len(indices)} elements, worst relative error {worst[param.name]:.2e}).")
    sys.stdout.flush()
    return worst
