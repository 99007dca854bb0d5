"""Throughput cases: the phases of one training step on each backend,
timed interleaved, with GFLOP/s, % of the machine's GEMM peak and a
correctness check against the numpy float64 reference.

Phases (rnnbench.phases): ``forward``, ``backward_data``,
``backward_weights`` (backends that split the backward; None elsewhere) and
``forward_backward`` end to end. ``backward_ms`` is forward_backward minus
forward for every backend (``backward_is_derived``), comparable across them.

CPU backends are timed by wall clock, interleaved (rnnbench.timing). A GPU
backend (one with ``measure_phases``: numba-cuda) is timed with CUDA events on
inputs already on the device, after the CPU backends of the same case; under
the CUDA simulator it refuses (``check_timing``) and is reported unsupported.
The GEMM peak is the CPU's, measured again just before and just after each
problem's timings (the better of the two), so % of peak means nothing for a
GPU backend.

The parameters follow an init scheme (rnnbench.inits; PyTorch's own by
default) and x ~ N(0, input_scale^2): ``init="identity"`` (zero biases)
with a tiny ``input_scale`` keeps states and most gradients subnormal, the
regime in which some CPUs take microcode assists on every floating-point
operation (the ``subnormal`` suite). ``subnormal_share`` records how much of
each backend's outputs and gradients was subnormal.
"""
import time

import numpy as np

from .api import backward, forward
from .backends import get_backend
from .flops import phase_flops
from .inits import init_params
from .phases import PHASES, phase_functions
from .timing import time_interleaved

_GEMM_OPERANDS = {}


def gemm_peak_gflops(dtype, n=1024, min_repeats=20, min_seconds=0.5):
    """Square n x n GEMM GFLOP/s through the BLAS the numba-cpu kernels use
    (np.dot inside Numba: SciPy's BLAS): the best of at least ``min_repeats``
    calls and ``min_seconds`` of them, after one warm-up call. Measured anew
    at every call (only the operands are kept): :func:`measure_throughput`
    measures it just before and just after each problem's timings and keeps
    the better, so the peak sees the state of a shared machine the problem
    saw. Measured once at the start of a run instead, a host that was slow
    then and fast later gave 115-146% "of peak" (2-core Zen 3 VM: sgemm 86
    GFLOP/s at the start of a run, 186 in a normal phase); measured only
    after the timings, one slow moment gave 105 against 168-205 for the
    other problems of the run, and 121% (Zen 4 VM). The best, not the
    median: the peak is what the cores can do, and a few calls caught by a
    neighbour's load (as 5 calls could be) would understate it and overstate
    % of peak."""
    from .kernels.blas import gemm
    key = (np.dtype(dtype).name, n)
    if key not in _GEMM_OPERANDS:
        rng = np.random.default_rng(0)
        _GEMM_OPERANDS[key] = tuple(rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    a, b = _GEMM_OPERANDS[key]
    gemm(a, b)
    samples = []
    while len(samples) < min_repeats or sum(samples) < min_seconds:
        start = time.perf_counter()
        gemm(a, b)
        samples.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(samples) / 1e9


def network_flops(net, T, batch, phase, convention):
    """FLOPs of every layer and direction (layer l > 0 reads D*H inputs; in
    skip-input mode layer 0 has no input GEMM)."""
    return net.num_directions * sum(
        phase_flops(net.kind, T, batch, net.hidden_size, net.layer_input_size(layer), phase, convention,
                    skip_input=layer == 0 and net.skips_input)
        for layer in range(net.num_layers))


def max_relative_diff(arrays, reference):
    worst = 0.0
    for got, ref in zip(arrays, reference):
        scale = max(float(np.max(np.abs(ref))), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - ref))) / scale)
    return worst


def subnormal_share(arrays):
    """The share of the entries of ``arrays`` (one float dtype) that are
    subnormal: nonzero, smaller in magnitude than the dtype's smallest normal."""
    tiny = np.finfo(arrays[0].dtype).tiny
    count = sum(int(np.count_nonzero((a != 0) & (np.abs(a) < tiny))) for a in arrays)
    return count / sum(a.size for a in arrays)


def result_arrays(out, grads):
    """Every array of a forward result and its gradients, in a fixed order."""
    arrays = [out.output, out.h_n, grads.x, grads.h0, *grads.params.values()]
    return arrays + ([out.c_n, grads.c0] if out.c_n is not None else [])


def measure_throughput(net, T, batch, dtype, backends, seed=0, init="default", input_scale=1.0, min_repeats=5,
                       min_seconds=0.2, max_repeats=50, settle_s=0.15, warmup_s=0.05):
    """{backend: values} for one problem: parameters by the ``init`` scheme,
    x ~ N(0, input_scale^2), dy ~ N(0, 1). values: first_s (the first forward and
    backward call: Numba compilation or cache load included), ``{phase}_ms``
    medians and ``{phase}_mad_ms`` for each phase of rnnbench.phases (None
    where the backend does not split its backward), backward_ms (derived),
    GFLOP/s of each phase under both FLOP conventions, percent of GEMM peak
    (forward+backward, full count), max_rel_diff against numpy float64,
    subnormal_share of its outputs and gradients, and ``timings`` (every
    sample). A backend that refuses the problem (a ValueError, e.g. torch in
    skip-input mode) gets {"unsupported": reason}."""
    rng = np.random.default_rng(seed)
    params64 = init_params(net, init, seed)
    x64 = input_scale * rng.standard_normal((T, batch, net.input_size))
    dy64 = rng.standard_normal((T, batch, net.num_directions * net.hidden_size))
    reference = result_arrays(forward(net, params64, x64, backend="numpy"),
                              backward(net, params64, x64, dy64, backend="numpy"))
    params = {k: v.astype(dtype) for k, v in params64.items()}
    x, dy = x64.astype(dtype), dy64.astype(dtype)
    functions, correctness, subnormal, first_s, results, device_timings = {}, {}, {}, {}, {}, {}
    max_repeats = max(max_repeats, min_repeats)
    for name in backends:  # the first calls: compilation or cache load, and the correctness check
        impl = get_backend(name)
        start = time.perf_counter()
        try:
            if hasattr(impl, "check_timing"):  # numba-cuda on the simulator refuses to be timed
                impl.check_timing()
            arrays = result_arrays(forward(net, params, x, backend=name), backward(net, params, x, dy, backend=name))
        except ValueError as exc:
            results[name] = {"unsupported": str(exc)}
            continue
        first_s[name] = time.perf_counter() - start
        correctness[name] = max_relative_diff(arrays, reference)
        subnormal[name] = subnormal_share(arrays)
        if hasattr(impl, "measure_phases"):  # a GPU: CUDA events, inputs resident on the device
            device_timings[name] = impl.measure_phases(net, params, x, dy, min_repeats=min_repeats,
                                                       min_seconds=min_seconds, max_repeats=max_repeats)
            continue
        for phase, fn in phase_functions(net, params, x, dy, name).items():
            functions[(name, phase)] = fn
    if not first_s:
        return results
    before = gemm_peak_gflops(dtype)
    timings = time_interleaved(functions, min_repeats=min_repeats, min_seconds=min_seconds, max_repeats=max_repeats,
                               settle_s=settle_s, warmup_s=warmup_s) if functions else {}
    for name, per_phase in device_timings.items():
        timings.update({(name, phase): t for phase, t in per_phase.items()})
    peak = max(before, gemm_peak_gflops(dtype))  # the better of just before and just after the timings
    for name in first_s:
        mine = {phase: timings.get((name, phase)) for phase in PHASES}
        fwd, both = mine["forward"], mine["forward_backward"]
        values = dict(first_s=first_s[name], backward_ms=1e3 * (both.median - fwd.median), backward_is_derived=True,
                      max_rel_diff=correctness[name], subnormal_share=subnormal[name], gemm_peak_gflops=peak)
        for phase, t in mine.items():
            values[f"{phase}_ms"] = None if t is None else 1e3 * t.median
            values[f"{phase}_mad_ms"] = None if t is None else 1e3 * t.mad
            for convention in ("deepbench", "full"):
                flops = network_flops(net, T, batch, phase, convention)
                values[f"{phase}_gflops_{convention}"] = None if t is None else flops / t.median / 1e9
        values["forward_backward_percent_of_peak"] = (None if name in device_timings else
                                                      100 * values["forward_backward_gflops_full"] / peak)
        values["timings"] = {phase: t.summary() for phase, t in mine.items() if t is not None}
        results[name] = values
    return {name: results[name] for name in backends}
