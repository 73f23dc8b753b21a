"""Our classes against numbers produced by the original tutorial code (rnn_theano.py, lstm_theano.py and
gru_theano.py, run on Aesara): same seed and arguments -> the same initial parameters (exactly), the same
predicted words (exactly), and probabilities, loss, gradients, parameters and loss after three sgd_steps
within TOLERANCE of each array's largest value, in float64: the README's "1e-15" claim at small sizes, with
room for a BLAS that sums in another order (measured: at most 1.1e-15).  See tests/data/original/README.md."""
import os

import numpy as np
import pytest

from conftest import CLASSES, HIDDEN_DIM, WORD_DIM

FOLDER = os.path.join(os.path.dirname(__file__), "data", "original")
TOLERANCE = 4e-15
CASES = sorted(name[4:-4] for name in os.listdir(FOLDER) if name.endswith(".npz"))


def close(actual, expected, what):
    error = np.max(np.abs(np.asarray(actual) - expected)) / np.max(np.abs(expected))
    assert error <= TOLERANCE, f"{what}: {error:.2g} of its largest value"


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
        close(model.predict(x) if kind == "gru" else model.forward_propagation(x), ref["probs"], "probabilities")
        np.testing.assert_array_equal(model.predict_class(x) if kind == "gru" else model.predict(x), ref["pred"])
        close(model.ce_error(x, y), ref["ce"], "loss")
        for i, g in enumerate(model.bptt(x, y)):
            close(g, ref[f"grad_{i}"], f"gradient {i}")
        for _ in range(3):
            model.sgd_step(x, y, lr)
        for p in model.params:
            close(p.get_value(), ref["after3_" + p.name], f"{p.name} after 3 steps")
        if kind == "gru":
            for p in model.params:
                close(getattr(model, "m" + p.name).get_value(), ref["after3_m" + p.name], f"m{p.name} after 3 steps")
        close(model.ce_error(x, y), ref["ce_after3"], "loss after 3 steps")
    finally:
        for v, value in zip(model.params + model.slots, saved):
            v.set_value(value)
        model.bptt_truncate = 4
