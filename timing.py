"""The one timing rule both benchmarks use, so that their numbers compare, and the machine they name."""
import os
import platform
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


def machine():
    """The processor, cores and system, as results files name the machine that produced them."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
