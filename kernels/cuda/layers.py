"""One recurrent layer in one direction on the GPU: the device counterpart of
:mod:`rnnbench.kernels.cpu`, with the same arguments' meaning and results.

Every array here is a device array; nothing leaves the device.

- forward: one GEMM for the input projection of all T*B columns (or the
  skip-input broadcast), then all T steps either in one persistent
  cooperative launch (:mod:`.persistent`, when the layer fits) or per step as
  a recurrent GEMM plus one fused pointwise kernel.
- backward-data: steps t1..t0 the same two ways, then dx for all those steps
  in one GEMM (dx = dpre_ih W_ih).
- backward-weights: dW_ih += dpre_ih^T x, dW_hh += dpre_hh^T h and the bias
  column sums, each over all the sweep's T*B columns at once.
"""
from dataclasses import dataclass

import numpy as np

from ..cells import GRU, KIND_IDS, LSTM
from . import persistent as pers
from . import pointwise as pw
from .arrays import empty, flat, zeros
from .matmul import colsum, dummy, gemm
from .limits import SIMULATOR


@dataclass
class Tape:
    """What backward needs from a layer's forward (device arrays)."""
    x: object            # [T, B, I] the layer's input
    hs: object           # [T+1, B, H] states, hs[0] = h0
    cs: object           # [T+1, B, H] lstm cell states, else a placeholder
    gates: object        # [T, B, GH] activated gates (the input projection, overwritten)
    hn_lin: object       # [T, B, H] gru: W_hn h + b_hn, else a placeholder
    dpre_ih: object = None  # [T, B, GH] made by the first backward (padded rows stay zero)
    dpre_hh: object = None  # the same array except for gru
    forward_path: str = ""   # "persistent" or "per-step": how the forward ran
    backward_path: str = ""  # likewise for the last backward_layer


_PLANS = {}


def _persistent_plan(mode, kind, B, H, dtype, kernel, args):
    """A persistent.Plan or None (cached per kernel and shape). mode: False
    (never), True (whenever it fits) or "auto" (whenever it fits; in the
    simulator only when asked, since the simulator's one-block grid is a test
    configuration, not a speed-up)."""
    if mode is False or (mode == "auto" and SIMULATOR):
        return None
    key = (kernel.py_func.__name__, B, H)
    if key not in _PLANS:
        _PLANS[key] = pers.plan(kind, B, H, dtype, pers.cooperative_blocks(kernel, args))
    return _PLANS[key]


def forward_layer(kind, x, h0, c0, w, lengths, persistent="auto"):
    """x: [T, B, I]; h0, c0: [B, H] (c0 read for lstm only); w = (w_ih [GH, I]
    or None for skip-input, w_hh [GH, H], b_ih [GH], b_hh [GH]); lengths:
    int64 [B]. Returns (y [T, B, H], Tape)."""
    w_ih, w_hh, b_ih, b_hh = w
    kid = KIND_IDS[kind]
    T, B, I = x.shape
    H = h0.shape[1]
    GH = w_hh.shape[0]
    dtype = np.dtype(x.dtype)
    xp = empty((T, B, GH), dtype)
    if w_ih is None:
        pw.skip_projection(x, b_ih, xp)
    else:
        gemm(x.reshape(T * B, I), w_ih, xp.reshape(T * B, GH), tb=True, bias=b_ih)
    hs = empty((T + 1, B, H), dtype)
    pw.copy(flat(h0), flat(hs[0]))
    cs = hn_lin = dummy(dtype, 3)
    if kid == LSTM:
        cs = empty((T + 1, B, H), dtype)
        pw.copy(flat(c0), flat(cs[0]))
    if kid == GRU:
        hn_lin = empty((T, B, H), dtype)
    y = empty((T, B, H), dtype)
    args = (T, xp, w_hh, b_hh, lengths, hs, cs, hn_lin, y)
    plan = _persistent_plan(persistent, kid, B, H, dtype,
                            pers.persistent_forward_kernel(kid, dtype.name), args + (1,))
    if plan is not None:
        pers.run_forward(kid, plan, *args)
    else:
        hp = empty((B, GH), dtype)
        for t in range(T):
            gemm(hs[t], w_hh, hp, tb=True)
            pw.forward_step(kid, t, xp, hp, b_hh, lengths, hs, cs, hn_lin, y)
    return y, Tape(x, hs, cs, xp, hn_lin, forward_path="per-step" if plan is None else "persistent")


def backward_layer(kind, tape, w, dy, d_hn, d_cn, lengths, t0, t1, chunk, record=None, need_dx=True,
                   dx_out=None, dy_t1_only=False, hn_t1_only=False, persistent="auto"):
    """Backward-data of steps t1..t0 (see kernels.cpu.backward_layer).

    dy: [T, B, H]; d_hn, d_cn: [B, H] (d_cn read for lstm only); record: None
    or (adj_h, adj_c) [T, B, H] device arrays to fill. dx_out: None (dx is
    returned as a new [t1-t0+1, B, I] array) or a device array of that shape
    that dx is added into. dy_t1_only / hn_t1_only: the top layer of a k-step
    window (see pointwise.backward_point).

    Returns (dx or None, dh [B, H], dc [B, H] or None): the gradient of the
    layer input at steps t0..t1 and of the state entering step t0."""
    w_ih, w_hh = w[0], w[1]
    kid = KIND_IDS[kind]
    T, B, I = tape.x.shape
    H = d_hn.shape[1]
    GH = w_hh.shape[0]
    dtype = np.dtype(tape.x.dtype)
    if tape.dpre_ih is None:
        tape.dpre_ih = zeros((T, B, GH), dtype)
        tape.dpre_hh = zeros((T, B, GH), dtype) if kid == GRU else tape.dpre_ih
    dh = zeros((B, H), dtype)
    dc = zeros((B, H), dtype) if kid == LSTM else dummy(dtype, 2)
    d_cn = d_cn if kid == LSTM else dummy(dtype, 2)
    adj_h, adj_c = record if record is not None else (dummy(dtype, 3), dummy(dtype, 3))
    if kid != LSTM:
        adj_c = dummy(dtype, 3)
    common = (t0, t1, chunk, bool(dy_t1_only), bool(hn_t1_only), dy, d_hn, d_cn, lengths, tape.hs, tape.cs,
              tape.gates, tape.hn_lin)
    state = (dh, dc, tape.dpre_ih, tape.dpre_hh, adj_h, adj_c, record is not None)
    plan = _persistent_plan(persistent, kid, B, H, dtype, pers.persistent_backward_kernel(kid, dtype.name),
                            common + (w_hh,) + state + (1,))
    tape.backward_path = "per-step" if plan is None else "persistent"
    if plan is not None:
        pers.run_backward(kid, plan, *common, w_hh, *state)
    else:
        rec = zeros((B, H), dtype)
        for t in range(t1, t0 - 1, -1):
            pw.backward_step(kid, t, *common[1:], rec, *state)
            gemm(tape.dpre_hh[t], w_hh, rec)
        pw.finish_backward(t0, lengths, rec, dh)
    dx = None
    if need_dx:
        n = t1 - t0 + 1
        accumulate = dx_out is not None
        dx = dx_out if accumulate else empty((n, B, I), dtype)
        if w_ih is None:
            pw.sum_gate_blocks(tape.dpre_ih, t0, dx, accumulate)
        else:
            gemm(tape.dpre_ih[t0:t1 + 1].reshape(n * B, GH), w_ih, dx.reshape(n * B, I), accumulate=accumulate)
    return dx, dh, (dc if kid == LSTM else None)


def weight_gradients(kind, tape, t0, t1, dw):
    """Add the weight gradients of steps t0..t1 (from the last backward_layer
    over them) into dw = (dw_ih or None, dw_hh, db_ih, db_hh), device arrays."""
    dw_ih, dw_hh, db_ih, db_hh = dw
    T, B, I = tape.x.shape
    H = tape.hs.shape[2]
    GH = dw_hh.shape[0]
    n = t1 - t0 + 1
    p_ih = tape.dpre_ih[t0:t1 + 1].reshape(n * B, GH)
    p_hh = tape.dpre_hh[t0:t1 + 1].reshape(n * B, GH)
    if dw_ih is not None:
        gemm(p_ih, tape.x[t0:t1 + 1].reshape(n * B, I), dw_ih, ta=True, accumulate=True)
    gemm(p_hh, tape.hs[t0:t1 + 1].reshape(n * B, H), dw_hh, ta=True, accumulate=True)
    colsum(p_ih, db_ih)
    colsum(p_hh, db_hh)
