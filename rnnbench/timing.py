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
  the wait, untimed calls of the function about to be timed, for at least
  ``warmup_s`` (one call at least), bring the cores out of their idle states
  and the data back into cache. One call is not enough on the 2-core Zen 3
  virtual machine: after a 0.15 s pause the cores take some 30-50 ms of work
  to reach full speed (LSTM, H=256, B=1, T=200 forward, measured after one
  warm-up call and after 0.05 s of them: numba-cpu 5.7 and 3.6 ms, torch 4.9
  and 3.3 ms; GRU numba-cpu 5.7 and 2.8 ms, torch 10.1 and 9.2 ms).
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


def time_interleaved(functions, min_repeats=5, min_seconds=0.2, max_repeats=200, settle_s=0.0, warmup_s=0.0,
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
                warm_from = clock()
                fn()
                while clock() - warm_from < warmup_s:
                    fn()
            previous = _group(name)
            start = clock()
            fn()
            timings[name].samples.append(clock() - start)
        done = all(len(t.samples) >= min_repeats and sum(t.samples) >= min_seconds for t in timings.values())
        if done or len(next(iter(timings.values())).samples) >= max_repeats:
            return timings
