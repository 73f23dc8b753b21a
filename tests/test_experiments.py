"""The experiments' quick forms (python experiments.py <name> --quick), each of which checks its claim
and exits non-zero when it does not hold, and the comparison study's bookkeeping on a local Ray."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import side_by_side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments.py")


def run(*args, **kwargs):
    return subprocess.run([sys.executable, EXPERIMENTS, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=900, **kwargs)


CLAIMS = {
    "vanishing": "below the LSTM's",      # at lag 50 the untrained RNN's gradient is 100x below the LSTM's
    "adding": "below a quarter of the baseline",    # the LSTM learns the adding problem at T = 30
    "degenerate": "is the RNN with one more tanh",
}
PRESETS = ["ptb-small", "ptb-small-regularized"]


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Every quick form and each PTB preset's (hidden 32, 4000 sentences: 250 windows an epoch, 2 epochs),
    side by side: independent processes, one's compiling overlaps another's."""
    out = tmp_path_factory.mktemp("presets")
    commands = {**{name: [name, "--quick"] for name in CLAIMS},
                **{preset: ["ptb", "--quick", "--preset", preset, "--out", str(out / preset)] for preset in PRESETS}}
    return side_by_side(run, commands)


@pytest.mark.parametrize("experiment", CLAIMS)
def test_the_quick_form_shows_the_claim(quick_runs, experiment):
    result = quick_runs[experiment]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok: " in result.stdout and CLAIMS[experiment] in result.stdout


@pytest.mark.parametrize("preset", PRESETS)
def test_each_ptb_preset_trains_on_the_stream_with_a_falling_loss(quick_runs, preset):
    """train.py --preset at a small size, through experiments.py ptb --quick."""
    result = quick_runs[preset]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok: the loss falls" in result.stdout and "continuous streams: 20 streams" in result.stdout
    assert "Test perplexity (one continuous stream)" in result.stdout


def test_a_study_runs_on_ray_records_every_trial_and_resumes_without_rerunning(tmp_path):
    pytest.importorskip("ray")
    # Ray starts its workers at niceness 15: beside other test processes (pytest -n) they would wait
    # for an idle core, and this test would end last
    at_our_priority = dict(env=dict(os.environ, RAY_worker_niceness="0"))
    first = run("compare", "--quick", "--out", str(tmp_path), **at_our_priority)
    assert first.returncode == 0, first.stderr[-3000:]
    log = tmp_path / "compare-quick-trials.jsonl"
    trials = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(t["variant"] for t in trials) == ["CW-RNN", "RNN"]
    assert all(t["status"] == "ok" and len(t["curve"]) >= 4 for t in trials)
    again = run("compare", "--quick", "--out", str(tmp_path), **at_our_priority)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 trials already recorded" in again.stdout and "0 to run" in again.stdout
    assert log.read_text().count("\n") == 2


def trial(**config):
    """run_trial in its own process (it selects float32 for the whole process)."""
    base = {"variant": "RNN", "trial": 0, "seed": 1, "learning_rate": 0.01, "hidden": 8,
            "vocabulary": 300, "sentences": 64, "valid": 32}
    code = f"import json, experiments; print(json.dumps(experiments.run_trial({dict(base, **config)!r})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_failing_or_diverging_trial_is_a_result_not_a_crash():
    failed = trial(variant="CW-RNN", hidden=30)          # 30 units do not split into 4 modules
    assert failed["status"] == "failed" and "modules" in failed["error"]
    diverged = trial(learning_rate=1e12)
    assert diverged["status"] == "diverged" and "perplexity" in diverged["error"]


# ------------------------------------------------------------------ the adding problem's protocol
def test_an_adding_run_continues_from_its_checkpoint_exactly(tmp_path):
    """Stopped after two checks and started again with its full budget, a run scores exactly as one that
    ran through: the parameters, Adam's state and the data stream all come back."""
    import experiments
    compiled, path = {}, str(tmp_path / "run.pkl")
    run = dict(cell="rnn", T=8, hidden=8, seed=3, learning_rate=0.01, check_every=10, early_stop=False,
               compiled=compiled)
    through = experiments.train_adding(budget=40, **run)
    experiments.train_adding(budget=20, checkpoint=path, **run)
    resumed = experiments.train_adding(budget=40, checkpoint=path, **run)
    assert [step for step, _ in through["curve"]] == [10, 20, 30, 40]
    assert resumed == through


def test_solved_takes_two_consecutive_checks_and_an_unsolved_run_counts_as_slowest():
    import experiments
    assert experiments.first_solved([(100, 0.005), (200, 0.02), (300, 0.009), (400, 0.008)]) == 300
    assert experiments.first_solved([(100, 0.5), (200, 0.005)]) is None
    runs = [{"solved": 300}, {"solved": None}, {"solved": 500}]
    assert experiments.median_steps_to_solve(runs, 4000) == "500"
    assert experiments.median_steps_to_solve(runs[:2] + [{"solved": None}], 4000) == "> 4000"
    assert experiments.median_steps_to_solve(runs[:1] + runs[2:], 4000) == "400"     # an even count: the mean


def test_the_pilot_picks_the_lowest_final_mse_and_the_table_says_what_is_limited_or_missing():
    import experiments
    pilot = {("pilot", "lstm", 100, 7, lr, 16): {"status": "ok", "learning_rate": lr, "curve": [(1000, mse)]}
             for lr, mse in zip(experiments.ADDING_RATES, (0.05, 0.002, 0.2))}
    assert experiments.pilot_rates(pilot, ["lstm", "gru"], 16, 7) == {"lstm": experiments.ADDING_RATES[1]}
    grid = experiments.adding_grid(["rnn", "dglstm"], [50, 400], [1, 2, 3], {"rnn": 0.01, "dglstm": 0.003}, 16, 4000)
    assert sorted({(c["cell"], c["T"]) for c in grid}) == [("dglstm", 50), ("rnn", 50), ("rnn", 400)]
    ok = {"status": "ok", "budget": 4000, "steps": 4000}
    runs = [dict(ok, seed=1, solved=800), dict(ok, seed=2, solved=None, budget=1500, steps=1500)]
    assert experiments.adding_cell(runs, 3, 4000) == "1/3 (1 to run; budget-limited: 1500 steps)"
    runs.append(dict(ok, seed=3, solved=600))
    assert experiments.adding_cell(runs, 3, 4000) == "2/3, 800 (budget-limited: 1500 steps)"


def test_the_adding_claim_is_judged_at_each_length_where_both_cells_have_every_run():
    import experiments
    counts = {("rnn", 50): (0, 3), ("lstm", 50): (3, 3),        # reproduced
              ("rnn", 100): (0, 3), ("lstm", 100): (1, 3),      # the LSTM solves too few to tell
              ("rnn", 200): (2, 3), ("lstm", 200): (2, 3),      # the RNN does as well: contradicted
              ("lstm", 400): (3, 3)}                            # no RNN runs: not judged
    lines = experiments.adding_claims(counts)
    assert len(lines) == 3
    reproduced, undecided, contradicted = lines
    assert "reproduced: T = 50 (RNN 0/3, LSTM 3/3)" in reproduced and "T = 100" not in reproduced
    assert "undecided: T = 100 (RNN 0/3, LSTM 1/3)" in undecided
    assert "contradicted: T = 200 (RNN 2/3, LSTM 2/3)" in contradicted
    assert not any("400" in line for line in lines)


# ------------------------------------------------------------------ the comparison's statistics
def test_welch_against_v_matches_the_formula_with_a_bonferroni_interval():
    from scipy import stats
    import experiments
    rng = np.random.RandomState(0)
    a, b = rng.normal(5.0, 0.1, 12), rng.normal(4.9, 0.3, 20)
    se2 = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(sum(se2))
    df = sum(se2) ** 2 / (se2[0] ** 2 / (len(a) - 1) + se2[1] ** 2 / (len(b) - 1))      # Welch-Satterthwaite
    p, ratio, (low, high) = experiments.welch_against(a, b, comparisons=4)
    assert p == pytest.approx(min(1, 4 * 2 * stats.t.sf(abs(t), df)))
    assert ratio == pytest.approx(np.exp(a.mean() - b.mean()) - 1)
    half = stats.t.ppf(1 - 0.05 / 4 / 2, df) * np.sqrt(sum(se2))
    assert (low, high) == pytest.approx((np.exp(a.mean() - b.mean() - half) - 1, np.exp(a.mean() - b.mean() + half) - 1))
    assert experiments.greff_verdict("hurts", 0.01, (0.02, 0.3)) == "reproduced"
    assert experiments.greff_verdict("hurts", 0.01, (-0.3, -0.02)) == "contradicted"
    assert experiments.greff_verdict("costs nothing", 0.9, (-0.03, 0.04)) == "reproduced"
    assert experiments.greff_verdict("costs nothing", 0.9, (-0.03, 0.08)) == "undecided"


def test_the_learning_rate_adjustment_recovers_the_variants_effects_and_the_shares_their_source():
    """Trials whose log perplexity is a variant's effect plus a quadratic in log learning rate and a term in
    log hidden size: the adjusted scores differ by the effects alone, and the learning rate, which drives
    most of the spread, gets most of the variance."""
    import experiments
    rng = np.random.RandomState(1)
    effects = {"V": 0.0, "NFG": 0.1, "CIFG": -0.05}
    trials = [{"variant": v, "learning_rate": 10 ** rng.uniform(-3.5, -1.5), "hidden": int(rng.choice([48, 96, 128]))}
              for v in effects for _ in range(15)]
    for r in trials:
        x = np.log10(r["learning_rate"])
        r["valid_perplexity"] = float(np.exp(5 + effects[r["variant"]] - 0.8 * x + 0.3 * x ** 2 - 0.1 * np.log(r["hidden"])))
    adjusted = experiments.adjusted_log_perplexity(trials, list(effects))
    for r, score in zip(trials, adjusted):
        assert score - adjusted[0] == pytest.approx(effects[r["variant"]] - effects[trials[0]["variant"]], abs=1e-9)
    shares = experiments.variance_shares(trials)
    assert shares["learning rate (5 bins)"] > 0.8 and shares["variant"] < 0.1


def test_a_value_between_its_ticks_never_reaches_a_slow_clockwork_module():
    """Why the clockwork RNN stays at the adding problem's baseline: a module reads the input only at its
    ticks and reads only slower modules, so a value at an odd step enters the fastest module alone.  With
    the regression head reading the slower modules only, such a value changes nothing, while one at a step
    where a slower module ticks (6: the period-2 module; 8: every module) does."""
    import experiments
    model = experiments.fresh_regression_model({}, "cwrnn", 8, 5)       # modules of 2 units, periods 1, 2, 4, 8
    V = model.V.get_value()
    V[:, :2] = 0                                                          # the head ignores the fastest module
    model.V.set_value(V)
    X, _ = experiments.adding_batch(np.random.RandomState(0), 16, 4)
    base = model.values(X)
    for step, reaches in ((3, False), (7, False), (9, False), (6, True), (8, True)):
        nudged = X.copy()
        nudged[step, :, 0] += 0.5
        assert (np.abs(model.values(nudged) - base).max() > 1e-6) == reaches, step
