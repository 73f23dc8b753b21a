"""Every model the library offers, in one table: train.py's --model choices, experiments.py's cells,
bench.py's rows and the tests' models all come from REGISTRY.  Adding a cell is one model file (its
class: parameters and a step, as rnn_aesara.py) plus one Entry here, whose file_keys tell its parameter
files from every other entry's (tests/test_registry.py checks that, and that it builds, saves and loads).

This module imports no model (nor the tensor compiler): Entry.load() imports the class when asked.
"""
import dataclasses
import importlib

from errors import InputError


@dataclasses.dataclass(frozen=True)
class BenchRow:
    """One row of bench.py's per-sentence table: a timed training step on a 45-word sentence."""
    kind: str                   # the row's key (and bench_torch.py's counterpart, where torch is True)
    label: str
    word_dim: int
    hidden_dim: int
    bptt_truncate: int
    optimizer: str
    options: dict = dataclasses.field(default_factory=dict)     # beyond the entry's own
    tutorial_setup: bool = False    # one of the tutorials' own configurations, listed first
    torch: bool = True              # bench_torch.py builds the same model
    extends: str = None             # the row (kind) this variant's speed is compared with


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str                   # --model's word for it, and its key everywhere
    module: str                 # where its class lives
    cls: str
    title: str                  # its name in reports and tables
    about: str                  # what it is, in a few words (train.py --help)
    options: dict = dataclasses.field(default_factory=dict)    # constructor options making it this variant
    flags: tuple = ()           # the command line's shape options it takes: "layers" (it stacks), "periods"
    shown: tuple = ()           # its attributes the header line names when set (peephole, periods, ...)
    own_embedding: str = None   # why it takes no --embedding-dim beyond hidden_dim (it embeds words itself)
    file_keys: tuple = ()       # the keys its parameter files hold ...
    not_file_keys: tuple = ()   # ... and never hold: together they tell its files from the others'
    tutorial: bool = False      # one of the 2015 tutorials' models (original-code reference files exist)
    bench: tuple = ()           # its rows in bench.py

    def load(self):
        """The model's class."""
        return getattr(importlib.import_module(self.module), self.cls)

    def build(self, word_dim, hidden_dim, **options):
        """A new model of this entry: its class with its variant's options and any others."""
        return self.load()(word_dim, hidden_dim, **{**self.options, **options})

    def holds(self, keys):
        """Whether a parameter file with these keys is a model of this entry."""
        return set(self.file_keys) <= set(keys) and not set(self.not_file_keys) & set(keys)


LSTM_SHOWN = ("peephole", "coupled")
REGISTRY = {e.name: e for e in [
    Entry("rnn", "rnn_aesara", "RNNAesara", "RNN", "the tutorials' vanilla RNN", tutorial=True,
          file_keys=("U", "V", "W"), not_file_keys=("E", "periods"),
          bench=(BenchRow("rnn", "RNN 8000/100, bptt_truncate 4, SGD", 8000, 100, 4, "sgd", tutorial_setup=True),
                 BenchRow("rnn", "RNN 8000/100, full BPTT, SGD", 8000, 100, -1, "sgd"))),
    Entry("lstm", "lstm_aesara", "LSTMAesara", "LSTM", "the tutorial's LSTM", flags=("layers",), shown=LSTM_SHOWN,
          tutorial=True, file_keys=("U_f", "U_g"), not_file_keys=("p_o", "U_d2", "ablation"),
          bench=(BenchRow("lstm", "LSTM 8000/100, bptt_truncate 4, SGD", 8000, 100, 4, "sgd", tutorial_setup=True),
                 BenchRow("lstm", "LSTM 8000/100, full BPTT, SGD", 8000, 100, -1, "sgd"),
                 BenchRow("lstm2", "LSTM 2x100, vocabulary 8000, full BPTT, SGD", 8000, 100, -1, "sgd",
                          {"layers": 2}))),
    Entry("gru", "gru_aesara", "GRUAesara", "GRU", "the tutorial's two-layer GRU", tutorial=True,
          own_embedding="the tutorial's GRU embeds words in hidden_dim dimensions (its EMBEDDING_DIM was never used)",
          file_keys=("E", "U", "W", "V", "b", "c"),
          bench=(BenchRow("gru", "GRU 2x128, vocabulary 2000, full BPTT, RMSprop", 2000, 128, -1, "rmsprop",
                          tutorial_setup=True),)),
    Entry("peephole", "lstm_aesara", "LSTMAesara", "peephole LSTM", "LSTM with peepholes", {"peephole": True},
          flags=("layers",), shown=LSTM_SHOWN, file_keys=("U_f", "p_o"), not_file_keys=("U_d2", "ablation"),
          bench=(BenchRow("peephole", "peephole LSTM 8000/100, full BPTT, SGD", 8000, 100, -1, "sgd",
                          extends="lstm"),)),
    Entry("cifg", "lstm_aesara", "LSTMAesara", "CIFG LSTM", "LSTM with coupled input and forget gates",
          {"coupled": True}, flags=("layers",), shown=LSTM_SHOWN, file_keys=("U_i", "U_g"),
          not_file_keys=("U_f", "p_o", "U_d2", "ablation"),
          bench=(BenchRow("cifg", "CIFG LSTM 8000/100, full BPTT, SGD", 8000, 100, -1, "sgd", extends="lstm"),)),
    Entry("dglstm", "dglstm_aesara", "DGLSTMAesara", "DG-LSTM (2 layers)", "depth-gated LSTM", flags=("layers",),
          shown=LSTM_SHOWN, file_keys=("U_d2",),
          bench=(BenchRow("dglstm", "DG-LSTM 2x100, vocabulary 8000, full BPTT, SGD", 8000, 100, -1, "sgd",
                          extends="lstm2"),)),
    Entry("cwrnn", "cwrnn_aesara", "CWRNNAesara", "Clockwork RNN", "clockwork RNN", flags=("periods",),
          shown=("periods",), file_keys=("U", "V", "W", "periods"),
          bench=(BenchRow("cwrnn", "Clockwork RNN 8000/100, periods 1,2,4,8, full BPTT, SGD", 8000, 100, -1, "sgd",
                          extends="rnn"),)),
    Entry("mgu", "mgu_aesara", "MGUAesara", "MGU", "minimal gated unit: one gate", file_keys=("U_f", "U_h"),
          bench=(BenchRow("mgu", "MGU 8000/100, full BPTT, SGD", 8000, 100, -1, "sgd"),)),
]}


def entry(name):
    """The registry's entry for a model name, or InputError in one line."""
    if name not in REGISTRY:
        raise InputError(f"--model must be one of {', '.join(REGISTRY)}, got {name!r}")
    return REGISTRY[name]


def build(name, word_dim, hidden_dim, **options):
    """A new model of the named entry, with its variant's options and any others."""
    return entry(name).build(word_dim, hidden_dim, **options)


def identify(keys):
    """The entry whose parameter files hold these keys, or None if none does (or more than one)."""
    found = [e for e in REGISTRY.values() if e.holds(keys)]
    return found[0] if len(found) == 1 else None


def bench_rows():
    """(entry, row) for bench.py's per-sentence table: the tutorials' own configurations first, then the
    cells at the tutorials' size, each group in the registry's order."""
    rows = [(e, row) for e in REGISTRY.values() for row in e.bench]
    return sorted(rows, key=lambda pair: not pair[1].tutorial_setup)
