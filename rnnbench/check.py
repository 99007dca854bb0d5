"""``rnnbench check``: every kind on every available backend, forward and
backward, against the numpy reference in float64, with timings.

Timing: the first call of each (kind, backend) is reported apart as
``first_s`` (it includes Numba compilation or loading from its cache); then
``repeats`` calls, interleaved across backends, and the median is reported.
"""
import time
from dataclasses import dataclass

import numpy as np

from .api import backward, forward
from .backends import backends
from .model import KINDS, RNN
from .throughput import max_relative_diff, result_arrays


@dataclass
class CheckRow:
    kind: str
    backend: str
    first_s: float
    forward_ms: float
    backward_ms: float
    max_rel_diff: float  # max over output, h_n and all gradients, relative to the reference's scale


def run_check(steps=50, batch=8, input_size=32, hidden=64, dtype=np.float32, repeats=5,
              kinds=KINDS, seed=0):
    """-> list of CheckRow, one per (kind, available backend)."""
    dtype = np.dtype(dtype)
    names = [name for name, ok in backends().items() if ok is True]
    rows = []
    rng = np.random.default_rng(seed)
    for kind in kinds:
        net = RNN(kind, input_size, hidden)
        params64 = net.init_params(seed)
        x64 = rng.standard_normal((steps, batch, input_size))
        dy64 = rng.standard_normal((steps, batch, hidden))
        ref_out = forward(net, params64, x64, backend="numpy")
        reference = result_arrays(ref_out, backward(net, params64, x64, dy64, backend="numpy"))
        params = {k: v.astype(dtype) for k, v in params64.items()}
        x, dy = x64.astype(dtype), dy64.astype(dtype)

        def fwd(name):
            return forward(net, params, x, backend=name)

        def bwd(name):
            return backward(net, params, x, dy, backend=name)

        first = {}
        for name in names:
            start = time.perf_counter()
            diff = max_relative_diff(result_arrays(fwd(name), bwd(name)), reference)
            first[name] = (time.perf_counter() - start, diff)
        samples = {name: ([], []) for name in names}
        for _ in range(repeats):
            for name in names:  # interleaved: drift hits every backend alike
                for fn, store in zip((fwd, bwd), samples[name]):
                    start = time.perf_counter()
                    fn(name)
                    store.append(time.perf_counter() - start)
        for name in names:
            f_s, b_s = samples[name]
            rows.append(CheckRow(kind, name, first[name][0], 1e3 * float(np.median(f_s)),
                                 1e3 * float(np.median(b_s)), first[name][1]))
    return rows
