"""bench.py's bound for the PTB window: the matrix products counted from the model's shapes."""
import os
import subprocess
import sys

import pytest


def test_the_ptb_windows_matrix_products_come_to_6_3_gflop():
    """400 tokens (20 streams x 20 steps), 200 wide, 10,000 words, 2 layers of 4 gates: the output layer's
    logits, their gradient to the states and to the weights (3 x 2*400*200*10000 = 4.8 GFLOP), and per
    layer the input and recurrent products, forward and in two gradients (2 x 3 x 2*400*200*800 each,
    1.536 GFLOP for both layers).  In a process of its own: importing bench.py selects float32."""
    run = subprocess.run([sys.executable, "-c", "import bench; print(bench.window_gflop())"], capture_output=True,
                         text=True, timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    assert float(run.stdout.split()[-1]) == pytest.approx(4.8 + 1.536)


def test_a_saved_table_names_the_thread_settings_it_ran_under(tmp_path):
    """A bench file's command line carries the environment that changes what was measured (here one BLAS
    thread), and not the rest of the environment."""
    out = tmp_path / "bench.md"
    code = f"import sys, bench; sys.argv = ['bench.py', '--ptb-only']; bench.save({str(out)!r}, 'the tables')"
    recorded = ("XLA_FLAGS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RNNLM_BLAS")
    env = {name: value for name, value in os.environ.items() if name not in recorded}
    env.update(OPENBLAS_NUM_THREADS="1", UNRELATED_SETTING="x")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    command = out.read_text().splitlines()[2]
    assert command.startswith("`OPENBLAS_NUM_THREADS=1 python bench.py --ptb-only`"), command
    assert "UNRELATED" not in command
