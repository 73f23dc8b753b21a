"""The experiments' quick forms (python experiments.py <name> --quick), each of which checks its claim
and exits non-zero when it does not hold, and the comparison study's bookkeeping on a local Ray."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments.py")


def run(*args, **kwargs):
    return subprocess.run([sys.executable, EXPERIMENTS, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=900, **kwargs)


@pytest.mark.parametrize("experiment, claim", [
    ("vanishing", "below the LSTM's"),      # at lag 50 the untrained RNN's gradient is 100x below the LSTM's
    ("adding", "below a quarter of the baseline"),    # the LSTM learns the adding problem at T = 30
    ("degenerate", "is the RNN with one more tanh"),
])
def test_the_quick_form_shows_the_claim(experiment, claim):
    result = run(experiment, "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok: " in result.stdout and claim in result.stdout


@pytest.mark.parametrize("preset", ["ptb-small", "ptb-small-regularized"])
def test_each_ptb_preset_trains_on_the_stream_with_a_falling_loss(preset, tmp_path):
    """train.py --preset, at a small size (hidden 32, 4000 sentences: 250 windows an epoch) for 2 epochs."""
    result = run("ptb", "--quick", "--preset", preset, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok: the loss falls" in result.stdout and "continuous streams: 20 streams" in result.stdout
    assert "Test perplexity (one continuous stream)" in result.stdout


def test_a_study_runs_on_ray_records_every_trial_and_resumes_without_rerunning(tmp_path):
    pytest.importorskip("ray")
    first = run("compare", "--quick", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    log = tmp_path / "compare-quick-trials.jsonl"
    trials = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(t["variant"] for t in trials) == ["CW-RNN", "RNN"]
    assert all(t["status"] == "ok" and len(t["curve"]) >= 4 for t in trials)
    again = run("compare", "--quick", "--out", str(tmp_path))
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
