"""Argument checks for the public API.

Every problem raises ``ValueError`` naming the argument, what was expected and
what was given. Nothing is cast silently: x, states, gradients and parameters
must share one dtype (float32 or float64). Accepted arrays come back
C-contiguous, so kernels never see strided views.
"""
import numpy as np

from .model import DTYPES, RNN


def _array(name, value):
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
    return value


def _shaped(name, value, shape, dtype, what):
    value = _array(name, value)
    if value.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)} {what}, got {value.shape}")
    if value.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {value.dtype}")
    return np.ascontiguousarray(value)


def check_net(net):
    if not isinstance(net, RNN):
        raise ValueError(f"net: expected an rnnbench.RNN, got {type(net).__name__}")
    return net


def check_params(net, params):
    """-> (params with C-contiguous arrays, dtype)."""
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict name -> ndarray, got {type(params).__name__}")
    shapes = net.param_shapes()
    missing = [n for n in shapes if n not in params]
    if missing:
        raise ValueError(f"params: missing {', '.join(missing)} (expected the keys of {net}'s param_shapes())")
    unknown = [n for n in params if n not in shapes]
    if unknown:
        raise ValueError(f"params: unexpected {', '.join(map(str, unknown))} for {net}")
    dtype = None
    checked = {}
    for name, shape in shapes.items():
        value = _array(f"params[{name!r}]", params[name])
        if value.dtype not in DTYPES:
            raise ValueError(f"params[{name!r}]: expected dtype float32 or float64, got {value.dtype}")
        dtype = dtype or value.dtype
        checked[name] = _shaped(f"params[{name!r}]", value, shape, dtype, "(PyTorch layout)")
    return checked, dtype


def check_x(net, x, dtype):
    x = _array("x", x)
    if x.ndim != 3 or x.shape[2] != net.input_size or 0 in x.shape:
        raise ValueError(f"x: expected a 3-D array [T, B, input_size={net.input_size}] with T, B >= 1, "
                         f"got shape {x.shape}")
    return _shaped("x", x, x.shape, dtype, "[T, B, input_size]")


def check_lengths(lengths, T, B):
    """None -> all T; else an integer array [B] with 1 <= lengths[b] <= T, as int64."""
    if lengths is None:
        return np.full(B, T, dtype=np.int64)
    given = np.asarray(lengths)
    if given.shape != (B,) or given.dtype.kind not in "iu":
        raise ValueError(f"lengths: expected an integer array of shape ({B},), "
                         f"got {given.dtype} of shape {given.shape}")
    if given.min() < 1 or given.max() > T:
        raise ValueError(f"lengths: expected values in [1, T={T}], got min {given.min()} and max {given.max()}")
    return given.astype(np.int64)


def state_shape(net, B):
    return (net.num_layers * net.num_directions, B, net.hidden_size)


def check_state0(net, state0, B, dtype):
    """-> (h0, c0) arrays [L*D, B, H]; zeros where not given; c0 is zeros for non-LSTM."""
    shape = state_shape(net, B)
    zeros = np.zeros(shape, dtype=dtype)
    if state0 is None:
        return zeros, zeros.copy()
    if net.kind == "lstm":
        if not (isinstance(state0, tuple) and len(state0) == 2):
            raise ValueError(f"state0: expected None or a tuple (h0, c0) of arrays {shape} for lstm, "
                             f"got {type(state0).__name__}")
        return (_shaped("state0[0] (h0)", state0[0], shape, dtype, "[L*D, B, H]"),
                _shaped("state0[1] (c0)", state0[1], shape, dtype, "[L*D, B, H]"))
    if isinstance(state0, tuple):
        raise ValueError(f"state0: expected None or an array h0 {shape} for {net.kind}, got a tuple")
    return _shaped("state0", state0, shape, dtype, "[L*D, B, H]"), zeros


def check_grad(name, value, shape, dtype):
    """A gradient argument: None -> zeros."""
    if value is None:
        return np.zeros(shape, dtype=dtype)
    return _shaped(name, value, shape, dtype, "")


def mask_padding(x, lengths):
    """x with padded steps (t >= lengths[b]) set to zero, so that no value there,
    not even NaN or inf, can reach a result. Returns x itself when nothing is padded."""
    T = x.shape[0]
    if lengths.min() >= T:
        return x
    padded = np.arange(T)[:, None] >= lengths[None, :]
    return np.where(padded[:, :, None], 0, x).astype(x.dtype)
