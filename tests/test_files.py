"""Parameter files: the original tutorial's trained model, round trips, and bad files."""
import os
import zipfile

import numpy as np
import pytest

import reference as ref
from conftest import CLASSES, HIDDEN_DIM, WORD_DIM, params_of
from errors import InputError
from utils import gradient_check_aesara, load_model_parameters_aesara, save_model_parameters_aesara

# the original tutorial's trained RNN (U 50x8000, V 8000x50, W 50x50, float32); see tests/data/README.md
ORIGINAL = os.path.join(os.path.dirname(__file__), "data", "trained-model-theano.npz")

all_kinds = pytest.mark.parametrize("model", ["rnn", "lstm", "gru"], indirect=True)


def test_the_original_trained_model_loads_and_predicts_like_the_equations():
    path = ORIGINAL
    model = load_model_parameters_aesara(path, CLASSES["rnn"])
    assert (model.word_dim, model.hidden_dim) == (8000, 50)
    with np.load(path) as npz:
        P = {k: npz[k].astype(np.float64) for k in ("U", "V", "W")}
    x = [0, 1, 2, 3, 100, 7999, 42, 7, 7]
    probs = model.forward_propagation(x)
    assert probs.shape == (len(x), 8000)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    _, expected = ref.forward("rnn", P, x, (np.zeros(50),))
    np.testing.assert_allclose(probs, expected, rtol=1e-9)
    # a trained model is far better than uniform on the tokens it saw in training
    assert np.mean(np.log(probs.max(axis=1))) > np.log(100. / 8000)


@all_kinds
def test_save_then_load_is_exact_and_keeps_the_original_keys(model, tmp_path):
    path = str(tmp_path / "model.npz")
    save_model_parameters_aesara(model, path)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(p.name for p in model.params)
    loaded = load_model_parameters_aesara(path, type(model))
    assert (loaded.word_dim, loaded.hidden_dim) == (WORD_DIM, HIDDEN_DIM)
    for name, value in params_of(model).items():
        np.testing.assert_array_equal(getattr(loaded, name).get_value(), value)
    # ... and into an existing model, in place
    before = params_of(model)
    for p in model.params:
        p.set_value(np.zeros_like(p.get_value()))
    assert load_model_parameters_aesara(path, model) is model
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(model, name).get_value(), value)


def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return str(path)


def rnn_arrays(V=WORD_DIM, H=HIDDEN_DIM):
    return {"U": np.zeros((H, V)), "V": np.zeros((V, H)), "W": np.zeros((H, H))}


def bad_files(tmp_path):
    good = rnn_arrays()
    yield "missing W", write_npz(tmp_path / "a.npz", U=good["U"], V=good["V"]), "missing W"
    yield "wrong shape", write_npz(tmp_path / "b.npz", **dict(good, W=np.zeros((3, 3)))), "W has shape (3, 3)"
    yield "integers", write_npz(tmp_path / "c.npz", **dict(good, W=np.zeros((HIDDEN_DIM,) * 2, int))), "dtype"
    yield "NaN", write_npz(tmp_path / "d.npz", **dict(good, W=np.full((HIDDEN_DIM,) * 2, np.nan))), "NaN"
    yield "pickled", write_npz(tmp_path / "e.npz", **dict(good, W=np.array([{"a": 1}], dtype=object))), "pickle"
    truncated = tmp_path / "f.npz"
    truncated.write_bytes(open(write_npz(tmp_path / "g.npz", **good), "rb").read()[:300])
    yield "truncated", str(truncated), "not a readable .npz"
    yield "absent", str(tmp_path / "nothing.npz"), "no such file"
    (tmp_path / "text.npz").write_text("hello")
    yield "not a zip", str(tmp_path / "text.npz"), "not an .npz"
    yield "gru file as rnn", write_npz(tmp_path / "h.npz", E=np.zeros((HIDDEN_DIM, WORD_DIM)),
                                       U=np.zeros((6, HIDDEN_DIM, HIDDEN_DIM)), W=np.zeros((6, HIDDEN_DIM, HIDDEN_DIM)),
                                       b=np.zeros((6, HIDDEN_DIM)), V=np.zeros((WORD_DIM, HIDDEN_DIM)),
                                       c=np.zeros(WORD_DIM)), "holds E, b, c"
    yield "shape", write_npz(tmp_path / "i.npz", **dict(good, U=np.zeros((6, HIDDEN_DIM, HIDDEN_DIM)))), \
        f"U has shape (6, {HIDDEN_DIM}, {HIDDEN_DIM})"


def test_bad_parameter_files_get_one_line_errors_naming_the_file(tmp_path):
    for label, path, expected in bad_files(tmp_path):
        with pytest.raises(InputError) as error:
            load_model_parameters_aesara(path, CLASSES["rnn"])
        message = str(error.value)
        assert "\n" not in message, label
        assert path in message and expected in message, (label, message)


def test_a_stacked_lstm_file_brings_its_layers(tmp_path):
    np.random.seed(5)
    model = CLASSES["lstm"](WORD_DIM, hidden_dim=HIDDEN_DIM, layers=3)
    path = str(tmp_path / "lstm3.npz")
    save_model_parameters_aesara(model, path)
    loaded = load_model_parameters_aesara(path, CLASSES["lstm"])
    assert loaded.layers == 3 and len(loaded.params) == 14 + 2 * 12
    for name, value in params_of(model).items():
        np.testing.assert_array_equal(getattr(loaded, name).get_value(), value)
    with pytest.raises(InputError, match="U_i2"):
        load_model_parameters_aesara(path, CLASSES["lstm"](WORD_DIM, hidden_dim=HIDDEN_DIM))


def test_a_parameter_file_for_another_vocabulary_is_refused(tmp_path):
    path = write_npz(tmp_path / "m.npz", **rnn_arrays(V=WORD_DIM + 1))
    model = CLASSES["rnn"](WORD_DIM, hidden_dim=HIDDEN_DIM)
    with pytest.raises(InputError, match="expected"):
        load_model_parameters_aesara(path, model)


def test_an_interrupted_save_leaves_the_previous_file(tmp_path, monkeypatch):
    model = CLASSES["rnn"](WORD_DIM, hidden_dim=HIDDEN_DIM)
    path = str(tmp_path / "model.npz")
    save_model_parameters_aesara(model, path)
    before = open(path, "rb").read()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model_parameters_aesara(model, path)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["model.npz"]   # no temporary file left behind


@all_kinds
def test_gradient_check_passes_for_every_model(model):
    x, y = [1, 4, 0, 7, 7, 12], [4, 0, 7, 7, 12, 3]
    worst = gradient_check_aesara(model, x, y, h=1e-5, error_threshold=1e-4, max_checks=12, verbose=False)
    assert set(worst) == {p.name for p in model.params}
    assert model.bptt_truncate == 4          # restored


@pytest.mark.parametrize("model", ["lstm"], indirect=True)
def test_gradient_check_catches_a_wrong_gradient(model, monkeypatch):
    x, y = [1, 4, 0, 7], [4, 0, 7, 7]
    right = model.bptt
    monkeypatch.setattr(model, "bptt", lambda a, b: [g * 1.01 for g in right(a, b)])
    with pytest.raises(AssertionError, match="gradient check failed"):
        gradient_check_aesara(model, x, y, h=1e-5, error_threshold=1e-4, max_checks=3, verbose=False)
