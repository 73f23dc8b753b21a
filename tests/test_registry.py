"""models.REGISTRY is the one list of models: every entry builds, has the tutorials' methods, saves a file that
identifies it and loads back as the same model; and train.py, experiments.py, bench.py and the tests' fixtures
take every entry from it (a model added to the registry alone reaches all of them)."""
import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import models
from conftest import WORD_DIM
from errors import InputError
from utils import load_model_parameters_aesara, read_arrays, save_model_parameters_aesara

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL_METHODS = ("forward_propagation", "predict", "ce_error", "bptt", "sgd_step", "calculate_total_loss",
                    "calculate_loss")


@pytest.mark.parametrize("name", list(models.REGISTRY))
def test_every_entry_builds_saves_and_loads_back_as_itself(name, tmp_path):
    entry = models.REGISTRY[name]
    np.random.seed(3)
    model = entry.build(WORD_DIM, 8, bptt_truncate=-1)          # 8 units: four clockwork modules of 2
    assert isinstance(model, entry.load())
    assert all(getattr(model, option) == value for option, value in entry.options.items())
    missing = [method for method in TUTORIAL_METHODS if not callable(getattr(model, method, None))]
    assert not missing, f"{name} lacks {missing}"
    constructor = inspect.signature(entry.load()).parameters
    assert all(flag in constructor for flag in entry.flags), f"{name}: {entry.flags} not all constructor options"
    path = str(tmp_path / f"{name}.npz")
    save_model_parameters_aesara(model, path)
    assert models.identify(read_arrays(path)) is entry, f"a {name} file is not told from the others'"
    back = load_model_parameters_aesara(path, entry.load(), bptt_truncate=-1)
    assert all(getattr(back, option) == value for option, value in entry.options.items())
    assert [p.name for p in back.params] == [p.name for p in model.params]
    for p, q in zip(back.params, model.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value(), err_msg=f"{name}: {p.name}")


def test_a_file_of_another_model_is_named_in_the_error(tmp_path):
    from train import load_model
    path = str(tmp_path / "rnn.npz")
    save_model_parameters_aesara(models.build("rnn", WORD_DIM, 4), path)
    lstm = models.REGISTRY["lstm"]
    with pytest.raises(InputError, match=r"missing .* \(the file holds a RNN: --model rnn\)"):
        load_model(path, "lstm", lstm.load(), {})


def test_an_unknown_model_is_refused_in_one_line():
    with pytest.raises(InputError, match="--model must be one of rnn, lstm"):
        models.entry("transformer")


# A process that adds an entry to the registry and nothing else, then asks each consumer what it offers.
CONSUMERS = r"""
import contextlib, dataclasses, io, json, sys
sys.path.insert(0, "tests")
import models
clockwork = models.REGISTRY["cwrnn"]
models.REGISTRY["fake"] = dataclasses.replace(
    clockwork, name="fake", title="Fake cell", about="a copy of the clockwork RNN under another name", tutorial=True,
    bench=(dataclasses.replace(clockwork.bench[0], kind="fake", label="Fake 8000/100", torch=False, extends="rnn"),))
import train, experiments, bench, conftest
text = io.StringIO()
with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
    train.read_settings(["--help"])
settings = train.read_settings(["--model", "fake", "--periods", "1,2"])
print(json.dumps({
    "help": "fake (a copy of the clockwork RNN" in text.getvalue(),
    "train": train.model_class(settings)[0].__name__, "header": train.describe(
        models.build("fake", 10, 4, periods=(1, 2)), models.entry("fake").shown),
    "cells": "fake" in experiments.CELLS, "names": experiments.NAMES.get("fake"),
    "bench": [case[0] for case in bench.SENTENCE_CASES if case[7] == "fake"], "baseline": bench.BASELINES.get("fake"),
    "conftest": "fake" in conftest.CLASSES}))
"""


def test_a_model_added_to_the_registry_alone_reaches_every_consumer():
    """Fails where a consumer keeps a list of models of its own."""
    result = subprocess.run([sys.executable, "-c", CONSUMERS], capture_output=True, text=True, cwd=ROOT, timeout=600,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"help": True, "train": "CWRNNAesara", "header": " (periods 1,2)", "cells": True,
                    "names": "Fake cell", "bench": ["Fake 8000/100"], "baseline": "rnn", "conftest": True}
