"""``rnnbench check``: every kind on every available backend, forward and
backward, against the numpy reference in float64, with timings.

Timing as in rnnbench.timing: the first call of each (kind, backend) is
reported apart as ``first_s`` (it includes Numba compilation or loading from
its cache); then ``repeats`` calls, interleaved across backends, and the
median is reported.
"""
from dataclasses import dataclass

import numpy as np

from .backends import backends
from .model import KINDS, RNN
from .throughput import measure_throughput

#: The largest max_rel_diff against the numpy float64 reference that counts as agreeing, per dtype.
REL_DIFF_LIMITS = {"float32": 1e-4, "float64": 1e-10}


@dataclass
class CheckRow:
    kind: str
    backend: str
    first_s: float
    forward_ms: float
    forward_backward_ms: float
    max_rel_diff: float  # max over output, h_n and all gradients, relative to the reference's scale


def run_check(steps=50, batch=8, input_size=32, hidden=64, dtype=np.float32, repeats=5,
              kinds=KINDS, seed=0):
    """-> list of CheckRow, one per (kind, available backend), measured by
    rnnbench.throughput (interleaved, against the numpy float64 reference)."""
    names = [name for name, ok in backends().items() if ok is True]
    rows = []
    for kind in kinds:
        results = measure_throughput(RNN(kind, input_size, hidden), steps, batch, np.dtype(dtype), names,
                                     seed=seed, min_repeats=repeats, min_seconds=0.0, max_repeats=repeats)
        rows += [CheckRow(kind, name, v["first_s"], v["forward_ms"], v["forward_backward_ms"], v["max_rel_diff"])
                 for name, v in results.items()]
    return rows
