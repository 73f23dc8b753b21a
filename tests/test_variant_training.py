"""The LSTM family from the command line: each new cell trains from train.py with falling loss, saves a
file that loads back into the same model, and samples; a checkpoint brings back the options the
parameters' names cannot tell.  The runs share the work of covering every optimizer, both step kinds
and both truncation modes between them (tests/test_reliability.py proves exact resumes)."""
import numpy as np
import pytest

from conftest import side_by_side
from test_train import losses, run, small_csv  # noqa: F401  (a fixture)
from utils import load_checkpoint, load_data, load_model_parameters_aesara, read_arrays, save_checkpoint
from training import TrainingState

from cwrnn_aesara import CWRNNAesara
from errors import InputError
from dglstm_aesara import DGLSTMAesara
from lstm_aesara import LSTMAesara

SMALL = ["--vocabulary-size", "40", "--hidden-dim", "8", "--no-progress"]

# model, its flags, the class and options its file must load back as
RUNS = {
    # sampling is shared code and costs a compile: one model samples
    "peephole": (["--sample", "0", "--optimizer", "sgd", "--batch-size", "1", "--learning-rate", "0.1",
                  "--bptt-truncate", "3", "--truncation", "bptt"], LSTMAesara, {"peephole": True, "layers": 1}),
    "cifg": (["--sample", "0", "--optimizer", "rmsprop", "--batch-size", "4", "--learning-rate", "0.01", "--layers", "2"],
             LSTMAesara, {"coupled": True, "layers": 2}),
    # theano truncation trains the last k outputs only: k near the sentences' length, for a falling loss
    "dglstm": (["--sample", "0", "--optimizer", "adam", "--batch-size", "4", "--learning-rate", "0.01",
                "--bptt-truncate", "8", "--truncation", "theano"], DGLSTMAesara, {"layers": 2, "peephole": True}),
    "cwrnn": (["--sample", "2", "--optimizer", "adam", "--batch-size", "1", "--learning-rate", "0.01", "--periods", "1,3"],
              CWRNNAesara, {"periods": (1, 3)}),
}


def every_epoch(csv):
    """--print-every for one report per epoch."""
    return ["--print-every", str(len(load_data(csv, 40)[0]))]


def train(model, csv, out, epochs, flags=None):
    return run(["--model", model, "--input-data-file", csv, "--nepoch", str(epochs), "--model-output-file", str(out)]
               + every_epoch(csv) + SMALL + (RUNS[model][0] if flags is None else flags))


@pytest.fixture(scope="module")
def runs(small_csv, tmp_path_factory):  # noqa: F811
    """The four trainings side by side: independent processes, one's compiling overlaps another's."""
    folder = tmp_path_factory.mktemp("variants")
    results = side_by_side(train, {model: (model, small_csv, folder / f"{model}.npz", 4) for model in RUNS})
    return {model: (result, folder / f"{model}.npz") for model, result in results.items()}


@pytest.mark.parametrize("model", list(RUNS))
def test_each_new_cell_trains_with_falling_loss_and_samples(runs, model):
    result, _ = runs[model]
    assert result.returncode == 0, result.stderr[-2000:]
    history = losses(result.stdout)
    assert len(history) == 4 and history[-1] < history[0] - 0.2, history
    if model == "cwrnn":      # two sampled sentences, indented (a sentence may be empty: END drawn first)
        samples = result.stdout.split("Samples:\n", 1)[1].splitlines()
        assert len(samples) == 2 and all(s.startswith("  ") for s in samples), samples


@pytest.mark.parametrize("model", list(RUNS))
def test_the_saved_file_loads_back_into_the_same_model(runs, model):
    _, out = runs[model]
    _, cls, shape = RUNS[model]
    loaded = load_model_parameters_aesara(str(out), cls)
    assert type(loaded) is cls and (loaded.word_dim, loaded.hidden_dim) == (40, 8)
    for option, value in shape.items():
        assert getattr(loaded, option) == value, option
    arrays = read_arrays(str(out))
    for p in loaded.params:
        np.testing.assert_array_equal(p.get_value(), arrays[p.name], err_msg=p.name)


def test_a_file_of_another_shape_is_refused_in_one_line(runs, small_csv):  # noqa: F811
    _, out = runs["cwrnn"]
    result = run(["--model", "cwrnn", "--periods", "1,2", "--model-file", str(out), "--nepoch", "0",
                  "--input-data-file", small_csv] + SMALL)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "periods" in result.stderr, result.stderr


def test_a_checkpoint_brings_back_the_clockwork_periods(tmp_path):
    """The model file keeps the periods beside U, V, W; the state file restores parameters and
    optimizer state into a model built from it."""
    np.random.seed(3)
    model = CWRNNAesara(12, hidden_dim=6, periods=(1, 3))
    adam_m = model.slot("adam_m_W", like=model.W)
    adam_m.set_value(np.full((6, 6), 0.25))
    path = str(tmp_path / "cw.npz")
    save_checkpoint(path, model, TrainingState(0.01, epoch=1), [f"w{i}" for i in range(12)], {"model": "cwrnn"})
    loaded = load_model_parameters_aesara(path, CWRNNAesara)
    assert loaded.periods == (1, 3)
    state, words, settings = load_checkpoint(path, loaded)
    assert state.epoch == 1 and words[-1] == "w11" and settings == {"model": "cwrnn"}
    for p in model.params:
        np.testing.assert_array_equal(getattr(loaded, p.name).get_value(), p.get_value(), err_msg=p.name)
    np.testing.assert_array_equal(loaded.adam_m_W.get_value(), adam_m.get_value())
    with pytest.raises(InputError, match="periods"):
        load_model_parameters_aesara(path, CWRNNAesara(12, hidden_dim=6, periods=(1, 2)))


@pytest.mark.parametrize("flags", [["--model", "dglstm", "--layers", "1"], ["--model", "lstm", "--layers", "0"],
                                   ["--model", "cwrnn", "--periods", "4,2"], ["--model", "cwrnn", "--hidden-dim", "30"],
                                   ["--model", "cwrnn", "--periods", "1,x"], ["--model", "lstm", "--periods", "1,2"],
                                   ["--model", "rnn", "--layers", "2"]])
def test_an_impossible_shape_gets_one_line_before_any_data_is_read(flags):
    result = run(flags + ["--input-data-file", "/nonexistent/file.csv"])    # read first, it would fail otherwise
    assert result.returncode == 2 and result.stderr.startswith("error: "), result.stderr
    assert result.stderr.strip().count("\n") == 0 and "nonexistent" not in result.stderr, result.stderr
