"""PyTorch (CPU, eager) counterparts of the tutorial models, for timing side by side with the Aesara ones.

Everything here is float32 on the CPU in eager mode (no torch.compile, no TorchScript), with
``torch.set_num_threads(threads)`` (2 by default, the size of this project's machines).

Installing torch for the bench (optional: bench.py only imports this module when ``import torch`` works).
Use the CPU build, version 2.13.0, in a side environment or in the project's own one:

    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 numpy==1.26.4

(Make sure pip picks the CPU wheel: a plain ``pip install torch`` may bring a multi-GB CUDA build.)

Functions:
    sentence_step_ms(kind, word_dim, hidden_dim, bptt_truncate, ...)  one training step on one sentence,
        for kind "rnn", "lstm" (SGD) or "gru" (the 2-layer GRU with RMSprop), with the tutorials' equations
        written as plain tensor ops and the original Theano code's meaning of bptt_truncate; and the
        variants of docs/design.md, "The cells", which torch has no built-in for, written the same way (SGD):
        "peephole" (diagonal peepholes), "cifg" (f = 1 - i), "lstm2" (two stacked LSTM layers),
        "dglstm" (Yao et al.'s Depth-Gated LSTM, two layers) and "cwrnn" (Clockwork RNN, periods 1, 2, 4, 8).
    ptb_small_tokens_per_s(...)  Zaremba et al.'s "small" PTB LSTM (no dropout) with torch.nn.LSTM.
    train_ptb_small(...)  the PyTorch peer of `train.py --preset ptb-small`: the same recipe on the same
        token streams, trained and evaluated the same way, its log in train.py's per-epoch format.

Run ``python bench_torch.py [threads]`` for a table of the standard configurations, and
``python bench_torch.py --ptb-small [epochs]`` for the peer's whole training run.
"""
import functools
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from timing import WARMUP, median_ms


def _uniform(gen, shape, fan_in):
    """The tutorials' initialisation: uniform in [-sqrt(1/fan_in), sqrt(1/fan_in)]."""
    bound = math.sqrt(1.0 / fan_in)
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


def _params(*tensors):
    return [t.requires_grad_() for t in tensors]


def _cut(length, bptt_truncate):
    """First time step that gradients reach. Theano's truncate_gradient=k keeps only the last k steps."""
    if 0 < bptt_truncate < length:
        return length - bptt_truncate
    return 0  # k <= 0 (the tutorials use -1) or k >= length: full BPTT


def _sentence_loss(states, cut, weight, bias, y):
    """Summed cross-entropy of the outputs softmax(weight @ s_t + bias) against y.

    Returns (loss to backpropagate, loss of the whole sentence). Only the outputs of steps >= cut enter
    the first; the earlier ones are computed without autograd, just for the reported value.
    The states are stacked in two separate pieces so that no (zero) gradient is sent back to the steps
    before the cut: stacking them all and slicing would make autograd walk the whole chain with zeros.
    """
    def nll(s, targets):
        logits = F.linear(s, weight, bias)  # (steps, word_dim): one matrix product for all steps
        return -F.log_softmax(logits, dim=1).gather(1, targets.unsqueeze(1)).sum()

    tail = nll(torch.stack(states[cut:]), y[cut:])
    total = tail.detach()
    if cut > 0:
        with torch.no_grad():
            total = total + nll(torch.stack(states[:cut]), y[:cut])
    return tail, total


# ---------------------------------------------------------------- the tutorial models and their variants
# Each builder returns (params, loss_fn, update_fn); loss_fn(x, y) returns (loss to backprop, full loss).
# Input columns U[:, x_t] are gathered for all steps at once with index_select: its backward (index_add)
# is cheap, while the backward of advanced indexing U[:, x] is slow at word_dim 8000.
# The per-step rows are taken with unbind(), whose backward stacks all the rows' gradients at once
# (indexing inputs[t] would build and add up a full-size zero gradient for every step).

def _sgd(params, lr):
    def update():
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-lr)
    return update


def _build_rnn(gen, word_dim, hidden_dim, cut):
    U = _uniform(gen, (hidden_dim, word_dim), word_dim)
    V = _uniform(gen, (word_dim, hidden_dim), hidden_dim)
    W = _uniform(gen, (hidden_dim, hidden_dim), hidden_dim)
    params = _params(U, V, W)

    def loss_fn(x, y):
        inputs = U.index_select(1, x).t()  # row t is U[:, x_t]
        s = torch.zeros(hidden_dim)
        states = []
        for t, u_x in enumerate(inputs.unbind(0)):
            if t == cut and cut > 0:
                s = s.detach()  # truncated BPTT: nothing flows back past this step
            s = torch.tanh(torch.addmv(u_x, W, s))  # U[:, x_t] + W s_{t-1}
            states.append(s)
        return _sentence_loss(states, cut, V, None, y)  # o_t = softmax(V s_t), no bias

    return params, loss_fn, _sgd(params, 0.005)


def _build_mgu(gen, word_dim, hidden_dim, cut):
    """Zhou et al. 2016's minimal gated unit: f_t = sigmoid(W_f h + U_f x + b_f),
    h~_t = tanh(W_h (f_t h) + U_h x + b_h), h_t = (1 - f_t) h + f_t h~_t; softmax(V h_t + b_V)."""
    U = _uniform(gen, (2 * hidden_dim, word_dim), word_dim)     # U_f over U_h: one gather for both
    W_f = _uniform(gen, (hidden_dim, hidden_dim), hidden_dim)
    W_h = _uniform(gen, (hidden_dim, hidden_dim), hidden_dim)
    V = _uniform(gen, (word_dim, hidden_dim), hidden_dim)
    b, b_V = torch.zeros(2 * hidden_dim), torch.zeros(word_dim)
    params = _params(U, W_f, W_h, V, b, b_V)

    def loss_fn(x, y):
        inputs = (U.index_select(1, x).t() + b).unbind(0)    # row t: U_f[:, x_t] + b_f, U_h[:, x_t] + b_h
        h = torch.zeros(hidden_dim)
        states = []
        for t, u_x in enumerate(inputs):
            if t == cut and cut > 0:
                h = h.detach()
            u_f, u_h = u_x[:hidden_dim], u_x[hidden_dim:]
            f = torch.sigmoid(torch.addmv(u_f, W_f, h))
            h = (1 - f) * h + f * torch.tanh(torch.addmv(u_h, W_h, f * h))
            states.append(h)
        return _sentence_loss(states, cut, V, b_V, y)

    return params, loss_fn, _sgd(params, 0.005)


class _LSTMLayer:
    """One layer of the LSTM family, of width H, on inputs of size n_in.

    The gates' matrices are kept stacked by block, so each step needs one matrix product for all gates;
    SGD is elementwise, so this is the same model and the same update as one parameter per gate.
    U and b hold the blocks i, f, o, g (rows k*H:(k+1)*H are U_i, U_f, ...), then d with depth; W holds
    i, f, o, g. b_f = 1, as in the tutorial; the other biases start at 0, the peephole vectors (and p_d,
    q_d) uniform in ±sqrt(1/H) like lstm_aesara.py's.
      coupled   (CIFG): f = 1 - i, with no forget-gate parameters: the blocks are i, o, g.
      peephole  diagonal peepholes: i = σ(a_i + p_i∘c_{t-1}), f = σ(a_f + p_f∘c_{t-1}) (p_i, p_f stacked
                as p_in), o = σ(a_o + p_o∘c_t) on the new cell.
      depth     the Depth-Gated LSTM's layers above the first: d = σ(b_d + U_d x + p_d∘c_{t-1} + q_d∘c_below)
                with c_below the layer below's new cell, and c_t = d∘c_below + f∘c_{t-1} + i∘g.
                d reads no s_{t-1}: W has no d block.
    """

    def __init__(self, gen, n_in, H, peephole=False, coupled=False, depth=False):
        self.H, self.coupled, self.depth = H, coupled, depth
        gates = 3 if coupled else 4
        self.n_before = gates - 2  # i (and f), needed before the cell update; o and g are the last two blocks
        blocks = gates + depth
        self.U = torch.cat([_uniform(gen, (H, n_in), n_in) for _ in range(blocks)])  # U_i, U_f, U_o, U_g(, U_d)
        self.W = torch.cat([_uniform(gen, (H, H), H) for _ in range(gates)])  # W_i, W_f, W_o, W_g
        self.b = torch.zeros(blocks * H)
        if not coupled:
            self.b[H:2 * H] = 1.0  # b_f = 1
        self.params = [self.U, self.W, self.b]
        self.p_in = self.p_o = None
        if peephole:
            self.p_in = _uniform(gen, (self.n_before, H), H)
            self.p_o = _uniform(gen, (H,), H)
            self.params += [self.p_in, self.p_o]
        if depth:
            self.p_d, self.q_d = _uniform(gen, (H,), H), _uniform(gen, (H,), H)
            self.params += [self.p_d, self.q_d]
        _params(*self.params)

    def step(self, px, s, c, c_below=None):
        """(s_t, c_t) from px = U x_t + b (all blocks), s_{t-1}, c_{t-1} and, with depth, the layer below's c_t."""
        H, n = self.H, self.n_before
        a = torch.addmv(px[:-H] if self.depth else px, self.W, s)  # pre-activations of i, (f,) o, g
        if self.p_o is None:  # all sigmoid gates at once
            *before, o = torch.sigmoid(a[:-H]).chunk(n + 1)
        else:  # i (and f) now; o once the new cell is known
            before = torch.sigmoid(torch.addcmul(a[:n * H].view(n, H), self.p_in, c)).unbind(0)
        g = torch.tanh(a[-H:])
        if self.depth:
            d = torch.sigmoid(torch.addcmul(torch.addcmul(px[-H:], self.p_d, c), self.q_d, c_below))
        if self.coupled:
            c = torch.lerp(c, g, before[0])  # (1 - i)∘c + i∘g
        else:
            i, f = before
            c = f * c + i * g
        if self.depth:
            c = c + d * c_below
        if self.p_o is not None:
            o = torch.sigmoid(torch.addcmul(a[n * H:-H], self.p_o, c))
        return o * torch.tanh(c), c


def _build_lstm(gen, word_dim, hidden_dim, cut, layers=1, peephole=False, coupled=False, depth=False):
    """The tutorial's LSTM and its variants: `layers` stacked _LSTMLayers of width H (peephole, coupled
    as there), layer l >= 2 reading s_t of the layer below; depth gates every layer but the first (the
    Depth-Gated LSTM). Output softmax(V s_t + b_V) of the top layer."""
    H = hidden_dim
    stack = [_LSTMLayer(gen, word_dim if l == 0 else H, H, peephole, coupled, depth and l > 0)
             for l in range(layers)]
    V = _uniform(gen, (word_dim, H), H)
    b_V = torch.zeros(word_dim)
    params = [p for layer in stack for p in layer.params] + _params(V, b_V)
    first, above = stack[0], stack[1:]

    def loss_fn(x, y):
        inputs = first.U.index_select(1, x).t() + first.b  # (T, blocks * H): U_*[:, x_t] + b_* for every step
        s = [torch.zeros(H) for _ in stack]
        c = [torch.zeros(H) for _ in stack]
        states = []
        for t, px in enumerate(inputs.unbind(0)):
            if t == cut and cut > 0:
                s, c = [h.detach() for h in s], [h.detach() for h in c]
            s[0], c[0] = first.step(px, s[0], c[0])
            for l, layer in enumerate(above, 1):  # its input is this step's s_t of the layer below
                s[l], c[l] = layer.step(torch.addmv(layer.b, layer.U, s[l - 1]), s[l], c[l], c[l - 1])
            states.append(s[-1])
        return _sentence_loss(states, cut, V, b_V, y)

    return params, loss_fn, _sgd(params, 0.005)


def _build_gru(gen, word_dim, hidden_dim, cut):
    H = hidden_dim
    E = _uniform(gen, (H, word_dim), word_dim)
    U = _uniform(gen, (6, H, H), H)
    W = _uniform(gen, (6, H, H), H)
    V = _uniform(gen, (word_dim, H), H)  # the tutorial uses fan-in H for V too
    b = torch.zeros(6, H)
    c_bias = torch.zeros(word_dim)
    params = _params(E, U, W, V, b, c_bias)

    def hard_sigmoid(a):
        return torch.clamp(0.2 * a + 0.5, 0.0, 1.0)  # Theano's hard_sigmoid

    def gru_step(px, s, W_zr, W_c):
        """One GRU layer step; px = [U_0 x + b_0, U_1 x + b_1, U_2 x + b_2] stacked, shape (3H,)."""
        z, r = hard_sigmoid(torch.addmv(px[:2 * H], W_zr, s)).chunk(2)
        cand = torch.tanh(torch.addmv(px[2 * H:], W_c, s * r))
        return (1 - z) * cand + z * s

    def loss_fn(x, y):
        # Views of layer l's rows 3l..3l+2 as stacked (3H, H) / (2H, H) matrices: one product per gate group.
        U_rows, W_rows, b_rows = U.reshape(6 * H, H), W.reshape(6 * H, H), b.reshape(6 * H)
        U2, b2 = U_rows[3 * H:], b_rows[3 * H:]
        W1_zr, W1_c = W_rows[:2 * H], W[2]
        W2_zr, W2_c = W_rows[3 * H:5 * H], W[5]
        # Layer 1's input only depends on x, so its input products for all steps are one matrix product.
        px1 = F.linear(E.index_select(1, x).t(), U_rows[:3 * H], b_rows[:3 * H])  # (T, 3H)
        s1 = torch.zeros(H)
        s2 = torch.zeros(H)
        states = []
        for t, px in enumerate(px1.unbind(0)):
            if t == cut and cut > 0:
                s1, s2 = s1.detach(), s2.detach()
            s1 = gru_step(px, s1, W1_zr, W1_c)
            s2 = gru_step(torch.addmv(b2, U2, s1), s2, W2_zr, W2_c)
            states.append(s2)
        return _sentence_loss(states, cut, V, c_bias, y)

    # RMSprop exactly as the tutorial: m = decay m + (1 - decay) g^2;  p -= lr g / sqrt(m + 1e-6)
    caches = [torch.zeros_like(p) for p in params]
    lr, decay = 0.001, 0.9

    def update():
        with torch.no_grad():
            for p, m in zip(params, caches):
                m.mul_(decay).addcmul_(p.grad, p.grad, value=1 - decay)
                p.addcdiv_(p.grad, (m + 1e-6).sqrt_(), value=-lr)

    return params, loss_fn, update


def _build_cwrnn(gen, word_dim, hidden_dim, cut, periods=(1, 2, 4, 8)):
    """The Clockwork RNN (Koutník et al. 2014): the RNN's U, V, W, with the hidden state split into
    len(periods) modules of k units, fast to slow. At step t (0 at the first word) only the modules with
    t mod T_i == 0 update, s_t[active] = tanh(U[active, x_t] + W[active, :] s_{t-1}); the others keep their
    value. W acts block-upper-triangular (row block i reads column blocks j >= i, the slower modules):
    it is multiplied by a fixed mask, so its lower blocks have no effect and get zero gradients.
    Each period must divide the next, so the active modules are always a prefix 0..a-1: only their rows
    are computed."""
    H, g = hidden_dim, len(periods)
    if H % g or any(slower % faster for faster, slower in zip(periods, periods[1:])):
        raise ValueError(f"hidden_dim must be a multiple of len(periods) and each period must divide the next; "
                         f"got hidden_dim {H}, periods {periods}")
    k = H // g
    U = _uniform(gen, (H, word_dim), word_dim)
    V = _uniform(gen, (word_dim, H), H)
    W = _uniform(gen, (H, H), H)
    params = _params(U, V, W)
    mask = torch.kron(torch.ones(g, g).triu(), torch.ones(k, k))

    def loss_fn(x, y):
        inputs = U.index_select(1, x).t()  # row t is U[:, x_t]
        rows = [k * sum(t % T == 0 for T in periods) for t in range(len(x))]  # active rows at step t
        W_upper = W * mask
        W_rows = {r: W_upper[:r] for r in set(rows)}  # one view per prefix, not one per step
        s = torch.zeros(H)
        states = []
        for t, u_x in enumerate(inputs.unbind(0)):
            if t == cut and cut > 0:
                s = s.detach()
            r = rows[t]
            if r:  # (none are active when the fastest period is above 1 and t is not its multiple)
                active = torch.tanh(torch.addmv(u_x[:r], W_rows[r], s))
                s = active if r == H else torch.cat([active, s[r:]])
            states.append(s)
        return _sentence_loss(states, cut, V, None, y)  # softmax(V s_t), no bias, as the RNN

    return params, loss_fn, _sgd(params, 0.005)


_BUILDERS = {"rnn": _build_rnn, "lstm": _build_lstm, "gru": _build_gru, "cwrnn": _build_cwrnn, "mgu": _build_mgu,
             "peephole": functools.partial(_build_lstm, peephole=True),
             "cifg": functools.partial(_build_lstm, coupled=True),
             "lstm2": functools.partial(_build_lstm, layers=2),
             "dglstm": functools.partial(_build_lstm, layers=2, peephole=True, depth=True)}


def sentence_step(kind, word_dim, hidden_dim, bptt_truncate, length=45, threads=2, seed=0):
    """One training step (forward, backward, update) on one random sentence, as a function of no arguments.

    kind: "rnn", "lstm", "peephole", "cifg", "lstm2", "dglstm" or "cwrnn" (SGD, lr 0.005) or "gru"
    (2-layer GRU, RMSprop lr 0.001, decay 0.9).
    bptt_truncate: k > 0 backpropagates through the last k steps only (Theano's truncate_gradient);
    -1 is full BPTT.
    """
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    params, loss_fn, update = _BUILDERS[kind](gen, word_dim, hidden_dim, _cut(length, bptt_truncate))
    x = torch.randint(0, word_dim, (length,), generator=gen)
    y = torch.randint(0, word_dim, (length,), generator=gen)

    def step():
        for p in params:
            p.grad = None
        loss, _full_loss = loss_fn(x, y)
        loss.backward()
        update()
    return step


def sentence_step_ms(kind, word_dim, hidden_dim, bptt_truncate, length=45, repeats=30, threads=2, seed=0):
    """Median milliseconds of sentence_step's step."""
    return median_ms(sentence_step(kind, word_dim, hidden_dim, bptt_truncate, length, threads, seed), repeats)


# ---------------------------------------------------------------- Zaremba et al.'s small PTB model

class _PTBSmall(torch.nn.Module):
    def __init__(self, word_dim, hidden_dim, layers):
        super().__init__()
        self.embed = torch.nn.Embedding(word_dim, hidden_dim)
        self.lstm = torch.nn.LSTM(hidden_dim, hidden_dim, layers)  # input is (steps, batch, hidden)
        self.out = torch.nn.Linear(hidden_dim, word_dim)
        for p in self.parameters():  # the paper's init: uniform in [-0.1, 0.1]
            torch.nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, x, state):
        h, state = self.lstm(self.embed(x), state)
        return self.out(h), state


def ptb_small_step(word_dim=10000, hidden_dim=200, layers=2, batch=20, steps=20, threads=2, seed=0):
    """One training step of the "small" PTB LSTM, without dropout, as a function of no arguments.

    One step: `steps` unrolled time steps for `batch` streams, loss = cross-entropy summed over the steps
    and averaged over the batch, SGD lr 1 with the gradients' global norm clipped at 5. The hidden
    state is carried over from the previous step and detached (truncated BPTT). Random token ids stand
    in for the corpus: the speed does not depend on the data.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)  # for the module's parameter init
    gen = torch.Generator().manual_seed(seed)
    model = _PTBSmall(word_dim, hidden_dim, layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    zeros = torch.zeros(layers, batch, hidden_dim)
    state = [(zeros, zeros.clone())]  # a list so that step() can replace it
    # A few random (steps + 1) x batch streams, taken in turn; targets are the inputs shifted by one.
    data = [torch.randint(0, word_dim, (steps + 1, batch), generator=gen) for _ in range(8)]
    turn = [0]

    def step():
        tokens = data[turn[0] % len(data)]
        turn[0] += 1
        x, y = tokens[:-1], tokens[1:]
        h, c = state[0]
        logits, (h, c) = model(x, (h.detach(), c.detach()))
        state[0] = (h, c)
        loss = F.cross_entropy(logits.reshape(-1, word_dim), y.reshape(-1), reduction="sum") / batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return step


def ptb_small_tokens_per_s(word_dim=10000, hidden_dim=200, layers=2, batch=20, steps=20, repeats=20,
                           threads=2, seed=0):
    """Median ms per training step (ptb_small_step) and tokens per second."""
    ms = median_ms(ptb_small_step(word_dim, hidden_dim, layers, batch, steps, threads, seed), repeats)
    return ms, batch * steps / (ms / 1000.0)


def serve(cases):
    """The peer of bench.py's paired timing.  cases: a list of ["sentence", kind, word_dim, hidden_dim,
    bptt_truncate, length] (sentence_step) and ["ptb", word_dim, hidden_dim, layers, batch, steps]
    (ptb_small_step).  Builds and warms up each case's step, prints the version, then for each line
    "i n" read prints the mean ms of n steps of case i, until its input closes."""
    steps = [sentence_step(*case[1:]) if case[0] == "sentence" else ptb_small_step(*case[1:]) for case in cases]
    for step in steps:
        for _ in range(WARMUP):
            step()
    print(torch.__version__, flush=True)
    for line in sys.stdin:
        case, count = map(int, line.split())
        start = time.perf_counter()
        for _ in range(count):
            steps[case]()
        print((time.perf_counter() - start) * 1000.0 / count, flush=True)


def train_ptb_small(nepoch=13, log=None, threads=2, seed=10, batch=20, unroll=20, hidden_dim=200, layers=2):
    """Zaremba et al.'s small recipe (docs/design.md, "Continuous streams"): init U(-0.1, 0.1), SGD lr 1
    halved after every epoch past the 4th, gradient norm clipped at 5, cost summed over the window and
    averaged over the streams, the state carried across windows and detached.  Validation after each epoch
    on 20 streams, valid and test at the end as one stream, as train.py does.  Prints its progress, and
    writes it as a run log (runlog.py) at the path `log` if given."""
    import sys

    import numpy as np
    import corpus
    import runlog
    import training

    began = time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    data = corpus.load_ptb()
    V = len(data["index_to_word"])
    tokens = {split: training.token_stream(data[split][1]) for split in ("train", "valid", "test")}
    model = _PTBSmall(V, hidden_dim, layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    header = (f"PyTorch {torch.__version__} peer of train.py --preset ptb-small: vocabulary {V}, {layers}x{hidden_dim} "
              f"LSTM, {threads} threads, {batch} streams x windows of {unroll} steps")
    print(header, flush=True)
    record = runlog.RunLog(log) if log else None
    if record:
        record.write("start", header=header, command=" ".join(["python", "bench_torch.py"] + sys.argv[1:]))

    def run(split, streams, train=False):
        data = training.streams(tokens[split], streams).astype(np.int64)
        state, total = None, 0.0
        for start in training.windows(len(data), unroll):
            x, y = (torch.from_numpy(w) for w in training.stream_window(data, start, unroll))
            with torch.set_grad_enabled(train):
                logits, state = model(x, state)
                cost = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum")
                if train:
                    optimizer.zero_grad(set_to_none=True)
                    (cost / streams).backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                    optimizer.step()
            state = tuple(s.detach() for s in state)
            total += float(cost)
        return total / ((len(data) - 1) * streams)

    for epoch in range(1, nepoch + 1):
        rate = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        model.train()
        train_loss = run("train", batch, train=True)
        trained = time.perf_counter() - started
        model.eval()
        valid_loss = run("valid", batch)
        seconds, tokens_per_second = time.perf_counter() - started, (len(tokens["train"]) // batch - 1) * batch / trained
        print(f"epoch {epoch}: train perplexity {math.exp(train_loss):.2f}, valid perplexity {math.exp(valid_loss):.2f}, "
              f"{seconds:.0f} s ({tokens_per_second:,.0f} training tokens/s), learning rate {rate:g}", flush=True)
        if record:
            record.write("report", epoch=epoch, split="valid", loss=valid_loss, perplexity=math.exp(valid_loss),
                         train_perplexity=math.exp(train_loss), learning_rate=rate, halved=False, seconds=seconds,
                         tokens_per_second=tokens_per_second)
        if epoch >= 4:
            optimizer.param_groups[0]["lr"] = rate * 0.5
    final = {split: math.exp(run(split, 1)) for split in ("valid", "test")}
    for split, perplexity in final.items():
        print(f"{split.capitalize()} perplexity (one continuous stream): {perplexity:.2f}", flush=True)
    final["seconds"] = time.perf_counter() - began
    print(f"Total time: {final['seconds']:.0f} s (loading, training, evaluating)")
    if record:
        record.write("final", **final)
        record.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:   # python bench_torch.py --serve CASES (bench.py's paired peer)
        serve(json.loads(sys.argv[2]))
        sys.exit()
    if sys.argv[1:2] == ["--ptb-small"]:   # python bench_torch.py --ptb-small [EPOCHS] [--log RUN.jsonl]
        more = sys.argv[2:]
        log = more[more.index("--log") + 1] if "--log" in more else None
        epochs = [int(a) for a in more if a.isdigit()]
        train_ptb_small(epochs[0] if epochs else 13, log)
        sys.exit()
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2  # python bench_torch.py [threads]
    print(f"PyTorch {torch.__version__}, CPU eager, float32, {threads} threads")
    print(f"{'model':<8} {'word_dim':>8} {'hidden':>6} {'bptt':>5} {'update':>8} {'ms/step':>8}")
    for kind, word_dim, hidden_dim, k in [("rnn", 8000, 100, 4), ("rnn", 8000, 100, -1),
                                          ("lstm", 8000, 100, 4), ("lstm", 8000, 100, -1),
                                          ("gru", 2000, 128, -1),
                                          ("peephole", 8000, 100, -1), ("cifg", 8000, 100, -1),
                                          ("lstm2", 8000, 100, -1), ("dglstm", 8000, 100, -1),
                                          ("cwrnn", 8000, 100, -1)]:
        ms = sentence_step_ms(kind, word_dim, hidden_dim, k, threads=threads)
        rule = "rmsprop" if kind == "gru" else "sgd"
        print(f"{kind:<8} {word_dim:>8} {hidden_dim:>6} {k:>5} {rule:>8} {ms:>8.2f}")
    ms, tps = ptb_small_tokens_per_s(threads=threads)
    print(f"PTB small (10000 words, 2x200 LSTM, batch 20 x 20 steps): {ms:.1f} ms/step, {tps:,.0f} tokens/s")
