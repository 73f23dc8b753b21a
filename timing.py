"""The one timing rule both benchmarks use, so that their numbers compare."""
import statistics
import time

WARMUP = 5  # untimed calls first: one-time costs (thread start-up, lazy initialisation, caches) fall in these


def median_ms(step, repeats, warmup=WARMUP):
    """Call step() `warmup` times untimed, then `repeats` times timed; the median in milliseconds."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0
