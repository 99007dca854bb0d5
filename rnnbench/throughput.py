"""Throughput cases: forward and forward+backward time of each backend on one
problem, interleaved, with GFLOP/s, % of the machine's GEMM peak and a
correctness check against the numpy float64 reference.

Phases: ``forward`` (rb.forward) and ``forward_backward`` (rb.backward, which
runs its own forward). ``backward`` is derived as their difference and says
so. No backend splits backward-data from backward-weights yet.
"""
import time

import numpy as np

from .api import backward, forward
from .flops import phase_flops
from .timing import time_interleaved

_PEAK_CACHE = {}


def gemm_peak_gflops(dtype, n=1024, repeats=5):
    """Square n x n GEMM GFLOP/s through the BLAS the numba-cpu kernels use
    (np.dot inside Numba: SciPy's BLAS); best of ``repeats``."""
    key = (np.dtype(dtype).name, n)
    if key not in _PEAK_CACHE:
        from .kernels.blas import gemm
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
        gemm(a, b)
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            gemm(a, b)
            best = min(best, time.perf_counter() - start)
        _PEAK_CACHE[key] = 2 * n ** 3 / best / 1e9
    return _PEAK_CACHE[key]


def network_flops(net, T, batch, phase, convention):
    """FLOPs of every layer and direction (layer l > 0 reads D*H inputs)."""
    return net.num_directions * sum(
        phase_flops(net.kind, T, batch, net.hidden_size, net.layer_input_size(layer), phase, convention)
        for layer in range(net.num_layers))


def max_relative_diff(arrays, reference):
    worst = 0.0
    for got, ref in zip(arrays, reference):
        scale = max(float(np.max(np.abs(ref))), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - ref))) / scale)
    return worst


def result_arrays(out, grads):
    """Every array of a forward result and its gradients, in a fixed order."""
    arrays = [out.output, out.h_n, grads.x, grads.h0, *grads.params.values()]
    return arrays + ([out.c_n, grads.c0] if out.c_n is not None else [])


def measure_throughput(net, T, batch, dtype, backends, seed=0, min_repeats=5, min_seconds=0.2, max_repeats=50,
                       settle_s=0.15):
    """{backend: values} for one problem. values: first_s (the first forward and
    backward call: Numba compilation or cache load included), forward_ms, forward_backward_ms,
    backward_ms (derived), the timing summaries, GFLOP/s under both FLOP conventions,
    percent of GEMM peak (full count), and max_rel_diff against numpy float64."""
    rng = np.random.default_rng(seed)
    params64 = net.init_params(seed)
    x64 = rng.standard_normal((T, batch, net.input_size))
    dy64 = rng.standard_normal((T, batch, net.num_directions * net.hidden_size))
    reference = result_arrays(forward(net, params64, x64, backend="numpy"),
                         backward(net, params64, x64, dy64, backend="numpy"))
    params = {k: v.astype(dtype) for k, v in params64.items()}
    x, dy = x64.astype(dtype), dy64.astype(dtype)
    functions = {}
    for name in backends:
        functions[(name, "forward")] = lambda name=name: forward(net, params, x, backend=name)
        functions[(name, "forward_backward")] = lambda name=name: backward(net, params, x, dy, backend=name)
    correctness, first_s = {}, {}
    for name in backends:  # the first calls: compilation or cache load, and the correctness check
        start = time.perf_counter()
        arrays = result_arrays(forward(net, params, x, backend=name), backward(net, params, x, dy, backend=name))
        first_s[name] = time.perf_counter() - start
        correctness[name] = max_relative_diff(arrays, reference)
    timings = time_interleaved(functions, min_repeats=min_repeats, min_seconds=min_seconds,
                               max_repeats=max(max_repeats, min_repeats), settle_s=settle_s)
    peak = gemm_peak_gflops(dtype)
    results = {}
    for name in backends:
        fwd, both = timings[(name, "forward")], timings[(name, "forward_backward")]
        values = dict(first_s=first_s[name], forward_ms=1e3 * fwd.median, forward_backward_ms=1e3 * both.median,
                      backward_ms=1e3 * (both.median - fwd.median), backward_is_derived=True,
                      forward_mad_ms=1e3 * fwd.mad, forward_backward_mad_ms=1e3 * both.mad,
                      max_rel_diff=correctness[name], gemm_peak_gflops=peak)
        for convention in ("deepbench", "full"):
            for phase, t in (("forward", fwd), ("forward_backward", both)):
                flops = network_flops(net, T, batch, phase, convention)
                values[f"{phase}_gflops_{convention}"] = flops / t.median / 1e9
        values["forward_backward_percent_of_peak"] = 100 * values["forward_backward_gflops_full"] / peak
        values["timings"] = {"forward": fwd.summary(), "forward_backward": both.summary()}
        results[name] = values
    return results
