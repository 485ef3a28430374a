"""Shared timing helper for the benchmarks: interleaved medians, after warm-up.

Variants run in turn (A B C A B C ...), so drift in the machine (frequency,
other load) hits them alike; each figure is the median over its rounds.
"""

from __future__ import annotations

import statistics
import time


def interleaved_medians(fns: dict, repeat: int = 15, warmup: int = 3, sync=None) -> dict:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if sync:
                sync()
            t = time.perf_counter()
            fn()
            if sync:
                sync()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}
