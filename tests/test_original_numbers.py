"""Our classes against numbers produced by the original tutorial code (rnn_theano.py, lstm_theano.py and
gru_theano.py, run on Aesara): same seed and arguments -> the same initial parameters, probabilities,
loss, gradients and parameters after three sgd_steps, within DESIGN.md's float64 tolerances
(1e-9 relative for probabilities and losses, 1e-7 for gradients).  See tests/data/original/README.md."""
import os

import numpy as np
import pytest

from conftest import CLASSES, HIDDEN_DIM, WORD_DIM

FOLDER = os.path.join(os.path.dirname(__file__), "data", "original")
CASES = sorted(name[4:-4] for name in os.listdir(FOLDER) if name.endswith(".npz"))


def close(actual, expected, tolerance):
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(np.asarray(actual) - expected)) <= tolerance * scale


@pytest.mark.parametrize("case", CASES)
def test_the_original_code_gives_the_same_numbers(case, models):
    ref = np.load(os.path.join(FOLDER, f"ref_{case}.npz"))
    kind = case.split("_")[0]
    V, H, k = int(ref["word_dim"]), int(ref["hidden_dim"]), int(ref["bptt_truncate"])
    assert (V, H) == (WORD_DIM, HIDDEN_DIM)      # so the session's compiled model can be reused
    np.random.seed(10)                          # how the reference was drawn
    fresh = CLASSES[kind](V, hidden_dim=H, bptt_truncate=k)
    for p in fresh.params:
        np.testing.assert_array_equal(p.get_value(), ref["init_" + p.name], err_msg=p.name)

    model = models[kind]
    model.truncation, model.bptt_truncate = "theano", k
    saved = [v.get_value() for v in model.params + model.slots]
    try:
        for p in model.params:
            p.set_value(ref["init_" + p.name])
        for slot in model.slots:
            slot.set_value(np.zeros_like(slot.get_value()))
        x, y, lr = ref["x"], ref["y"], float(ref["learning_rate"])
        close(model.predict(x) if kind == "gru" else model.forward_propagation(x), ref["probs"], 1e-9)
        close(model.ce_error(x, y), ref["ce"], 1e-9)
        for i, g in enumerate(model.bptt(x, y)):
            close(g, ref[f"grad_{i}"], 1e-7)
        for _ in range(3):
            model.sgd_step(x, y, lr)
        for p in model.params:
            close(p.get_value(), ref["after3_" + p.name], 1e-7)
        if kind == "gru":
            for p in model.params:
                close(getattr(model, "m" + p.name).get_value(), ref["after3_m" + p.name], 1e-7)
    finally:
        for v, value in zip(model.params + model.slots, saved):
            v.set_value(value)
        model.bptt_truncate = 4
