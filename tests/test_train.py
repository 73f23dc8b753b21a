"""train.py end to end, driven as a user drives it: environment variables, flags, sampling only."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from utils import load_data, load_model_parameters_aesara, state_path

TRAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train.py")

COMMENTS = [
    "The cat sat on the mat. The dog sat on the rug. The cat saw the dog.",
    "My dog likes the park. My cat likes the sofa. The dog and the cat are friends.",
    "I walked the dog to the park today. It was sunny, and the dog was happy.",
    "We fed the cat in the morning. The cat slept on the sofa all day.",
    "The park was full of dogs. Some dogs ran, some dogs sat on the grass.",
    "Is the cat on the mat? No, the cat is on the sofa. The dog is on the rug.",
    "Read more at http://example.com about cats. Cats are great pets.",
    "Dogs and cats can live together. My dog and my cat sleep on the rug.",
]


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "comments.csv"
    rows = ['"body","score"'] + ['"%s",%d' % (c, i) for i, c in enumerate(COMMENTS * 3)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def run(args, env=None, cwd=None):
    environment = {k: v for k, v in os.environ.items() if k not in (
        "LEARNING_RATE", "VOCABULARY_SIZE", "EMBEDDING_DIM", "HIDDEN_DIM", "NEPOCH", "MODEL_OUTPUT_FILE",
        "INPUT_DATA_FILE", "PRINT_EVERY", "MODEL_FILE")}
    environment.update(env or {})
    return subprocess.run([sys.executable, TRAIN] + args, env=environment, cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def losses(output):
    return [float(v) for v in re.findall(r"^Loss: ([0-9.]+)", output, re.M)]


@pytest.fixture(scope="module")
def env_run(small_csv, tmp_path_factory):
    """The tutorials' way: everything from environment variables (and the per-sentence SGD of the RNN)."""
    out = str(tmp_path_factory.mktemp("run") / "rnn.npz")
    sentences = len(load_data(small_csv, 40)[0])        # one report per epoch
    result = run(["--model", "rnn", "--optimizer", "sgd", "--batch-size", "1", "--no-progress", "--sample", "2"],
                 env={"INPUT_DATA_FILE": small_csv, "VOCABULARY_SIZE": "40", "HIDDEN_DIM": "12",
                      "LEARNING_RATE": "0.05", "NEPOCH": "6", "PRINT_EVERY": str(sentences),
                      "MODEL_OUTPUT_FILE": out})
    return result, out


def test_environment_variables_train_the_tutorial_rnn(env_run):
    result, out = env_run
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    step_line = next(i for i, line in enumerate(lines) if line.startswith("SGD Step time:"))
    assert not any(line.startswith("Loss:") for line in lines[:step_line])     # the step time comes first
    assert "RNNAesara: vocabulary 40, hidden 12" in result.stdout
    history = losses(result.stdout)
    assert len(history) == 6 and history[-1] < history[0] - 0.3, history
    model = load_model_parameters_aesara(out, __import__("rnn_aesara").RNNAesara)
    assert (model.word_dim, model.hidden_dim) == (40, 12)
    assert os.path.exists(state_path(out)) and os.path.exists(out[:-4] + ".png")


def test_a_saved_model_only_samples(env_run, small_csv):
    _, out = env_run
    result = run(["--nepoch", "0", "--model-file", out, "--model", "rnn", "--sample", "4",
                  "--input-data-file", small_csv, "--vocabulary-size", "40"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SGD Step time" not in result.stdout
    samples = result.stdout.split("Samples:\n", 1)[1].strip().splitlines()
    assert len(samples) == 4 and all(s.strip() for s in samples)
    known = set(" ".join(COMMENTS).lower().replace(".", " . ").replace(",", " , ").replace("?", " ? ").split())
    assert set(" ".join(samples).split()) <= known | {".", ",", "?", "'s", "'"}


def test_flags_win_over_the_environment(small_csv, tmp_path):
    out = str(tmp_path / "lstm.npz")
    result = run(["--model", "lstm", "--input-data-file", small_csv, "--vocabulary-size", "30", "--hidden-dim", "10",
                  "--nepoch", "2", "--print-every", "1000", "--model-output-file", out, "--sample", "1",
                  "--batch-size", "4", "--no-progress"],
                 env={"HIDDEN_DIM": "999", "VOCABULARY_SIZE": "5000", "NEPOCH": "50"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LSTMAesara: vocabulary 30, hidden 10" in result.stdout
    with np.load(out) as npz:
        assert npz["U_i"].shape == (10, 30) and sorted(npz.files)[0] == "U_f"


def test_help_explains_every_setting():
    result = run(["--help"])
    assert result.returncode == 0
    from train import PRESETS, SETTINGS
    assert len(SETTINGS) > 30
    for flag, env, *_ in SETTINGS:            # every setting, and the tutorial's variable beside it
        assert flag in result.stdout, flag
        assert env is None or env in result.stdout, env
    for preset in PRESETS:
        assert preset in result.stdout
    for model in ("rnn", "lstm", "gru", "peephole", "cifg", "dglstm", "cwrnn"):
        assert model in result.stdout


def test_a_preset_is_the_papers_recipe_and_any_flag_overrides_it():
    from errors import InputError
    from train import read_settings
    s = read_settings(["--preset", "ptb-small"])
    assert {k: s[k] for k in ("model", "layers", "hidden_dim", "embedding_dim", "init_scale", "unroll", "batch_size",
                              "optimizer", "learning_rate", "lr_decay", "decay_after", "nepoch", "clip")} == {
        "model": "lstm", "layers": 2, "hidden_dim": 200, "embedding_dim": 200, "init_scale": 0.1, "unroll": 20,
        "batch_size": 20, "optimizer": "sgd", "learning_rate": 1.0, "lr_decay": 0.5, "decay_after": 4, "nepoch": 13,
        "clip": 5.0}                    # Zaremba et al. 2014's small configuration (docs/design.md)
    assert s["dropout"] == 0 and not s["tied"]
    assert read_settings(["--preset", "ptb-small", "--nepoch", "2", "--unroll", "35"])["nepoch"] == 2
    assert read_settings(["--preset", "ptb-small-regularized"])["tied"]
    off = read_settings(["--preset", "ptb-small-regularized", "--no-tied", "--no-variational-dropout"])
    assert not off["tied"] and not off["variational_dropout"] and off["dropout"] == 0.3
    assert read_settings([])["unroll"] == 0                         # sentence mode stays the default
    assert read_settings([])["progress"] and not read_settings(["--no-progress"])["progress"]
    with pytest.raises(InputError, match="--preset must be one of"):
        read_settings(["--preset", "ptb-large"])
