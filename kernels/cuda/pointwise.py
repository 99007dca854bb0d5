"""Fused pointwise kernels: one launch per time step for the cell, forward
and backward, one thread per (sample b, hidden unit j), plus the small
elementwise kernels the layer and network code need.

The cell math is not written here: every kernel calls the scalar functions
of :mod:`rnnbench.kernels.cells` (``rnn_cell``, ``lstm_cell``, ``gru_cell``
and their backward), exactly as the CPU time loops do, compiled for the GPU
(see :mod:`.target`). The semantics mirror :mod:`rnnbench.kernels.cpu`:

- forward step t: pre-activations = xp[t] (input projection with b_ih) +
  (hp + b_hh) (recurrent GEMM output, bias added here); the activated gates
  overwrite xp[t] in place (saved for backward); padded samples
  (t >= lengths[b]) carry their state and output zero.
- backward step t, thread (b, j): the state gradient arriving from step t+1
  (dh, plus rec = dpre_hh[t+1] W_hh when sample b was active at t+1), zeroed
  at chunk boundaries; the final-state gradient injected at t = lengths[b]-1;
  the adjoint recorded; dy[t] added; the cell backward writes the
  pre-activation gradients of step t and leaves the direct-path gradient
  (0 for rnn and lstm, dh z for gru) and dc_prev for step t-1.

Each kernel is built per (kind, dtype) by a cached factory, so constants and
zeros have the array's type (float32 stays float32) and the kind's branches
vanish at compile time.
"""
import functools

import numpy as np
from numba import cuda

from .. import cells
from ..cells import GRU, LSTM, RNN_RELU
from .limits import SIMULATOR, blocks_for, grid_for, jit_kernel, launch, threads_for

MAX_THREADS = 256  # block size of every elementwise kernel (launch bounds)


def _zero_one(dtype):
    t = np.dtype(dtype).type
    return t(0), t(1)


_KIND_NAMES = {v: k for k, v in cells.KIND_IDS.items()}


def _jit(fn, kind, dtype, suffix=""):
    name = f"{fn.__name__}_{_KIND_NAMES[kind]}_{dtype}{suffix}"
    fn.__name__ = fn.__qualname__ = name
    return jit_kernel(fn, MAX_THREADS)


@cuda.jit(device=True, inline="always")
def _incoming(t, t1, chunk, dy_t1_only, hn_t1_only, length, d, c, r, g_hn, g_cn, g_y, zero, one):
    """The state gradient at step t of one unit, as every kind's backward starts it.

    From step t+1: (d, c) zeroed at a chunk boundary, else d plus the
    recurrent term r when the sample was active at t+1 (the first step of a
    sweep, t = t1, takes d, c as they are); then the final-state gradient
    (g_hn, g_cn) at the sample's last step (k-step windows: only when that
    step is t1, with ``hn_t1_only``). Returns (d, c, d_in): d, c are the
    Markov-state adjoint to record (and to carry at a padded step); d_in adds
    the output gradient g_y at an active step (``dy_t1_only``: at t1 only)."""
    if t < t1:
        if chunk > 0 and (t + 1) % chunk == 0:
            d, c = zero, zero
        elif t + 1 < length:
            d = d + r
    if t == length - 1:
        m = zero if hn_t1_only and t1 != length - 1 else one
        d += g_hn * m
        c += g_cn * m
    d_in = d
    if t < length and (t == t1 or not dy_t1_only):
        d_in = d + g_y
    return d, c, d_in


@functools.lru_cache(maxsize=None)
def forward_point(kind, dtype):
    """Device function: step t of sample b, unit j, given the recurrent sums
    s0..s3 (h_t W_hh^T of each gate, without b_hh; unused ones ignored), for
    an active sample. ``(t, b, j, s0, s1, s2, s3, xp, b_hh, hs, cs, hn_lin, y)``."""
    relu = kind == RNN_RELU

    if kind == LSTM:
        def lstm_forward_point(t, b, j, s0, s1, s2, s3, xp, b_hh, hs, cs, hn_lin, y):
            H = hs.shape[2]
            a_i = xp[t, b, j] + (s0 + b_hh[j])
            a_f = xp[t, b, H + j] + (s1 + b_hh[H + j])
            a_g = xp[t, b, 2 * H + j] + (s2 + b_hh[2 * H + j])
            a_o = xp[t, b, 3 * H + j] + (s3 + b_hh[3 * H + j])
            i, f, g, o, c, h = cells.lstm_cell(a_i, a_f, a_g, a_o, cs[t, b, j])
            xp[t, b, j] = i  # the gates overwrite their pre-activations: saved for backward
            xp[t, b, H + j] = f
            xp[t, b, 2 * H + j] = g
            xp[t, b, 3 * H + j] = o
            cs[t + 1, b, j] = c
            hs[t + 1, b, j] = h
            y[t, b, j] = h
        fn = lstm_forward_point
    elif kind == GRU:
        def gru_forward_point(t, b, j, s0, s1, s2, s3, xp, b_hh, hs, cs, hn_lin, y):
            H = hs.shape[2]
            h_n = s2 + b_hh[2 * H + j]
            hn_lin[t, b, j] = h_n
            a_r = xp[t, b, j] + (s0 + b_hh[j])
            a_z = xp[t, b, H + j] + (s1 + b_hh[H + j])
            r, z, n, h = cells.gru_cell(a_r, a_z, xp[t, b, 2 * H + j], h_n, hs[t, b, j])
            xp[t, b, j] = r
            xp[t, b, H + j] = z
            xp[t, b, 2 * H + j] = n
            hs[t + 1, b, j] = h
            y[t, b, j] = h
        fn = gru_forward_point
    else:
        def rnn_forward_point(t, b, j, s0, s1, s2, s3, xp, b_hh, hs, cs, hn_lin, y):
            a = xp[t, b, j] + (s0 + b_hh[j])
            xp[t, b, j] = a
            h = cells.rnn_cell(a, relu)
            hs[t + 1, b, j] = h
            y[t, b, j] = h
        fn = rnn_forward_point
    return cuda.jit(device=True, inline="always")(fn)


@functools.lru_cache(maxsize=None)
def carry_point(kind, dtype):
    """Device function: a padded step (t >= lengths[b]) carries the state and outputs zero.
    ``(t, b, j, hs, cs, y)``."""
    ZERO, _ = _zero_one(dtype)
    is_lstm = kind == LSTM

    def carry(t, b, j, hs, cs, y):
        hs[t + 1, b, j] = hs[t, b, j]
        if is_lstm:
            cs[t + 1, b, j] = cs[t, b, j]
        y[t, b, j] = ZERO
    return cuda.jit(device=True, inline="always")(carry)


@functools.lru_cache(maxsize=None)
def forward_step_kernel(kind, dtype):
    """Forward step kernel, one thread per (b, j): hp holds h_t W_hh^T [B, GH]
    from the step's GEMM. Arguments (same for every kind; cs and hn_lin are
    placeholders where unused): (t, xp, hp, b_hh, lengths, hs, cs, hn_lin, y)."""
    point, carry = forward_point(kind, dtype), carry_point(kind, dtype)
    G = cells.GATES[_KIND_NAMES[kind]]

    def forward_step(t, xp, hp, b_hh, lengths, hs, cs, hn_lin, y):
        B, H = hs.shape[1], hs.shape[2]
        idx = cuda.grid(1)  # one thread per (b, j): no grid-stride loop, which costs registers here
        if idx >= B * H:
            return
        b = idx // H
        j = idx - b * H
        if t >= lengths[b]:
            carry(t, b, j, hs, cs, y)
            return
        s0 = hp[b, j]
        s1, s2, s3 = s0, s0, s0
        if G > 1:
            s1 = hp[b, H + j]
            s2 = hp[b, 2 * H + j]
        if G > 3:
            s3 = hp[b, 3 * H + j]
        point(t, b, j, s0, s1, s2, s3, xp, b_hh, hs, cs, hn_lin, y)
    return _jit(forward_step, kind, dtype)


@functools.lru_cache(maxsize=None)
def backward_point(kind, dtype):
    """Device function: backward step t of sample b, unit j, with r the
    recurrent term dpre_hh[t+1, b] . W_hh[:, j] (used only when the sample was
    active at t+1 and t+1 is not a chunk boundary). Arguments:
    (t, t1, chunk, dy_t1_only, hn_t1_only, b, j, r, dy, d_hn, d_cn, lengths,
    hs, cs, gates, hn_lin, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record).
    ``dy_t1_only``: dy enters at step t1 only (the top layer of a k-step
    window); ``hn_t1_only``: the final-state gradient counts only for samples
    whose last step is t1 (k-step windows: d_hn * [lengths[b]-1 == t1])."""
    ZERO, ONE = _zero_one(dtype)
    relu = kind == RNN_RELU

    if kind == LSTM:
        def lstm_backward_point(t, t1, chunk, dy_t1_only, hn_t1_only, b, j, r, dy, d_hn, d_cn, lengths, hs, cs,
                                gates, hn_lin, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record):
            H = dh.shape[1]
            length = lengths[b]
            d, c, d_in = _incoming(t, t1, chunk, dy_t1_only, hn_t1_only, length, dh[b, j], dc[b, j], r, d_hn[b, j],
                                   d_cn[b, j], dy[t, b, j], ZERO, ONE)
            if record:
                adj_h[t, b, j] = d
                adj_c[t, b, j] = c
            if t < length:
                da_i, da_f, da_g, da_o, dc_prev = cells.lstm_cell_backward(
                    d_in, c, gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j], gates[t, b, 3 * H + j],
                    cs[t + 1, b, j], cs[t, b, j])
                dpre_ih[t, b, j] = da_i
                dpre_ih[t, b, H + j] = da_f
                dpre_ih[t, b, 2 * H + j] = da_g
                dpre_ih[t, b, 3 * H + j] = da_o
                dh[b, j] = ZERO  # no direct path: all of dh_prev goes through W_hh
                dc[b, j] = dc_prev
            else:  # padded: the state gradient is carried
                dh[b, j] = d
                dc[b, j] = c
        fn = lstm_backward_point
    elif kind == GRU:
        def gru_backward_point(t, t1, chunk, dy_t1_only, hn_t1_only, b, j, r, dy, d_hn, d_cn, lengths, hs, cs,
                               gates, hn_lin, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record):
            H = dh.shape[1]
            length = lengths[b]
            d, _, d_in = _incoming(t, t1, chunk, dy_t1_only, hn_t1_only, length, dh[b, j], ZERO, r, d_hn[b, j],
                                   ZERO, dy[t, b, j], ZERO, ONE)
            if record:
                adj_h[t, b, j] = d
            if t < length:
                da_r, da_z, dx_n, dh_n, dh_direct = cells.gru_cell_backward(
                    d_in, gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j], hn_lin[t, b, j], hs[t, b, j])
                dpre_ih[t, b, j] = da_r
                dpre_ih[t, b, H + j] = da_z
                dpre_ih[t, b, 2 * H + j] = dx_n
                dpre_hh[t, b, j] = da_r
                dpre_hh[t, b, H + j] = da_z
                dpre_hh[t, b, 2 * H + j] = dh_n
                dh[b, j] = dh_direct
            else:
                dh[b, j] = d
        fn = gru_backward_point
    else:
        def rnn_backward_point(t, t1, chunk, dy_t1_only, hn_t1_only, b, j, r, dy, d_hn, d_cn, lengths, hs, cs,
                               gates, hn_lin, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record):
            length = lengths[b]
            d, _, d_in = _incoming(t, t1, chunk, dy_t1_only, hn_t1_only, length, dh[b, j], ZERO, r, d_hn[b, j],
                                   ZERO, dy[t, b, j], ZERO, ONE)
            if record:
                adj_h[t, b, j] = d
            if t < length:
                dpre_ih[t, b, j] = cells.rnn_cell_backward(d_in, hs[t + 1, b, j], relu)
                dh[b, j] = ZERO
            else:
                dh[b, j] = d
        fn = rnn_backward_point
    return cuda.jit(device=True, inline="always")(fn)


@functools.lru_cache(maxsize=None)
def backward_step_kernel(kind, dtype):
    """Backward step kernel, one thread per (b, j); rec = dpre_hh[t+1] W_hh
    [B, H] from the previous step's GEMM. Arguments (same for every kind;
    placeholders where unused): (t, t1, chunk, dy_t1_only, hn_t1_only, dy,
    d_hn, d_cn, lengths, hs, cs, gates, hn_lin, rec, dh, dc, dpre_ih, dpre_hh,
    adj_h, adj_c, record)."""
    point = backward_point(kind, dtype)

    def backward_step(t, t1, chunk, dy_t1_only, hn_t1_only, dy, d_hn, d_cn, lengths, hs, cs, gates, hn_lin, rec,
                      dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record):
        B, H = dh.shape[0], dh.shape[1]
        idx = cuda.grid(1)
        if idx >= B * H:
            return
        b = idx // H
        j = idx - b * H
        point(t, t1, chunk, dy_t1_only, hn_t1_only, b, j, rec[b, j], dy, d_hn, d_cn, lengths, hs, cs, gates,
              hn_lin, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record)
    return _jit(backward_step, kind, dtype)


# --- small elementwise kernels -------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def elementwise_kernels(dtype):
    """Kernels of one dtype, by name: finish_backward, skip_projection,
    sum_gate_blocks, copy_time, zero_padding, fill, add, copy. Grid-stride
    loops (one pass per thread on a GPU; a few threads cover everything in the
    simulator). Each is launched through a function below."""
    ZERO, _ = _zero_one(dtype)

    def finish_backward(t0, lengths, rec, dh):
        """dh += rec (= dpre_hh[t0] W_hh) for samples active at t0: the state
        gradient entering the sweep's first step."""
        B, H = dh.shape[0], dh.shape[1]
        for idx in range(cuda.grid(1), B * H, cuda.gridsize(1)):
            b = idx // H
            j = idx - b * H
            if t0 < lengths[b]:
                dh[b, j] += rec[b, j]

    def skip_projection(x, b_ih, xp):
        """Skip-input mode: xp[t, b, g*I + i] = x[t, b, i] + b_ih[g*I + i]."""
        T, B, GH = xp.shape[0], xp.shape[1], xp.shape[2]
        I = x.shape[2]
        for idx in range(cuda.grid(1), T * B * GH, cuda.gridsize(1)):
            r = idx // GH
            col = idx - r * GH
            t = r // B
            b = r - t * B
            xp[t, b, col] = x[t, b, col % I] + b_ih[col]

    def sum_gate_blocks(dpre, t0, out, accumulate):
        """Skip-input dx: out[n, b, i] (+)= sum_g dpre[t0 + n, b, g*I + i]."""
        n_steps, B, I = out.shape[0], out.shape[1], out.shape[2]
        G = dpre.shape[2] // I
        for idx in range(cuda.grid(1), n_steps * B * I, cuda.gridsize(1)):
            r = idx // I
            i = idx - r * I
            n = r // B
            b = r - n * B
            s = dpre[t0 + n, b, i]
            for g in range(1, G):
                s += dpre[t0 + n, b, g * I + i]
            if accumulate:
                s = out[n, b, i] + s
            out[n, b, i] = s

    def copy_time(src, src_col, dst, dst_col, width, rev, use_rev, t0, accumulate):
        """dst[t, b, dst_col + k] (+)= src[s(t, b) - t0, b, src_col + k] for t in
        t0..t0+n-1 (n = src steps), k < width; s(t, b) = rev[t, b] (the per-sample
        time reversal, an involution) or t."""
        n_steps, B = src.shape[0], src.shape[1]
        for idx in range(cuda.grid(1), n_steps * B * width, cuda.gridsize(1)):
            r = idx // width
            k = idx - r * width
            tt = r // B
            b = r - tt * B
            t = t0 + tt
            s = rev[t, b] if use_rev else t
            v = src[s - t0, b, src_col + k]
            if accumulate:
                v = dst[t, b, dst_col + k] + v
            dst[t, b, dst_col + k] = v

    def zero_padding(x, lengths):
        """x[t, b, :] = 0 at padded steps t >= lengths[b], in place."""
        T, B, I = x.shape[0], x.shape[1], x.shape[2]
        for idx in range(cuda.grid(1), T * B * I, cuda.gridsize(1)):
            r = idx // I
            t = r // B
            b = r - t * B
            if t >= lengths[b]:
                x[t, b, idx - r * I] = ZERO

    def fill(a, value):
        for idx in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
            a[idx] = value

    def add(src, dst):
        """dst += src (flat views)."""
        for idx in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
            dst[idx] = dst[idx] + src[idx]

    def copy(src, dst):
        for idx in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
            dst[idx] = src[idx]

    kernels = {}
    for fn in (finish_backward, skip_projection, sum_gate_blocks, copy_time, zero_padding, fill, add, copy):
        fn.__name__ = fn.__qualname__ = f"{fn.__name__}_{dtype}"
        kernels[fn.__name__.rsplit("_", 1)[0]] = jit_kernel(fn, MAX_THREADS)
    return kernels


def _ew(dtype, name):
    return elementwise_kernels(np.dtype(dtype).name)[name]


def _run(kernel, n, args):
    """Launch a grid-stride kernel over n items."""
    threads = threads_for(n, MAX_THREADS)
    launch(kernel, grid_for(n, threads), threads, args)


def _run_per_item(kernel, n, args):
    """Launch a one-thread-per-item kernel over n items."""
    threads = min(MAX_THREADS, n) if SIMULATOR else threads_for(n, MAX_THREADS)
    launch(kernel, blocks_for(n, threads), threads, args)


def forward_step(kind, t, xp, hp, b_hh, lengths, hs, cs, hn_lin, y):
    kernel = forward_step_kernel(kind, np.dtype(hs.dtype).name)
    _run_per_item(kernel, hs.shape[1] * hs.shape[2], (t, xp, hp, b_hh, lengths, hs, cs, hn_lin, y))


def backward_step(kind, t, t1, chunk, dy_t1_only, hn_t1_only, dy, d_hn, d_cn, lengths, hs, cs, gates, hn_lin,
                  rec, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record):
    kernel = backward_step_kernel(kind, np.dtype(dh.dtype).name)
    _run_per_item(kernel, dh.shape[0] * dh.shape[1],
                  (t, t1, chunk, bool(dy_t1_only), bool(hn_t1_only), dy, d_hn, d_cn, lengths, hs, cs, gates, hn_lin,
                   rec, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, bool(record)))


def finish_backward(t0, lengths, rec, dh):
    _run(_ew(dh.dtype, "finish_backward"), dh.shape[0] * dh.shape[1], (t0, lengths, rec, dh))


def skip_projection(x, b_ih, xp):
    _run(_ew(xp.dtype, "skip_projection"), xp.shape[0] * xp.shape[1] * xp.shape[2], (x, b_ih, xp))


def sum_gate_blocks(dpre, t0, out, accumulate):
    _run(_ew(out.dtype, "sum_gate_blocks"), out.shape[0] * out.shape[1] * out.shape[2],
         (dpre, t0, out, bool(accumulate)))


def copy_time(src, dst, src_col=0, dst_col=0, width=None, rev=None, t0=0, accumulate=False):
    """See the kernel; ``rev`` None means no reversal (a dummy is passed)."""
    from .matmul import dummy
    width = src.shape[2] - src_col if width is None else width
    use_rev = rev is not None
    rev = rev if use_rev else dummy(np.int64, 2)
    _run(_ew(dst.dtype, "copy_time"), src.shape[0] * src.shape[1] * width,
         (src, src_col, dst, dst_col, width, rev, use_rev, t0, bool(accumulate)))


def zero_padding(x, lengths):
    _run(_ew(x.dtype, "zero_padding"), x.shape[0] * x.shape[1] * x.shape[2], (x, lengths))


def fill(flat, value):
    _run(_ew(flat.dtype, "fill"), flat.shape[0], (flat, flat.dtype.type(value)))


def add(src_flat, dst_flat):
    _run(_ew(dst_flat.dtype, "add"), dst_flat.shape[0], (src_flat, dst_flat))


def copy(src_flat, dst_flat):
    _run(_ew(dst_flat.dtype, "copy"), dst_flat.shape[0], (src_flat, dst_flat))
