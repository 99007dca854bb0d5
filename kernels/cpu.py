"""Numba CPU time loops for one recurrent layer in one direction.

Per layer, as haste does it: one GEMM for the input projection of all T*B
columns, then per step one recurrent product (a gemm, or a gemv per sample
for the smallest batches) and one pass of the scalar cell math from
:mod:`rnnbench.kernels.cells`; backward mirrored, with the weight-gradient and
dx GEMMs deferred until after the sweep, over all its steps at once. Every
product runs through SciPy's BLAS (:func:`rnnbench.kernels.blas.gemm_rows`,
and np.dot for gemv, as Numba's own np.dot does) inside the compiled code, so
one BLAS thread pool serves a whole layer.

Shapes (G gates, so GH = G*H):

- ``xp``: [T, B, GH]   pre-activations: W_ih x_t + b_ih + b_hh for every step at
  once, then W_hh h_t added at step t (GRU: without the n block, kept in hn_lin)
- ``hs``: [T+1, B, H]  hs[0] = h0, hs[t+1] = state after step t
- ``cs``: [T+1, B, H]  LSTM cell states, same layout (unused otherwise)
- ``gates``: [T, B, GH] activated gates (LSTM i,f,g,o; GRU r,z,n), written
  over xp in place
- ``hn_lin``: [T, B, H] GRU only: W_hn h_t + b_hn, needed by the backward
- the outputs are hs[1:], zero at padded steps (the backend makes that copy
  only when some sample is padded)

Compiled with ``error_model="numpy"``: a division by zero gives inf/NaN, as
in NumPy, instead of raising inside a kernel (and keeps loops vectorisable).

A sample b is active at step t when t < lengths[b]; at padded steps its state
is carried unchanged, its output is zero and it receives no gradient.
"""
import numpy as np
from numba import njit

from .blas import gemm_rows
from .cache import stamp_with_kernel_sources
from .cells import (GRU, LSTM, RNN_RELU, gru_cell, gru_cell_backward, lstm_cell,
                    lstm_cell_backward, rnn_cell, rnn_cell_backward)
from .transpose import VECTOR_BYTES, add_transposed_block


# The recurrent product of a small batch, measured with OpenBLAS (SciPy's) on
# 2 cores (AMD Zen 3, AVX2; H 64..1024, B 1..64, float32): one gemm written
# feature-major, out = W X^T: [N, B] with the weight untransposed and the batch
# as BLAS's M dimension, runs 1.3-2x faster than any other orientation, forward
# (W_hh) and backward (W_hh^T, transposed once per tape); below a few samples
# one gemv per sample beats any gemm (LSTM, B = 1, H = 256: 27 against 66 us a
# step; batch-major gemm: 199 us).
GEMV_MAX_BATCH = 2
GEMV_MAX_BATCH_LARGE = 4      # when the weight holds at least GEMV_LARGE_WEIGHT elements
GEMV_LARGE_WEIGHT = 1 << 20


@njit(cache=True)
def per_sample_gemv(B, weight_size):
    """Whether the recurrent product of B samples runs as B gemv calls."""
    return B <= GEMV_MAX_BATCH or (B <= GEMV_MAX_BATCH_LARGE and weight_size >= GEMV_LARGE_WEIGHT)


@njit(cache=True, error_model="numpy")
def recurrent_product(w, h, row, out):
    """out = w h^T: [N, B] (feature-major) from w: [N, K] (C-contiguous) and a
    batch h: [B, K]; ``row``: [N] scratch for the per-sample gemv path."""
    if per_sample_gemv(h.shape[0], w.size):
        for b in range(h.shape[0]):
            np.dot(w, h[b], row)
            out[:, b] = row
    else:
        gemm_rows(0, 1, 1.0, w, h, 0.0, out)


@njit(cache=True, error_model="numpy")
def add_transposed(src, t, lengths, dst):
    """dst[b, k] += src[k, b] for the samples active at step t (t < lengths[b]);
    src: [K, B], dst: [B, K]. Blocks of N samples that are all active go
    through :func:`add_transposed_block` (N x N elements transposed in
    registers, N = 8 float32 or 4 float64); the remaining features and
    samples, and arrays whose rows are strided, element by element. Measured
    (Zen 3, one step, ns an element, blocks against element by element):
    float32 0.32 against 0.77 at K = 1024, B = 32 and 0.28 against 0.80 at
    K = 2048, B = 64; float64 0.47 against 0.84 at K = 1024, B = 32."""
    K, B = src.shape
    N = VECTOR_BYTES // src.itemsize
    unit_rows = src.strides[1] == src.itemsize and dst.strides[1] == dst.itemsize
    for b0 in range(0, B, N):
        b1 = min(b0 + N, B)
        in_blocks = 0  # features done by blocks for samples b0..b1
        if b1 - b0 == N and unit_rows and lengths[b0:b1].min() > t:
            for k0 in range(0, K - N + 1, N):
                add_transposed_block(src, k0, b0, dst)
            in_blocks = K - K % N
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            row = dst[b]
            for k in range(in_blocks, K):
                row[k] += src[k, b]


@njit(cache=True, error_model="numpy")
def _add_column_sums(p, out):
    """out += p.sum(axis=0), one row at a time (vectorised; Numba's sum(axis=0) is not)."""
    for i in range(p.shape[0]):
        out += p[i]


@njit(cache=True, error_model="numpy")
def _rnn_step(t, use_relu, xp, lengths, hs):
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        a, h_new = xp[t, b], hs[t + 1, b]
        for j in range(hs.shape[2]):
            h_new[j] = rnn_cell(a[j], use_relu)


@njit(cache=True, error_model="numpy")
def _lstm_step(t, xp, lengths, hs, cs):
    H = hs.shape[2]
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        a = xp[t, b]  # pre-activations; the loop below overwrites them with the gates
        # one view per gate: LLVM then proves (at run time) that the rows do not
        # overlap and vectorises the loop; indexing a[H + j] on one row stays scalar
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        c_prev, c_new, h_new = cs[t, b], cs[t + 1, b], hs[t + 1, b]
        for j in range(H):
            i, f, g, o, c, h = lstm_cell(a_i[j], a_f[j], a_g[j], a_o[j], c_prev[j])
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
            c_new[j] = c
            h_new[j] = h


@njit(cache=True, error_model="numpy")
def _gru_step(t, xp, lengths, hs, hn_lin):
    H = hs.shape[2]
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        a, h_prev = xp[t, b], hs[t, b]
        a_r, a_z, x_n = a[:H], a[H:2 * H], a[2 * H:]  # one view per gate (see _lstm_step)
        h_n, h_new = hn_lin[t, b], hs[t + 1, b]
        for j in range(H):
            r, z, n, h = gru_cell(a_r[j], a_z[j], x_n[j], h_n[j], h_prev[j])
            a_r[j] = r  # the gates overwrite their pre-activations
            a_z[j] = z
            x_n[j] = n
            h_new[j] = h


@njit(cache=True, error_model="numpy")
def forward_layer(kind, skip_input, x, w_ih, b_ih, w_hh, b_hh, lengths, xp, hs, cs, hn_lin):
    """Run all T steps of one layer: xp = x W_ih^T + b_ih + b_hh for all steps
    at once, then per step the recurrent product W_hh h_t (feature-major, see
    :func:`recurrent_product`), added into the step's pre-activations (GRU:
    its n block into hn_lin, with b_hn), and the cell.

    ``skip_input``: cuDNN's CUDNN_SKIP_INPUT (DeepBench's mode): there is no
    W_ih; x (I = H) enters every gate block as it is, xp = [x, .., x] + b_ih,
    and ``w_ih`` is not read.

    ``x``: [T, B, I]; ``w_ih``: [GH, I]; ``w_hh``: [GH, H]; hs[0] (and
    cs[0]) hold the initial state. Fills hs, cs, hn_lin and ``xp``: [T, B, GH]
    (any content on entry): the pre-activations, then the activated gates
    over them (lstm, gru; in place, so the cell loop touches few arrays and
    vectorises), meaningful at active steps only. The layer's outputs are
    hs[1:], but for their zeros at padded steps.
    """
    T, B, I = x.shape
    GH = b_ih.shape[0]
    if skip_input:
        for g in range(GH // I):
            xp[:, :, g * I:(g + 1) * I] = x
    else:
        gemm_rows(0, 1, 1.0, x.reshape(T * B, I), w_ih, 0.0, xp.reshape(T * B, GH))
    # b_hh joins b_ih here, once for all steps, except the GRU's n block (r scales W_hn h + b_hn)
    per_step = 2 * hs.shape[2] if kind == GRU else GH
    bias = b_ih.copy()
    bias[:per_step] += b_hh[:per_step]
    xp += bias
    if kind == GRU:
        hn_lin[:] = b_hh[per_step:]  # W_hn h_t is added to b_hn per step
    hp = np.empty((GH, B), dtype=xp.dtype)
    row = np.empty(GH, dtype=xp.dtype)
    padded_from = lengths.min()
    for t in range(T):
        recurrent_product(w_hh, hs[t], row, hp)
        if kind == GRU:  # W_hr h, W_hz h join the pre-activations; W_hn h + b_hn is kept apart
            add_transposed(hp[:per_step], t, lengths, xp[t, :, :per_step])
            add_transposed(hp[per_step:], t, lengths, hn_lin[t])
        else:
            add_transposed(hp, t, lengths, xp[t])
        if t >= padded_from:  # padded samples carry their state; the cell overwrites the active ones
            hs[t + 1] = hs[t]
            if kind == LSTM:
                cs[t + 1] = cs[t]
        if kind == LSTM:
            _lstm_step(t, xp, lengths, hs, cs)
        elif kind == GRU:
            _gru_step(t, xp, lengths, hs, hn_lin)
        else:
            _rnn_step(t, kind == RNN_RELU, xp, lengths, hs)


@njit(cache=True, error_model="numpy")
def _rnn_step_backward(t, use_relu, lengths, hs, dh, dpre):
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        dh_row, h_row, dpre_row = dh[b], hs[t + 1, b], dpre[t, b]
        for j in range(dh.shape[1]):
            dpre_row[j] = rnn_cell_backward(dh_row[j], h_row[j], use_relu)
            dh_row[j] = 0.0  # the RNN has no direct path: all of dh_prev goes through W_hh


@njit(cache=True, error_model="numpy")
def _lstm_step_backward(t, lengths, cs, gates, dh, dc, dpre):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        dh_row, dc_row, gate_row, dpre_row = dh[b], dc[b], gates[t, b], dpre[t, b]
        c_row, c_prev = cs[t + 1, b], cs[t, b]
        i, f, g, o = gate_row[:H], gate_row[H:2 * H], gate_row[2 * H:3 * H], gate_row[3 * H:]
        d_i, d_f, d_g, d_o = dpre_row[:H], dpre_row[H:2 * H], dpre_row[2 * H:3 * H], dpre_row[3 * H:]
        for j in range(H):
            da_i, da_f, da_g, da_o, dc_prev = lstm_cell_backward(dh_row[j], dc_row[j], i[j], f[j], g[j], o[j],
                                                                 c_row[j], c_prev[j])
            d_i[j] = da_i
            d_f[j] = da_f
            d_g[j] = da_g
            d_o[j] = da_o
            dc_row[j] = dc_prev
            dh_row[j] = 0.0


@njit(cache=True, error_model="numpy")
def _gru_step_backward(t, lengths, hs, gates, hn_lin, dh, dpre_ih, dpre_hh):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        dh_row, gate_row, hn_row, h_prev = dh[b], gates[t, b], hn_lin[t, b], hs[t, b]
        r, z, n = gate_row[:H], gate_row[H:2 * H], gate_row[2 * H:]
        ih_row, hh_row = dpre_ih[t, b], dpre_hh[t, b]
        ih_r, ih_z, ih_n = ih_row[:H], ih_row[H:2 * H], ih_row[2 * H:]
        hh_r, hh_z, hh_n = hh_row[:H], hh_row[H:2 * H], hh_row[2 * H:]
        for j in range(H):
            da_r, da_z, dx_n, dh_n, dh_direct = gru_cell_backward(dh_row[j], r[j], z[j], n[j], hn_row[j], h_prev[j])
            ih_r[j] = da_r
            ih_z[j] = da_z
            ih_n[j] = dx_n
            hh_r[j] = da_r
            hh_z[j] = da_z
            hh_n[j] = dh_n
            dh_row[j] = dh_direct


@njit(cache=True, error_model="numpy")
def backward_layer(kind, skip_input, t0, t1, chunk, dy, d_hn, d_cn, lengths, x, w_ih, w_hh_t, hs, cs, gates,
                   hn_lin, dpre_ih, dpre_hh, dh, dc, adj_h, adj_c, dx):
    """Backward-data (DeepBench's split) of one layer: backpropagate through
    steps t1 down to t0 and write ``dx``: [t1-t0+1, B, I] (any content on
    entry), the gradient of the layer input x at those steps (a (0, B, I)
    array: not wanted). The weight gradients are left to
    :func:`weight_gradients`, which reads the pre-activation gradients this
    sweep writes.

    ``dy``: [T, B, H] gradient arriving at each output (read at active steps
    only); ``d_hn``/``d_cn``: [B, H] gradient of the final state, injected at
    step lengths[b]-1; ``w_hh_t``: [H, GH], W_hh transposed (C-contiguous, so
    the per-step product runs in its fastest orientation, see
    :func:`recurrent_product`). ``chunk`` > 0 drops the state
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
    rec = np.empty((H, B), dtype=dh.dtype)
    row = np.empty(H, dtype=dh.dtype)
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
        recurrent_product(w_hh_t, dpre_hh[t], row, rec)
        add_transposed(rec, t, lengths, dh)
    I = x.shape[2]
    if dx.shape[0] == 0:
        return
    n = t1 - t0 + 1
    if skip_input:  # dx = the sum of the gate blocks
        dx[:] = dpre_ih[t0:t1 + 1, :, :I]
        for g in range(1, dpre_ih.shape[2] // I):
            dx += dpre_ih[t0:t1 + 1, :, g * I:(g + 1) * I]
        return
    gemm_rows(0, 0, 1.0, dpre_ih[t0:t1 + 1].reshape(n * B, dpre_ih.shape[2]), w_ih, 0.0, dx.reshape(n * B, I))


@njit(cache=True, error_model="numpy")
def weight_gradients(skip_input, t0, t1, x, hs, dpre_ih, dpre_hh, dw_ih, dw_hh, db_ih, db_hh):
    """Backward-weights of steps t0..t1, two GEMMs over all their T*B columns
    at once (haste's deferred weight gradients)::

        dW_ih += sum_t dpre_ih[t]^T x[t]      db_ih += sum_t,b dpre_ih[t, b]
        dW_hh += sum_t dpre_hh[t]^T h_{t-1}   db_hh += sum_t,b dpre_hh[t, b]

    ``dpre_ih``/``dpre_hh``: [T, B, GH] as written by :func:`backward_layer`;
    ``x``: [T, B, I]; ``hs``: [T+1, B, H] (hs[t] is the state entering step t).
    With ``skip_input`` there is no W_ih and ``dw_ih`` is not touched.
    """
    n, B, GH = t1 - t0 + 1, dpre_ih.shape[1], dpre_ih.shape[2]
    p_ih = dpre_ih[t0:t1 + 1].reshape(n * B, GH)
    p_hh = dpre_hh[t0:t1 + 1].reshape(n * B, GH)
    if not skip_input:
        gemm_rows(1, 0, 1.0, p_ih, x[t0:t1 + 1].reshape(n * B, x.shape[2]), 1.0, dw_ih)
    gemm_rows(1, 0, 1.0, p_hh, hs[t0:t1 + 1].reshape(n * B, hs.shape[2]), 1.0, dw_hh)
    _add_column_sums(p_ih, db_ih)
    _add_column_sums(p_hh, db_hh)


stamp_with_kernel_sources(globals())  # the cache also goes stale on edits to cells.py etc. (kernels/cache.py)
