"""rb.forward and rb.backward: validate arguments, then run a backend."""
from dataclasses import dataclass

import numpy as np

from . import validation as v
from .backends import get_backend
from .truncation import parse_truncation


@dataclass(frozen=True)
class ForwardResult:
    """output: [T, B, D*H] (zero at padded steps); h_n: [L*D, B, H];
    c_n: [L*D, B, H] for lstm, else None."""
    output: np.ndarray
    h_n: np.ndarray
    c_n: np.ndarray | None


@dataclass(frozen=True)
class Gradients:
    """params: same keys and shapes as the parameters; x: [T, B, I] (zero at
    padded steps); h0: [L*D, B, H]; c0: [L*D, B, H] for lstm, else None."""
    params: dict
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None


@dataclass(frozen=True)
class Problem:
    """Validated inputs handed to a backend. h0/c0 are always arrays (c0 is
    zeros and ignored for non-LSTM kinds); lengths is int64 [B]."""
    net: object
    params: dict
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    lengths: np.ndarray
    dtype: np.dtype

    @property
    def is_lstm(self):
        return self.net.kind == "lstm"


def validated_problem(net, params, x, state0, lengths):
    net = v.check_net(net)
    params, dtype = v.check_params(net, params)
    x = v.check_x(net, x, dtype)
    T, B, _ = x.shape
    lengths = v.check_lengths(lengths, T, B)
    h0, c0 = v.check_state0(net, state0, B, dtype)
    return Problem(net, params, v.mask_padding(x, lengths), h0, c0, lengths, dtype)


def forward(net, params, x, state0=None, lengths=None, backend="numba-cpu"):
    """Run the network over x: [T, B, input_size].

    state0: None (zeros), h0 [L*D, B, H], or (h0, c0) for lstm.
    lengths: None or int [B] with 1 <= lengths[b] <= T; steps t >= lengths[b]
    are padding exactly as in PyTorch packed sequences.
    Returns ForwardResult(output [T, B, D*H], h_n [L*D, B, H], c_n or None).
    """
    impl = get_backend(backend)
    p = validated_problem(net, params, x, state0, lengths)
    output, h_n, c_n = impl.forward(p)
    return ForwardResult(output, h_n, c_n if p.is_lstm else None)


def backward(net, params, x, d_output=None, d_h_n=None, d_c_n=None, state0=None, lengths=None,
             truncation="full", backend="numba-cpu"):
    """Backpropagation through time for the loss
    L = sum(d_output * output) + sum(d_h_n * h_n) + sum(d_c_n * c_n).

    d_output: [T, B, D*H] (None = zeros); d_h_n, d_c_n: [L*D, B, H] (None =
    zeros; d_c_n only for lstm). truncation: 'full', 'kstep:K' or 'chunk:K'
    (see rnnbench.truncation; not with bidirectional=True). Cost: 'full' and
    'chunk:K' are one backward sweep; 'kstep:K' runs one window of K+1 steps
    per loss step, O(T*K) cell backward steps.
    Returns Gradients(params, x [T, B, I], h0 [L*D, B, H], c0 or None).
    """
    impl = get_backend(backend)
    p = validated_problem(net, params, x, state0, lengths)
    T, B, _ = p.x.shape
    trunc = parse_truncation(truncation)
    if p.net.bidirectional and trunc.mode != "full":
        raise ValueError(f"truncation: expected 'full' for a bidirectional network, got {truncation!r}")
    out_shape = (T, B, p.net.num_directions * p.net.hidden_size)
    d_output = v.check_grad("d_output", d_output, out_shape, p.dtype)
    state_shape = v.state_shape(p.net, B)
    d_h_n = v.check_grad("d_h_n", d_h_n, state_shape, p.dtype)
    if d_c_n is not None and not p.is_lstm:
        raise ValueError(f"d_c_n: expected None for {p.net.kind} (only lstm has a cell state), got an array")
    d_c_n = v.check_grad("d_c_n", d_c_n, state_shape, p.dtype)
    g_params, g_x, g_h0, g_c0 = impl.backward(p, d_output, d_h_n, d_c_n, trunc)
    return Gradients(g_params, g_x, g_h0, g_c0 if p.is_lstm else None)
