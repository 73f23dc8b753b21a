"""Tests run in float64 (the faithful-numbers contract is stated there) and share one small model of
each kind per session: compiling an Aesara graph costs seconds, so tests set parameter values on
these models instead of building new ones."""
import os
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

# Two CPU devices for the JAX backend's data-parallel test; XLA reads this when jax first loads.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import backend  # noqa: E402

backend.set_float(64)

import models  # noqa: E402

# the tutorials' models, whose original code wrote the reference files (imported after choosing float64)
CLASSES = {name: entry.load() for name, entry in models.REGISTRY.items() if entry.tutorial}
WORD_DIM, HIDDEN_DIM = 20, 7   # the sizes of the original-code reference files in tests/data/original


@pytest.fixture(scope="session")
def models():
    np.random.seed(1234)
    return {kind: cls(WORD_DIM, hidden_dim=HIDDEN_DIM, bptt_truncate=4) for kind, cls in CLASSES.items()}


@pytest.fixture
def model(models, request):
    """The session's model of the kind named by the test's `kind` parameter, with fresh random
    parameters and default truncation; restored afterwards."""
    m = models[request.param]
    rng = np.random.RandomState(zlib.crc32(request.node.name.encode()))
    saved = [p.get_value() for p in m.params]
    for p in m.params:
        p.set_value(rng.uniform(-0.6, 0.6, p.get_value().shape))
    yield m
    for p, v in zip(m.params, saved):
        p.set_value(v)
    m.truncation, m.bptt_truncate = "theano", 4


def params_of(model):
    return {p.name: p.get_value() for p in model.params}


def sentence(rng, length, word_dim=WORD_DIM):
    x = rng.randint(0, word_dim, size=length)
    y = rng.randint(0, word_dim, size=length)
    return x, y


def side_by_side(function, arguments):
    """{name: function(*args)} for {name: args}, the calls made at once in threads.  For calls that
    each wait on a process of their own (a train.py run), so that one's compiling overlaps another's."""
    with ThreadPoolExecutor(len(arguments)) as pool:
        started = {name: pool.submit(function, *args) for name, args in arguments.items()}
    return {name: done.result() for name, done in started.items()}


def run_python(program, **env):
    """Run a program in a fresh interpreter in the project's folder, without the caller's compiler flags
    (those in env aside); returns the finished process."""
    environment = {k: v for k, v in os.environ.items() if not k.endswith("_FLAGS")}
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600,
                          env={**environment, **env}, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
