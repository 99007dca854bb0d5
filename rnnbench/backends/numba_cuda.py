"""The ``numba-cuda`` backend: the layers of :mod:`rnnbench.kernels.cuda` on a
GPU (or on Numba's CUDA simulator under ``NUMBA_ENABLE_CUDASIM=1``).

Same API, parameters, truncation and lengths semantics as every backend;
the network logic (stacking, bidirectional reversal, k-step windows, chunks,
step records, DeepBench's phases) mirrors :class:`rnnbench.layered.LayeredBackend`
step for step, but device-resident: a call copies its NumPy inputs to the
device once and its results back once; between layers, directions and
windows nothing leaves the device (reversal, concatenation and accumulation
are device kernels). :func:`forward_device` and :func:`backward_device` take
arrays that are already on the device (anything with
``__cuda_array_interface__``: CuPy, torch CUDA tensors, Numba device arrays)
with no copy at all, and return device arrays.

This module makes no CUDA call itself: everything CUDA-specific is in
:mod:`rnnbench.kernels.cuda`.

Importing it raises ImportError (so the registry lists the backend as
unavailable, with the reason) when numba-cuda is missing, or when there is
neither a CUDA GPU nor the simulator.
"""
from dataclasses import dataclass

import numpy as np

from .. import validation as v
from ..kernels import cuda as cu
from ..layered import LayeredBackend, StepRecord, reversal_index
from ..truncation import parse_truncation

_REASON = cu.unavailable_reason()
if _REASON is not None:
    raise ImportError(_REASON)

FULL = parse_truncation("full")


@dataclass
class DeviceProblem:
    """A problem's arrays on the device (lengths also on the host, where the
    window schedule is decided)."""
    net: object
    params: dict       # name -> device array
    x: object          # [T, B, I]
    h0: object         # [L*D, B, H]
    c0: object         # [L*D, B, H] (lstm; h0 again otherwise: never read)
    lengths: object    # device int64 [B]
    lengths_host: np.ndarray
    rev: object        # device int64 [T, B] per-sample time reversal, or None
    dtype: np.dtype

    @property
    def shape(self):
        return tuple(self.x.shape)


@dataclass
class Trace:
    """A training forward's tapes (index layer * D + direction), each layer's
    (input, output) in its own time order, and the device problem."""
    tapes: list
    io: list
    dev: DeviceProblem


def _device_problem(net, params, x, h0, c0, lengths_host, dtype, mask=False):
    """``mask``: zero x at padded steps (rb.forward does it on the host for
    NumPy inputs), on a device copy, never in the caller's array."""
    T = x.shape[0]
    d_x = cu.as_device(x)
    lengths = cu.as_device(np.ascontiguousarray(lengths_host, dtype=np.int64))
    if mask and np.any(lengths_host < T):
        masked = cu.empty(d_x.shape, d_x.dtype)
        cu.copy(cu.flat(d_x), cu.flat(masked))
        d_x = masked
        cu.zero_padding(d_x, lengths)
    rev = cu.as_device(reversal_index(lengths_host, T)) if net.bidirectional else None
    d_h0 = cu.as_device(h0)
    d_c0 = cu.as_device(c0) if net.kind == "lstm" else d_h0
    return DeviceProblem(net, {name: cu.as_device(value) for name, value in params.items()}, d_x, d_h0, d_c0,
                         lengths, np.asarray(lengths_host), rev, np.dtype(dtype))


class CudaBackend(LayeredBackend):
    """forward / backward over a validated Problem, plus DeepBench's phases
    (train_forward, backward_data, backward_weights): LayeredBackend's
    interface and semantics (so rnnbench.decay can use its step records),
    every method re-implemented on device arrays.

    ``persistent``: "auto" (the persistent kernels whenever a layer fits on
    the GPU; the per-step path in the simulator), True (whenever it fits,
    the simulator's one-block grid included) or False (always per step)."""

    splits_backward = True

    def __init__(self, persistent="auto"):
        super().__init__(kernels=None)  # no host-side LayerKernels: the device path below replaces them
        self.persistent = persistent

    # --- timing hooks for rnnbench.throughput (CUDA events; refused on the simulator) ------------

    def check_timing(self):
        check_timing()

    def measure_phases(self, net, params, x, d_output, min_repeats=5, min_seconds=0.2, max_repeats=50):
        return measure_phases(net, params, x, d_output, min_repeats, min_seconds, max_repeats, self.persistent)

    # --- the host API: validated NumPy problems in, NumPy results out ---------------------------

    def _dev(self, p):
        return _device_problem(p.net, p.params, p.x, p.h0, p.c0, p.lengths, p.dtype)

    def forward(self, p):
        output, h_n, c_n, _ = self._run_forward(self._dev(p))
        return cu.to_host(output), cu.to_host(h_n), (cu.to_host(c_n) if c_n is not None else np.zeros_like(p.c0))

    def train_forward(self, p):
        """Forward keeping every tape: -> Trace for backward_data."""
        return self._run_forward(self._dev(p))[3]

    def backward_data(self, p, trace, d_output, d_h_n, d_c_n):
        """Full BPTT of x, h0, c0 over a Trace, without the weight gradients."""
        _, g_x, g_h0, g_c0 = self._sweep(trace, d_output, d_h_n, d_c_n, FULL, None, need_x=True, weights=False)
        return cu.to_host(g_x), cu.to_host(g_h0), (cu.to_host(g_c0) if g_c0 is not None else np.zeros_like(p.c0))

    def backward_weights(self, p, trace):
        """The parameter gradients of the last backward_data over ``trace``."""
        net, dev = p.net, trace.dev
        T = dev.shape[0]
        g = {name: cu.zeros(value.shape, dev.dtype) for name, value in dev.params.items()}
        for layer in range(net.num_layers):
            for d in range(net.num_directions):
                cu.weight_gradients(net.kind, trace.tapes[layer * net.num_directions + d], 0, T - 1,
                                    net.layer_weights(g, layer, d))
        return {name: cu.to_host(value) for name, value in g.items()}

    def backward(self, p, d_output, d_h_n, d_c_n, trunc, records=None, sweep_only=False):
        """As LayeredBackend.backward: full and chunk truncation in one sweep per
        layer, kstep:K as one window per loss step; ``records`` (full only) gets
        one StepRecord per layer and direction; ``sweep_only`` skips the weight
        gradients and the gradient of x (returned as None)."""
        trace = self.train_forward(p)
        host_grads = (d_output, d_h_n, d_c_n)
        g_params, g_x, g_h0, g_c0 = self._sweep(trace, *host_grads, trunc, records, need_x=not sweep_only,
                                                weights=not sweep_only)
        return ({k: cu.to_host(a) for k, a in g_params.items()} if g_params is not None else None,
                cu.to_host(g_x) if g_x is not None else None, cu.to_host(g_h0),
                cu.to_host(g_c0) if g_c0 is not None else np.zeros_like(p.c0))

    # --- device-resident core ------------------------------------------------------------------

    def _run_forward(self, dev):
        net = dev.net
        T, B, _ = dev.shape
        H, D = net.hidden_size, net.num_directions
        S = net.num_layers * D
        is_lstm = net.kind == "lstm"
        h_n = cu.empty((S, B, H), dev.dtype)
        c_n = cu.empty((S, B, H), dev.dtype) if is_lstm else None
        inputs, trace = dev.x, Trace([], [], dev)
        for layer in range(net.num_layers):
            out = cu.empty((T, B, D * H), dev.dtype) if D > 1 else None
            for d in range(D):
                s = layer * D + d
                if d == 0:
                    x = inputs
                else:  # the reverse direction reads each sample's steps backwards
                    x = cu.empty(inputs.shape, dev.dtype)
                    cu.copy_time(inputs, x, rev=dev.rev)
                y, tape = cu.forward_layer(net.kind, x, dev.h0[s], dev.c0[s], net.layer_weights(dev.params, layer, d),
                                           dev.lengths, self.persistent)
                cu.copy(cu.flat(tape.hs[T]), cu.flat(h_n[s]))
                if is_lstm:
                    cu.copy(cu.flat(tape.cs[T]), cu.flat(c_n[s]))
                if D > 1:
                    cu.copy_time(y, out, dst_col=d * H, rev=dev.rev if d else None)
                trace.tapes.append(tape)
                trace.io.append((x, y))
            inputs = y if D == 1 else out
        return inputs, h_n, c_n, trace

    def _sweep(self, trace, d_output, d_h_n, d_c_n, trunc, records, need_x, weights):
        """Backward-data over every window and layer (and, with ``weights``, each
        layer's weight gradients right after its sweep over a window). The
        gradient arguments may be NumPy or device arrays; returns device arrays."""
        dev = trace.dev
        net = dev.net
        T, B, _ = dev.shape
        H, D = net.hidden_size, net.num_directions
        S = net.num_layers * D
        is_lstm = net.kind == "lstm"
        dt = dev.dtype
        kstep = trunc.mode == "kstep" and not trunc.is_full_for(T)
        if kstep:  # which windows carry any loss (decided on the host, as LayeredBackend does)
            has_loss = _windows_with_loss(d_output, d_h_n, d_c_n, dev.lengths_host, is_lstm)
        d_output, d_h_n = cu.as_device(d_output), cu.as_device(d_h_n)
        d_c_n = cu.as_device(d_c_n) if is_lstm else d_h_n
        g_params = {name: cu.zeros(value.shape, dt) for name, value in dev.params.items()} if weights else None
        g_x = cu.zeros(dev.shape, dt) if need_x else None
        g_h0 = cu.zeros((S, B, H), dt)
        g_c0 = cu.zeros((S, B, H), dt) if is_lstm else None
        below_all = [cu.zeros((T, B, net.layer_input_size(layer)), dt) for layer in range(net.num_layers)]
        adjoints = None
        if records is not None:
            if trunc.mode != "full":
                raise ValueError(f"truncation: step records need 'full', got '{trunc}'")
            adjoints = [(cu.zeros((T, B, H), dt), cu.zeros((T, B, H), dt) if is_lstm else None) for _ in range(S)]
        if kstep:
            windows = [(trunc.window_start(t), t) for t in range(T) if has_loss[t]]
            chunk = 0
        else:
            windows = [(0, T - 1)]
            chunk = trunc.k if trunc.mode == "chunk" else 0
        for t0, t1 in windows:
            grad_above = d_output
            for layer in reversed(range(net.num_layers)):
                below = below_all[layer]
                window_below = below[t0:t1 + 1]
                cu.fill(cu.flat(window_below), 0)
                need_dx = layer > 0 or need_x
                for d in range(D):
                    s = layer * D + d
                    if D == 1:
                        dy = grad_above
                    else:
                        dy = cu.empty((T, B, H), dt)
                        cu.copy_time(grad_above, dy, src_col=d * H, width=H, rev=dev.rev if d else None)
                    tape = trace.tapes[s]
                    record = None
                    if adjoints is not None:
                        record = (adjoints[s][0], adjoints[s][1] if is_lstm else adjoints[s][0])
                    dx, dh, dc = cu.backward_layer(
                        net.kind, tape, net.layer_weights(dev.params, layer, d), dy, d_h_n[s], d_c_n[s], dev.lengths,
                        t0, t1, chunk, record=record, need_dx=need_dx,
                        dx_out=window_below if need_dx and d == 0 else None,
                        dy_t1_only=kstep and layer == net.num_layers - 1, hn_t1_only=kstep,
                        persistent=self.persistent)
                    if weights:
                        cu.weight_gradients(net.kind, tape, t0, t1, net.layer_weights(g_params, layer, d))
                    if need_dx and d == 1:  # bidirectional: full windows only (t0 = 0)
                        cu.copy_time(dx, below, rev=dev.rev, accumulate=True)
                    if t0 == 0:
                        cu.add(cu.flat(dh), cu.flat(g_h0[s]))
                        if dc is not None:
                            cu.add(cu.flat(dc), cu.flat(g_c0[s]))
                grad_above = below
            if need_x:
                cu.add(cu.flat(grad_above[t0:t1 + 1]), cu.flat(g_x[t0:t1 + 1]))
        if records is not None:
            records[:] = [_record(tape, io, adjoints[s], H, dt)
                          for s, (tape, io) in enumerate(zip(trace.tapes, trace.io))]
        return g_params, g_x, g_h0, g_c0


def _windows_with_loss(d_output, d_h_n, d_c_n, lengths, is_lstm):
    """[T] bool: whether the loss terms of step t are not all zero, decided
    exactly as LayeredBackend decides to skip a k-step window (the final-state
    gradient masked to the samples ending at t, inf * 0 = NaN included)."""
    d_output, d_h_n = _host(d_output), _host(d_h_n)
    d_c_n = _host(d_c_n) if is_lstm else np.zeros_like(d_h_n)
    T = d_output.shape[0]
    keep = np.zeros(T, dtype=bool)
    with np.errstate(invalid="ignore"):
        for t1 in range(T):
            ends_here = (lengths - 1 == t1)[None, :, None]
            active = t1 < lengths
            keep[t1] = (np.any(d_output[t1][active]) or np.any(d_h_n * ends_here)
                        or np.any(d_c_n * ends_here))
    return keep


def _host(a):
    return cu.to_host(a) if cu.is_device_array(a) else np.asarray(a)


def _record(tape, io, adjoint, H, dtype):
    adj_h, adj_c = adjoint
    dpre_ih = cu.to_host(tape.dpre_ih)
    dpre_hh = dpre_ih if tape.dpre_hh is tape.dpre_ih else cu.to_host(tape.dpre_hh)
    return StepRecord(cu.to_host(adj_h), cu.to_host(adj_c) if adj_c is not None else np.zeros_like(dpre_ih[..., :H]),
                      dpre_ih=dpre_ih, dpre_hh=dpre_hh, inputs=cu.to_host(io[0]), outputs=cu.to_host(io[1]))


def check_timing():
    """Raise ValueError when numba-cuda cannot be timed here (the simulator)."""
    if cu.SIMULATOR:
        raise ValueError(cu.timing.REFUSED)


def measure_phases(net, params, x, d_output, min_repeats=5, min_seconds=0.2, max_repeats=50, persistent="auto"):
    """{phase: rnnbench.timing.Timing} for DeepBench's phases on the GPU, timed
    with CUDA events (rnnbench.kernels.cuda.time_call): inputs copied to the
    device once, results left there. The first call of each phase (compilation)
    is timed apart as first_s; then samples until each phase has min_repeats
    and min_seconds (max_repeats at most). ValueError under the simulator."""
    from ..timing import Timing
    check_timing()
    result = {}
    for phase, fn in device_phase_functions(net, params, x, d_output, persistent).items():
        first = cu.time_call(fn, repeats=1, warmup=0)[0]
        samples = []
        while len(samples) < max_repeats and (len(samples) < min_repeats or sum(samples) < min_seconds):
            samples += cu.time_call(fn, repeats=1, warmup=0)
        result[phase] = Timing(first, samples)
    return result


BACKEND = CudaBackend()


# --- device arrays in, device arrays out ------------------------------------------------------

def _check_device_array(name, a, shape, dtype):
    if not (cu.is_device_array(a) or isinstance(a, np.ndarray)):
        raise ValueError(f"{name}: expected a device array (__cuda_array_interface__) or a numpy.ndarray, "
                         f"got {type(a).__name__}")
    d = cu.as_device(a)
    if shape is not None and tuple(d.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(d.shape)}")
    if dtype is not None and np.dtype(d.dtype) != dtype:
        raise ValueError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {np.dtype(d.dtype)}")
    return d


def _device_inputs(net, params, x, state0, lengths):
    net = v.check_net(net)
    if not isinstance(params, dict) or set(params) != set(net.param_shapes()):
        raise ValueError(f"params: expected a dict with exactly the keys of {net}'s param_shapes()")
    first = next(iter(net.param_shapes()))
    dtype = np.dtype(cu.as_device(params[first]).dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"params[{first!r}]: expected dtype float32 or float64, got {dtype}")
    d_params = {name: _check_device_array(f"params[{name!r}]", params[name], shape, dtype)
                for name, shape in net.param_shapes().items()}
    d_x = _check_device_array("x", x, None, dtype)
    if len(d_x.shape) != 3 or d_x.shape[2] != net.input_size or 0 in d_x.shape:
        raise ValueError(f"x: expected a 3-D array [T, B, input_size={net.input_size}] with T, B >= 1, "
                         f"got shape {tuple(d_x.shape)}")
    T, B = d_x.shape[0], d_x.shape[1]
    lengths_host = v.check_lengths(None if lengths is None else _host(lengths), T, B)
    shape = v.state_shape(net, B)
    if state0 is None:
        h0 = c0 = cu.zeros(shape, dtype)
    elif net.kind == "lstm":
        if not (isinstance(state0, tuple) and len(state0) == 2):
            raise ValueError(f"state0: expected None or a tuple (h0, c0) of arrays {shape} for lstm")
        h0 = _check_device_array("state0[0] (h0)", state0[0], shape, dtype)
        c0 = _check_device_array("state0[1] (c0)", state0[1], shape, dtype)
    else:
        h0 = _check_device_array("state0", state0, shape, dtype)
        c0 = h0
    return _device_problem(net, d_params, d_x, h0, c0, lengths_host, dtype, mask=True)


def forward_device(net, params, x, state0=None, lengths=None, persistent="auto"):
    """rb.forward on arrays already on the device (no host copy): params,
    x, state0 anything with ``__cuda_array_interface__`` (or NumPy arrays,
    copied in). Returns device arrays (output [T, B, D*H], h_n, c_n or None)."""
    dev = _device_inputs(net, params, x, state0, lengths)
    output, h_n, c_n, _ = CudaBackend(persistent)._run_forward(dev)
    return output, h_n, c_n


def backward_device(net, params, x, d_output=None, d_h_n=None, d_c_n=None, state0=None, lengths=None,
                    truncation="full", persistent="auto"):
    """rb.backward on device arrays. Returns (params gradients {name: device
    array}, x [T, B, I], h0, c0 or None), all on the device."""
    dev = _device_inputs(net, params, x, state0, lengths)
    trunc = parse_truncation(truncation)
    if net.bidirectional and trunc.mode != "full":
        raise ValueError(f"truncation: expected 'full' for a bidirectional network, got {truncation!r}")
    T, B, _ = dev.shape
    state = v.state_shape(net, B)
    grads = []
    for name, value, shape in (("d_output", d_output, (T, B, net.num_directions * net.hidden_size)),
                               ("d_h_n", d_h_n, state), ("d_c_n", d_c_n, state)):
        if name == "d_c_n" and value is not None and net.kind != "lstm":
            raise ValueError(f"d_c_n: expected None for {net.kind} (only lstm has a cell state), got an array")
        grads.append(cu.zeros(shape, dev.dtype) if value is None else _check_device_array(name, value, shape,
                                                                                          dev.dtype))
    backend = CudaBackend(persistent)
    trace = backend._run_forward(dev)[3]
    g_params, g_x, g_h0, g_c0 = backend._sweep(trace, *grads, trunc, None, need_x=True, weights=True)
    return g_params, g_x, g_h0, g_c0


def device_phase_functions(net, params, x, d_output, persistent="auto"):
    """{phase: zero-argument callable} for timing on the GPU with the inputs
    already on the device, as rnnbench.phases.phase_functions (forward,
    backward_data, backward_weights, forward_backward); each call leaves its
    results on the device (time it with rnnbench.kernels.cuda.time_call)."""
    backend = CudaBackend(persistent)
    dev = _device_inputs(net, params, x, None, None)
    d_output = _check_device_array("d_output", d_output, tuple(dev.shape[:2]) + (net.num_directions * net.hidden_size,),
                                   dev.dtype)
    zeros = cu.zeros(tuple(dev.h0.shape), dev.dtype)
    trace = backend._run_forward(dev)[3]
    backend._sweep(trace, d_output, zeros, zeros, FULL, None, need_x=True, weights=False)

    def backward_weights():
        g = {name: cu.zeros(value.shape, dev.dtype) for name, value in dev.params.items()}
        for layer in range(net.num_layers):
            for d in range(net.num_directions):
                cu.weight_gradients(net.kind, trace.tapes[layer * net.num_directions + d], 0, dev.shape[0] - 1,
                                    net.layer_weights(g, layer, d))
        return g

    return {
        "forward": lambda: backend._run_forward(dev)[:3],
        "backward_data": lambda: backend._sweep(trace, d_output, zeros, zeros, FULL, None, need_x=True,
                                                weights=False),
        "backward_weights": backward_weights,
        "forward_backward": lambda: backend._sweep(backend._run_forward(dev)[3], d_output, zeros, zeros, FULL, None,
                                                   need_x=True, weights=True),
    }
