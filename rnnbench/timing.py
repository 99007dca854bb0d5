"""Timing methodology: how every speed number in rnnbench is measured.

- The first call of each function is timed apart (``first_s``): it includes
  Numba compilation or loading from the on-disk cache, and warms caches.
- Then timed calls are repeated until each function has at least
  ``min_repeats`` samples and ``min_seconds`` of measured time (capped at
  ``max_repeats``). With several functions (backends), calls are interleaved
  (A B C A B C ...), never all-A-then-all-B, so machine drift hits all alike.
- Before a timed call of a different group than the previous call (keys
  that are tuples group by their first item, e.g. the backend), the clock
  waits ``settle_s``: NumPy, SciPy (Numba's BLAS) and torch each run their own
  thread pool, whose idle threads spin for a while after a call (OpenBLAS
  about 0.1 s) and would steal the cores from the next library's call. After
  the wait, one untimed call of the function about to be timed brings the
  core out of its idle state and the data back into cache (without it the
  first call after a wait runs measurably slower than the rest).
- Every raw sample is kept; summaries are median, MAD (median absolute
  deviation), IQR and min.
"""
import time
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Timing:
    first_s: float
    samples: list = field(default_factory=list)  # seconds per timed call

    @property
    def median(self):
        return float(np.median(self.samples))

    @property
    def mad(self):
        return float(np.median(np.abs(np.asarray(self.samples) - self.median)))

    @property
    def iqr(self):
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float(q3 - q1)

    @property
    def min(self):
        return float(np.min(self.samples))

    def summary(self):
        """JSON-ready: every sample plus the summaries, in seconds."""
        return dict(asdict(self), median=self.median, mad=self.mad, iqr=self.iqr, min=self.min,
                    repeats=len(self.samples))


def _group(key):
    return key[0] if isinstance(key, tuple) else key


def time_interleaved(functions, min_repeats=5, min_seconds=0.2, max_repeats=200, settle_s=0.0,
                     clock=time.perf_counter, sleep=time.sleep):
    """{name: Timing} for zero-argument callables, measured in interleaved rounds."""
    if min_repeats < 1 or max_repeats < min_repeats:
        raise ValueError(f"min_repeats: expected 1 <= min_repeats <= max_repeats={max_repeats}, "
                         f"got {min_repeats}")
    timings = {}
    for name, fn in functions.items():
        start = clock()
        fn()
        timings[name] = Timing(clock() - start)
    previous = None
    while True:
        for name, fn in functions.items():
            if settle_s and _group(name) != previous:
                sleep(settle_s)
                fn()
            previous = _group(name)
            start = clock()
            fn()
            timings[name].samples.append(clock() - start)
        done = all(len(t.samples) >= min_repeats and sum(t.samples) >= min_seconds for t in timings.values())
        if done or len(next(iter(timings.values())).samples) >= max_repeats:
            return timings
