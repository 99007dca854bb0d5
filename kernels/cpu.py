"""Numba CPU time loops for one recurrent layer in one direction.

Per layer, as haste does it: one GEMM for the input projection of all T*B
columns, then per step one recurrent GEMM and one pass of the scalar cell
math from :mod:`rnnbench.kernels.cells`; backward mirrored, with the
weight-gradient and dx GEMMs deferred until after the sweep, over all its
steps at once. Every GEMM goes through ``np.dot`` (SciPy's BLAS) inside the
compiled code, so one BLAS thread pool serves a whole layer.

Shapes (G gates, so GH = G*H):

- ``xp``: [T, B, GH]   input projections W_ih x_t + b_ih of every step
- ``hs``: [T+1, B, H]  hs[0] = h0, hs[t+1] = state after step t
- ``cs``: [T+1, B, H]  LSTM cell states, same layout (unused otherwise)
- ``gates``: [T, B, GH] activated gates (LSTM i,f,g,o; GRU r,z,n)
- ``hn_lin``: [T, B, H] GRU only: W_hn h_t + b_hn, needed by the backward
- ``y``: [T, B, H]     outputs, zero at padded steps

Compiled with ``error_model="numpy"``: a division by zero gives inf/NaN, as
in NumPy, instead of raising inside a kernel (and keeps loops vectorisable).

A sample b is active at step t when t < lengths[b]; at padded steps its state
is carried unchanged, its output is zero and it receives no gradient.
"""
import numpy as np
from numba import njit

from .cells import (GRU, LSTM, RNN_RELU, gru_cell, gru_cell_backward, lstm_cell,
                    lstm_cell_backward, rnn_cell, rnn_cell_backward)


@njit(cache=True, error_model="numpy")
def _rnn_step(t, use_relu, xp, hp, lengths, hs, y):
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        for j in range(hs.shape[2]):
            h = rnn_cell(xp[t, b, j] + hp[b, j], use_relu)
            hs[t + 1, b, j] = h
            y[t, b, j] = h


@njit(cache=True, error_model="numpy")
def _lstm_step(t, xp, hp, lengths, hs, cs, gates, y):
    H = hs.shape[2]
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        for j in range(H):
            i, f, g, o, c, h = lstm_cell(
                xp[t, b, j] + hp[b, j], xp[t, b, H + j] + hp[b, H + j],
                xp[t, b, 2 * H + j] + hp[b, 2 * H + j], xp[t, b, 3 * H + j] + hp[b, 3 * H + j],
                cs[t, b, j])
            gates[t, b, j] = i
            gates[t, b, H + j] = f
            gates[t, b, 2 * H + j] = g
            gates[t, b, 3 * H + j] = o
            cs[t + 1, b, j] = c
            hs[t + 1, b, j] = h
            y[t, b, j] = h


@njit(cache=True, error_model="numpy")
def _gru_step(t, xp, hp, lengths, hs, gates, hn_lin, y):
    H = hs.shape[2]
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        for j in range(H):
            r, z, n, h = gru_cell(xp[t, b, j] + hp[b, j], xp[t, b, H + j] + hp[b, H + j],
                                  xp[t, b, 2 * H + j], hp[b, 2 * H + j], hs[t, b, j])
            gates[t, b, j] = r
            gates[t, b, H + j] = z
            gates[t, b, 2 * H + j] = n
            hn_lin[t, b, j] = hp[b, 2 * H + j]
            hs[t + 1, b, j] = h
            y[t, b, j] = h


@njit(cache=True, error_model="numpy")
def forward_layer(kind, x, w_ih, b_ih, w_hh, b_hh, lengths, hs, cs, gates, hn_lin, y):
    """Run all T steps of one layer: xp = x W_ih^T + b_ih for all steps at
    once, then per step hp = h_t W_hh^T + b_hh and the cell.

    ``x``: [T, B, I]; ``w_ih``: [GH, I]; ``w_hh``: [GH, H]; ``y`` must be
    zero-initialised; hs[0] (and cs[0]) hold the initial state. Fills hs, cs,
    gates, hn_lin, y.
    """
    T, B, I = x.shape
    GH = w_ih.shape[0]
    xp = np.dot(x.reshape(T * B, I), w_ih.T).reshape(T, B, GH)
    xp += b_ih
    w_hh_t = np.ascontiguousarray(w_hh.T)
    hp = np.empty((B, GH), dtype=xp.dtype)
    for t in range(T):
        np.dot(hs[t], w_hh_t, hp)
        hp += b_hh
        hs[t + 1] = hs[t]  # padded samples carry their state; active ones are overwritten
        if kind == LSTM:
            cs[t + 1] = cs[t]
            _lstm_step(t, xp, hp, lengths, hs, cs, gates, y)
        elif kind == GRU:
            _gru_step(t, xp, hp, lengths, hs, gates, hn_lin, y)
        else:
            _rnn_step(t, kind == RNN_RELU, xp, hp, lengths, hs, y)


@njit(cache=True, error_model="numpy")
def _rnn_step_backward(t, use_relu, lengths, hs, dh, dpre):
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        for j in range(dh.shape[1]):
            dpre[t, b, j] = rnn_cell_backward(dh[b, j], hs[t + 1, b, j], use_relu)
            dh[b, j] = 0.0  # the RNN has no direct path: all of dh_prev goes through W_hh


@njit(cache=True, error_model="numpy")
def _lstm_step_backward(t, lengths, cs, gates, dh, dc, dpre):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        for j in range(H):
            da_i, da_f, da_g, da_o, dc_prev = lstm_cell_backward(
                dh[b, j], dc[b, j], gates[t, b, j], gates[t, b, H + j],
                gates[t, b, 2 * H + j], gates[t, b, 3 * H + j], cs[t + 1, b, j], cs[t, b, j])
            dpre[t, b, j] = da_i
            dpre[t, b, H + j] = da_f
            dpre[t, b, 2 * H + j] = da_g
            dpre[t, b, 3 * H + j] = da_o
            dc[b, j] = dc_prev
            dh[b, j] = 0.0


@njit(cache=True, error_model="numpy")
def _gru_step_backward(t, lengths, hs, gates, hn_lin, dh, dpre_ih, dpre_hh):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        for j in range(H):
            da_r, da_z, dx_n, dh_n, dh_direct = gru_cell_backward(
                dh[b, j], gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j],
                hn_lin[t, b, j], hs[t, b, j])
            dpre_ih[t, b, j] = da_r
            dpre_ih[t, b, H + j] = da_z
            dpre_ih[t, b, 2 * H + j] = dx_n
            dpre_hh[t, b, j] = da_r
            dpre_hh[t, b, H + j] = da_z
            dpre_hh[t, b, 2 * H + j] = dh_n
            dh[b, j] = dh_direct


@njit(cache=True, error_model="numpy")
def backward_layer(kind, t0, t1, chunk, dy, d_hn, d_cn, lengths, x, w_ih, w_hh, hs, cs, gates,
                   hn_lin, dpre_ih, dpre_hh, dh, dc, dw_ih, dw_hh, db_ih, db_hh, adj_h, adj_c,
                   want_dw, want_dx):
    """Backpropagate through steps t1 down to t0 of one layer, then add the
    weight gradients of those steps to dw_ih, dw_hh, db_ih, db_hh (if
    ``want_dw``) and return dx: [t1-t0+1, B, I], the gradient of the layer
    input x at those steps (if ``want_dx``; else an empty array).

    ``dy``: [T, B, H] gradient arriving at each output (read at active steps
    only); ``d_hn``/``d_cn``: [B, H] gradient of the final state, injected at
    step lengths[b]-1; ``w_hh``: [GH, H]. ``chunk`` > 0 drops the state
    gradient at every chunk boundary (steps that are multiples of ``chunk``).

    Writes dL/d(pre-activation) of steps t0..t1 into ``dpre_ih`` (input side)
    and ``dpre_hh`` (recurrent side; the same array as ``dpre_ih`` except for
    the GRU) -- rows of padded samples must be zero on entry. ``dh``/``dc``
    ([B, H], zero on entry) end as the gradient of the state entering t0.
    Per step: dh_prev = dh_direct + dpre_hh[t] W_hh.

    ``adj_h``/``adj_c``: [T, B, H] to record, at each step t, the adjoint of
    the state after step t as a coordinate of the network's Markov state:
    the gradient coming back through step t+1 plus the final-state gradient,
    before dy[t] (the path through the layer above at the same step) is
    added. Pass (0, 0, 0)-shaped arrays to record nothing.
    """
    B, H = dh.shape
    rec = np.empty((B, H), dtype=dh.dtype)
    for t in range(t1, t0 - 1, -1):
        if chunk > 0 and t < t1 and (t + 1) % chunk == 0:
            dh[:] = 0.0
            dc[:] = 0.0
        for b in range(B):
            if t == lengths[b] - 1:
                dh[b] += d_hn[b]
                dc[b] += d_cn[b]
        if adj_h.shape[0] > 0:
            adj_h[t] = dh
            adj_c[t] = dc
        for b in range(B):
            if t < lengths[b]:
                dh[b] += dy[t, b]
        if kind == LSTM:
            _lstm_step_backward(t, lengths, cs, gates, dh, dc, dpre_ih)
        elif kind == GRU:
            _gru_step_backward(t, lengths, hs, gates, hn_lin, dh, dpre_ih, dpre_hh)
        else:
            _rnn_step_backward(t, kind == RNN_RELU, lengths, hs, dh, dpre_ih)
        np.dot(dpre_hh[t], w_hh, rec)
        for b in range(B):
            if t < lengths[b]:
                dh[b] += rec[b]
    n = t1 - t0 + 1
    GH = dpre_ih.shape[2]
    p_ih = dpre_ih[t0:t1 + 1].reshape(n * B, GH)
    p_hh = dpre_hh[t0:t1 + 1].reshape(n * B, GH)
    if want_dw:
        dw_ih += np.dot(p_ih.T, x[t0:t1 + 1].reshape(n * B, x.shape[2]))
        dw_hh += np.dot(p_hh.T, hs[t0:t1 + 1].reshape(n * B, H))
        db_ih += p_ih.sum(axis=0)
        db_hh += p_hh.sum(axis=0)
    if want_dx:
        return np.dot(p_ih, w_ih).reshape(n, B, x.shape[2])
    return np.empty((0, B, x.shape[2]), dtype=x.dtype)
