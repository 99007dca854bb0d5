"""Numba CPU time loops for one recurrent layer in one direction.

Per layer, as haste does it: one product for the input projection of all
T*B rows, then per step one recurrent product and the scalar cell math from
:mod:`rnnbench.kernels.cells` over the step's rows; backward mirrored, with the dx and
weight-gradient products deferred until after the sweep, over all its steps
at once. Every product but the weight gradients' runs in
:mod:`rnnbench.kernels.panels` (W_ih and W_hh packed once per call, the
results added straight into the batch-major rows the cells read); the
weight gradients go through SciPy's BLAS
(:func:`rnnbench.kernels.blas.gemm_rows`), one thread per member.

Where the LSTM forward's time goes (two threads, float32, on the 2-core Zen
4, the parts timed interleaved in one process): H = 256, B = 32, T = 100
19.4 ms = the projection 8.7 (194 GFLOP/s) + the steps 11.1 (products 9.0
at 187 GFLOP/s, cells 2.1, 2.6 ns a unit; 1.9 in L1); H = 512, B = 16, T =
25 9.8 = 4.6 + 4.9 (cells 0.5); B = 64, T = 50 71.4 = 33.1 + 36.6 (cells
3.7). The micro-kernel alone, its panels in L2, runs at 214-221 on the two
cores. Tried against this loop (before UNIT_GROUP, below) and not kept
(time ratios, same process, interleaved; below 1 = faster): the input
projection moved into the time loop, per step onto the member's own columns
(0.95 at H = 256, B = 32; 1.01 at H = 512; 1.11 at H = 1024, B = 16; 1.06
at B = 8: both weights then stream through L2 every step); the projection
split by units, so that a member's steps read only what it wrote and no
barrier follows it (0.98-1.02); a software prefetch of xp[t + 1] during
step t, before the products or before the cells (0.98-1.03); the products
and cells of a step in groups of 6 to 18 rows, so the cells read L1
(1.09-1.33: the cell loops over the groups' strided views vectorise worse).
Later, on the 2-core Zen 3 (two threads, one process, interleaved, with the
unit groups): each member's products over the units of h_{t+1} it wrote
itself run before the barrier, the rest after it, so that a member waiting
for the other has work (0.99-1.06 at B >= 16, 1.24-1.27 at batch 1: two half-K
passes over every panel, and the batch-1 products wait on memory either
way). The same loop with no barrier at all, its results wrong, took 0.93-0.96
of the time (vanilla RNN and LSTM, H = 256, B = 32; 1.00 at H = 512, B = 16):
all that any scheme for the waits could win. Packing W_ih only once (a
bound for a projection that reads W_ih unpacked): 0.97-0.99 (rounds paired).
The input projection moved into the time loop again, each unit group's
part of step t just before its products (every kind, H whole panels): vanilla
RNN 0.99-1.16, GRU 1.01-1.12, LSTM at B = 32 1.00, at batch 1 1.46-1.54. A
software prefetch of the other member's half of h_t right after each
barrier: 0.98-1.04. Timed with the cycle counter, the barrier waits take
1-5% of a member's time loop (vanilla RNN, LSTM, H = 256..512), which runs
at 158 GFLOP/s (ReLU, H = 256, B = 32) where a loop of independent fused
multiply-adds reaches 204 on the two cores.

Each function runs as ``member`` of a ``team`` of threads
(:mod:`rnnbench.kernels.team`; member 0 of 1 runs alone) and does its share:
the time loops split by hidden units u0..u1 (P-aligned, P the panel width):
the member packs and multiplies its panels of W_hh, runs the cells of its
units and meets the others at :func:`rnnbench.kernels.team.barrier` (``sync``:
int64[1], zero on entry) whenever the next product reads what all of them
wrote; the products outside the time loops split by output features.

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
in NumPy, instead of raising inside a kernel (and keeps loops vectorisable);
and ``nogil``, so the members run in parallel. Nothing in them allocates or
raises: a member that stopped early would leave the others at a barrier.

A sample b is active at step t when t < lengths[b]; at padded steps its state
is carried unchanged, its output is zero and it receives no gradient.
"""
from numba import njit

from .blas import gemm_rows
from .cache import stamp_with_kernel_sources
from .cells import (GRU, LSTM, RNN_RELU, gru_cell, gru_cell_backward, lstm_cell_backward, lstm_gates,
                    lstm_state, rnn_cell, rnn_cell_backward)
from .panels import (PANEL_VECTORS, pack_columns, pack_rows, panel_count, panel_is_finite, panel_width,
                     panels_product, panels_product_onto)
from .simd import VECTOR_BYTES
from .team import barrier, share

# Unit panels whose products (every gate's) a forward step runs before their
# cells, group by group, so that the cells read pre-activations the products
# have just written, from L1 rather than L2: GROUP_BYTES of each gate's row,
# 64 units of float32 (LSTM at B = 32: 32 KB of xp), two panels at AVX-512
# and four at AVX2. Two threads, Zen 4 (AVX-512), one process, against all
# the member's products before all its cells (three interleaved runs, the
# same results bit for bit): LSTM H = 256, B = 32 0.985-1.005; H = 512,
# B = 16 0.957-0.994, B = 64 0.916-0.971; H = 1024, B = 16 0.937-0.958;
# B = 8 and batch 1 0.97-1.01; GRU and vanilla RNN 0.99-1.00. One panel a
# group: 0.96-1.04; three: 0.97-1.01. On the 2-core Zen 3 (AVX2), four
# panels against the two it had before (when the group was two panels at
# every width), two threads, one process: LSTM H = 256, B = 32 0.92-0.93;
# H = 512, B = 16 0.96, B = 64 0.95; H = 1024, B = 16 1.01; batch 1 0.96;
# H = 64, B = 8 0.91-0.95; GRU H = 256, B = 32 0.90, H = 512, B = 16 0.86;
# vanilla RNN H = 256, B = 32 0.87. The cells' loops over a group's units
# run 4.9 ns a unit at 32 units, 4.6 at 64 and 4.2 at 256 (one thread, in
# L1, Zen 3). Eight panels: 1.12 at H = 256, B = 32 (one group a member).
GROUP_BYTES = 256
UNIT_GROUP = GROUP_BYTES // (PANEL_VECTORS * VECTOR_BYTES)  # panels a group


def projection_bias(kind, b_ih, b_hh):
    """The bias of the input projection: b_ih + b_hh, but for the GRU's n
    block, b_ih alone (r scales W_hn h + b_hn, which is kept apart)."""
    bias = b_ih + b_hh
    if kind == GRU:
        H = b_ih.shape[0] // 3
        bias[2 * H:] = b_ih[2 * H:]
    return bias


@njit(cache=True, error_model="numpy")
def _add_column_sums(p, out):
    """out += p.sum(axis=0), one row at a time (vectorised; Numba's sum(axis=0) is not)."""
    for i in range(p.shape[0]):
        out += p[i]


@njit(cache=True)
def _is_zero(h):
    """Whether every element of h: [B, H] is 0 (-0 too; NaN is not)."""
    nonzero = False
    for b in range(h.shape[0]):
        row = h[b]
        for j in range(row.shape[0]):
            nonzero |= row[j] != 0.0
    return not nonzero


@njit(cache=True, error_model="numpy")
def _rnn_step(t, use_relu, xp, lengths, hs, u0, u1):
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        a, h_new = xp[t, b, u0:u1], hs[t + 1, b, u0:u1]
        for j in range(u1 - u0):
            h_new[j] = rnn_cell(a[j], use_relu)


@njit(cache=True, error_model="numpy")
def _lstm_step(t, xp, lengths, hs, cs, u0, u1):
    H = hs.shape[2]
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        a = xp[t, b]  # pre-activations; the first loop below overwrites them with the gates
        # one view per gate: LLVM then proves (at run time) that the rows do not
        # overlap and vectorises the loop; indexing a[H + j] on one row stays scalar
        a_i, a_f = a[u0:u1], a[H + u0:H + u1]
        a_g, a_o = a[2 * H + u0:2 * H + u1], a[3 * H + u0:3 * H + u1]
        c_prev, c_new, h_new = cs[t, b, u0:u1], cs[t + 1, b, u0:u1], hs[t + 1, b, u0:u1]
        # two passes: the four gates (independent: the core overlaps their chains of
        # dependent operations), then the state, whose tanh waits on them; one pass
        # of lstm_cell takes 15% longer (3.5 against 3.0 ns a unit in L1, Zen 3)
        for j in range(u1 - u0):
            a_i[j], a_f[j], a_g[j], a_o[j] = lstm_gates(a_i[j], a_f[j], a_g[j], a_o[j])
        for j in range(u1 - u0):
            c, h = lstm_state(a_i[j], a_f[j], a_g[j], a_o[j], c_prev[j])
            c_new[j] = c
            h_new[j] = h


@njit(cache=True, error_model="numpy")
def _gru_step(t, xp, lengths, hs, hn_lin, u0, u1):
    H = hs.shape[2]
    for b in range(xp.shape[1]):
        if t >= lengths[b]:
            continue
        a, h_prev = xp[t, b], hs[t, b, u0:u1]
        a_r, a_z, x_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]  # one view per gate (see _lstm_step)
        h_n, h_new = hn_lin[t, b, u0:u1], hs[t + 1, b, u0:u1]
        for j in range(u1 - u0):
            r, z, n, h = gru_cell(a_r[j], a_z[j], x_n[j], h_n[j], h_prev[j])
            a_r[j] = r  # the gates overwrite their pre-activations
            a_z[j] = z
            x_n[j] = n
            h_new[j] = h


@njit(cache=True, error_model="numpy")
def _input_projection(skip_input, x, w_ih, bias, xp, packed_ih, f0, f1):
    """xp[:, :, f0:f1] = bias + x W_ih[f0:f1]^T; with ``skip_input``, x itself
    in every gate block instead of x W_ih^T. f0 is a multiple of P: W_ih's
    rows f0..f1 are packed into their panels of ``packed_ih`` (K = I).
    Packing included, this beats a one-thread OpenBLAS sgemm per member onto
    a copy of the bias (two members, LSTM H = 512: B = 16, T = 25 4.87
    against 5.21 ms; B = 64, T = 50 38.3 against 39.2)."""
    T, B, I = x.shape
    GH = xp.shape[2]
    if skip_input:
        for g in range(GH // I):
            lo, hi = max(f0, g * I), min(f1, (g + 1) * I)
            if lo < hi:
                xp[:, :, lo:hi] = x[:, :, lo - g * I:hi - g * I] + bias[lo:hi]
        return
    P = panel_width(xp)
    for f in range(f0, f1, P):
        pack_rows(w_ih, f, min(P, f1 - f), packed_ih, f // P)
    panels_product_onto(packed_ih, I, x.reshape(T * B, I), bias, xp.reshape(T * B, GH), f0, f1)


@njit(cache=True, error_model="numpy", nogil=True)
def forward_layer(kind, skip_input, x, w_ih, bias, w_hh, b_hh, lengths, xp, hs, cs, hn_lin, packed, packed_ih,
                  member, team, sync):
    """Run all T steps of one layer: xp = bias + x W_ih^T for all steps at
    once, then per step, UNIT_GROUP unit panels at a time, the recurrent
    product W_hh h_t added into the step's pre-activations (GRU: its n block
    into hn_lin, with b_hn), and the cell.
    ``bias``: [GH], b_ih + b_hh (:func:`projection_bias`). Step 0's product
    is not computed where it is exactly 0: h0 = 0 and the member's panels
    of W_hh finite: 1 / T of the products (LSTM forward, two threads, one
    process against h0 = 1e-30: H = 512, B = 16, T = 25 0.19 ms of 11.3, 1.7%;
    B = 64, T = 50 0.64 of 80).

    ``skip_input``: cuDNN's CUDNN_SKIP_INPUT (DeepBench's mode): there is no
    W_ih; x (I = H) enters every gate block as it is, xp = [x, .., x] + bias,
    and ``w_ih`` is not read.

    ``x``: [T, B, I]; ``w_ih``: [GH, I]; ``w_hh``: [GH, H]; hs[0] (and
    cs[0]) hold the initial state. Fills hs, cs, hn_lin and ``xp``: [T, B, GH]
    (any content on entry): the pre-activations, then the activated gates
    over them (lstm, gru; in place, so the cell loop touches few arrays and
    vectorises), meaningful at active steps only. The layer's outputs are
    hs[1:], but for their zeros at padded steps.

    ``packed``: 1-D, G packed_size(H, H) elements (any content;
    :func:`rnnbench.kernels.panels.packed_size`): W_hh's rows in panels, gate
    g's unit block q as panel g * ceil(H / P) + q; ``packed_ih``:
    packed_size(GH, I) elements, W_ih's rows in panels (K = I; unused with
    ``skip_input``). Each member packs and reads its own panels.
    """
    T, B, _ = x.shape
    H = hs.shape[2]
    GH = bias.shape[0]
    P = panel_width(xp)
    blocks = panel_count(H, xp)  # panels per gate block
    f0, f1 = share(GH, P, team, member)
    _input_projection(skip_input, x, w_ih, bias, xp, packed_ih, f0, f1)
    u0, u1 = share(H, P, team, member)
    q0, q1 = u0 // P, (u1 + P - 1) // P
    if kind == GRU:  # W_hn h_t is added to b_hn per step
        for t in range(T):
            for b in range(B):
                hn_lin[t, b, u0:u1] = b_hh[2 * H + u0:2 * H + u1]
    # step 0's product W_hh h0 is exactly 0 when h0 = 0, unless W_hh holds an inf or a NaN (0 inf is NaN)
    first_product = not _is_zero(hs[0])
    for g in range(GH // H):
        for q in range(q0, q1):
            pack_rows(w_hh, g * H + q * P, min(P, H - q * P), packed, g * blocks + q)
            first_product = first_product or not panel_is_finite(packed, g * blocks + q, H)
    barrier(sync, 0, team)  # every member's share of xp is written
    padded_from = lengths.min()
    for t in range(T):
        if t >= padded_from:  # padded samples carry their state; the cell overwrites the active ones
            hs[t + 1, :, u0:u1] = hs[t, :, u0:u1]
            if kind == LSTM:
                cs[t + 1, :, u0:u1] = cs[t, :, u0:u1]
        for qa in range(q0, q1, UNIT_GROUP):  # the products of a group's gates, then its cells (see UNIT_GROUP)
            qb = min(q1, qa + UNIT_GROUP)
            v0, v1 = qa * P, min(u1, qb * P)
            for g in range(GH // H if t > 0 or first_product else 0):
                if kind == GRU and g == 2:  # W_hn h + b_hn is kept apart; W_hr h, W_hz h join xp
                    panels_product(packed, g * blocks + qa, H, hs[t], hn_lin[t], v0, v1 - v0)
                else:
                    panels_product(packed, g * blocks + qa, H, hs[t], xp[t], g * H + v0, v1 - v0)
            if kind == LSTM:
                _lstm_step(t, xp, lengths, hs, cs, v0, v1)
            elif kind == GRU:
                _gru_step(t, xp, lengths, hs, hn_lin, v0, v1)
            else:
                _rnn_step(t, kind == RNN_RELU, xp, lengths, hs, v0, v1)
        barrier(sync, t + 1, team)  # all of h_t is written before the next product reads it


@njit(cache=True, error_model="numpy")
def _rnn_step_backward(t, use_relu, lengths, hs, dh, dpre, u0, u1):
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        dh_row, h_row, dpre_row = dh[b, u0:u1], hs[t + 1, b, u0:u1], dpre[t, b, u0:u1]
        for j in range(u1 - u0):
            dpre_row[j] = rnn_cell_backward(dh_row[j], h_row[j], use_relu)
            dh_row[j] = 0.0  # the RNN has no direct path: all of dh_prev goes through W_hh


@njit(cache=True, error_model="numpy")
def _lstm_step_backward(t, lengths, cs, gates, dh, dc, dpre, u0, u1):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        dh_row, dc_row, gate_row, dpre_row = dh[b, u0:u1], dc[b, u0:u1], gates[t, b], dpre[t, b]
        c_row, c_prev = cs[t + 1, b, u0:u1], cs[t, b, u0:u1]
        i, f = gate_row[u0:u1], gate_row[H + u0:H + u1]
        g, o = gate_row[2 * H + u0:2 * H + u1], gate_row[3 * H + u0:3 * H + u1]
        d_i, d_f = dpre_row[u0:u1], dpre_row[H + u0:H + u1]
        d_g, d_o = dpre_row[2 * H + u0:2 * H + u1], dpre_row[3 * H + u0:3 * H + u1]
        for j in range(u1 - u0):
            da_i, da_f, da_g, da_o, dc_prev = lstm_cell_backward(dh_row[j], dc_row[j], i[j], f[j], g[j], o[j],
                                                                 c_row[j], c_prev[j])
            d_i[j] = da_i
            d_f[j] = da_f
            d_g[j] = da_g
            d_o[j] = da_o
            dc_row[j] = dc_prev
            dh_row[j] = 0.0


@njit(cache=True, error_model="numpy")
def _gru_step_backward(t, lengths, hs, gates, hn_lin, dh, dpre_ih, dpre_hh, u0, u1):
    H = dh.shape[1]
    for b in range(dh.shape[0]):
        if t >= lengths[b]:
            continue
        dh_row, gate_row, hn_row, h_prev = dh[b, u0:u1], gates[t, b], hn_lin[t, b, u0:u1], hs[t, b, u0:u1]
        r, z, n = gate_row[u0:u1], gate_row[H + u0:H + u1], gate_row[2 * H + u0:2 * H + u1]
        ih_row, hh_row = dpre_ih[t, b], dpre_hh[t, b]
        ih_r, ih_z, ih_n = ih_row[u0:u1], ih_row[H + u0:H + u1], ih_row[2 * H + u0:2 * H + u1]
        hh_r, hh_z, hh_n = hh_row[u0:u1], hh_row[H + u0:H + u1], hh_row[2 * H + u0:2 * H + u1]
        for j in range(u1 - u0):
            da_r, da_z, dx_n, dh_n, dh_direct = gru_cell_backward(dh_row[j], r[j], z[j], n[j], hn_row[j], h_prev[j])
            ih_r[j] = da_r
            ih_z[j] = da_z
            ih_n[j] = dx_n
            hh_r[j] = da_r
            hh_z[j] = da_z
            hh_n[j] = dh_n
            dh_row[j] = dh_direct


@njit(cache=True, error_model="numpy", nogil=True)
def backward_layer(kind, skip_input, t0, t1, chunk, dy, d_hn, d_cn, lengths, x, w_ih, w_hh, hs, cs, gates,
                   hn_lin, dpre_ih, dpre_hh, dh, dc, adj_h, adj_c, dx, packed, packed_ih, zeros, pack, pack_ih,
                   member, team, sync):
    """Backward-data (DeepBench's split) of one layer: backpropagate through
    steps t1 down to t0 and write ``dx``: [t1-t0+1, B, I] (any content on
    entry), the gradient of the layer input x at those steps (a (0, B, I)
    array: not wanted). The weight gradients are left to
    :func:`weight_gradients`, which reads the pre-activation gradients this
    sweep writes.

    ``dy``: [T, B, H] gradient arriving at each output (read at active steps
    only); ``d_hn``/``d_cn``: [B, H] gradient of the final state, injected at
    step lengths[b]-1. ``chunk`` > 0 drops the state gradient at every chunk
    boundary (steps that are multiples of ``chunk``).

    Writes dL/d(pre-activation) of steps t0..t1 into ``dpre_ih`` (input side)
    and ``dpre_hh`` (recurrent side; the same array as ``dpre_ih`` except for
    the GRU) -- rows of padded samples must be zero on entry. ``dh``/``dc``
    ([B, H], zero on entry) end as the gradient of the state entering t0.
    Per step: dh_prev = dh_direct + dpre_hh[t] W_hh.

    ``packed``: W_hh's columns in panels (unit block q as panel q, K = GH),
    packed_size(H, GH) elements; ``packed_ih``: W_ih's columns likewise
    (K = GH), packed_size(I, GH) elements, for dx = dpre_ih W_ih (unused
    with ``skip_input``); ``zeros``: [I] zeros, what dx starts from. Each
    member packs its own panels of W_hh when ``pack`` is set (the first sweep
    over a tape), of W_ih when ``pack_ih`` is (the first that wants dx), and
    reads them.

    ``adj_h``/``adj_c``: [T, B, H] to record, at each step t, the adjoint of
    the state after step t as a coordinate of the network's Markov state:
    the gradient coming back through step t+1 plus the final-state gradient,
    before dy[t] (the path through the layer above at the same step) is
    added. Pass (0, 0, 0)-shaped arrays to record nothing.
    """
    B, H = dh.shape
    GH = dpre_ih.shape[2]
    P = panel_width(dh)
    u0, u1 = share(H, P, team, member)
    q0 = u0 // P  # the member's first unit panel
    if pack and u1 > u0:
        pack_columns(w_hh, u0, u1, packed, q0)
    episode = 0
    for t in range(t1, t0 - 1, -1):
        if chunk > 0 and t < t1 and (t + 1) % chunk == 0:
            dh[:, u0:u1] = 0.0
            dc[:, u0:u1] = 0.0
        for b in range(B):
            if t == lengths[b] - 1:
                dh[b, u0:u1] += d_hn[b, u0:u1]
                dc[b, u0:u1] += d_cn[b, u0:u1]
        if adj_h.shape[0] > 0:
            adj_h[t, :, u0:u1] = dh[:, u0:u1]
            adj_c[t, :, u0:u1] = dc[:, u0:u1]
        for b in range(B):
            if t < lengths[b]:
                dh[b, u0:u1] += dy[t, b, u0:u1]
        if kind == LSTM:
            _lstm_step_backward(t, lengths, cs, gates, dh, dc, dpre_ih, u0, u1)
        elif kind == GRU:
            _gru_step_backward(t, lengths, hs, gates, hn_lin, dh, dpre_ih, dpre_hh, u0, u1)
        else:
            _rnn_step_backward(t, kind == RNN_RELU, lengths, hs, dh, dpre_ih, u0, u1)
        barrier(sync, episode, team)  # all of dpre_hh[t] is written before the product reads it
        episode += 1
        # padded samples' rows of dpre_hh[t] are zero: their dh is carried
        panels_product(packed, q0, GH, dpre_hh[t], dh, u0, u1 - u0)
    if dx.shape[0] == 0:
        return
    barrier(sync, episode, team)  # every step's dpre_ih is written before dx reads it
    I = x.shape[2]
    i0, i1 = share(I, P, team, member)
    if skip_input:  # dx = the sum of the gate blocks
        for t in range(t0, t1 + 1):
            for b in range(B):
                row, d = dx[t - t0, b, i0:i1], dpre_ih[t, b]
                row[:] = d[i0:i1]
                for g in range(1, GH // I):
                    row += d[g * I + i0:g * I + i1]
        return
    if pack_ih:
        pack_columns(w_ih, i0, i1, packed_ih, i0 // P)
    n = t1 - t0 + 1
    panels_product_onto(packed_ih, GH, dpre_ih[t0:t1 + 1].reshape(n * B, GH), zeros, dx.reshape(n * B, I), i0, i1)


@njit(cache=True, error_model="numpy", nogil=True)
def weight_gradients(skip_input, t0, t1, x, hs, dpre_ih, dpre_hh, dw_ih, dw_hh, db_ih, db_hh, member, team):
    """Backward-weights of steps t0..t1, two GEMMs over all their N = n B rows
    at once (haste's deferred weight gradients)::

        dW_ih += sum_t dpre_ih[t]^T x[t]      db_ih += sum_t,b dpre_ih[t, b]
        dW_hh += sum_t dpre_hh[t]^T h_{t-1}   db_hh += sum_t,b dpre_hh[t, b]

    ``dpre_ih``/``dpre_hh``: [T, B, GH] as written by :func:`backward_layer`;
    ``x``: [T, B, I]; ``hs``: [T+1, B, H] (hs[t] is the state entering step t).
    With ``skip_input`` there is no W_ih and ``dw_ih`` is not touched.

    ``member`` runs its share on one BLAS thread: a team of two with I = H
    takes one weight each (member 0 W_ih, member 1 W_hh: two GEMMs of all
    the features run 4-26% faster than four of half of them, measured at
    H = 256..1024, B = 1..64); otherwise each member takes its share of the
    GH features (rows of both weights).
    """
    n, B, GH = t1 - t0 + 1, dpre_ih.shape[1], dpre_ih.shape[2]
    x_rows = x[t0:t1 + 1].reshape(n * B, x.shape[2])
    h_rows = hs[t0:t1 + 1].reshape(n * B, hs.shape[2])
    p_ih = dpre_ih[t0:t1 + 1].reshape(n * B, GH)
    p_hh = dpre_hh[t0:t1 + 1].reshape(n * B, GH)
    if team == 2 and not skip_input and x.shape[2] == hs.shape[2]:
        if member == 0:
            gemm_rows(1, 0, 1.0, p_ih, x_rows, 1.0, dw_ih)
            _add_column_sums(p_ih, db_ih)
        else:
            gemm_rows(1, 0, 1.0, p_hh, h_rows, 1.0, dw_hh)
            _add_column_sums(p_hh, db_hh)
        return
    f0, f1 = share(GH, panel_width(dw_hh), team, member)
    if f1 == f0:
        return
    if not skip_input:
        gemm_rows(1, 0, 1.0, p_ih[:, f0:f1], x_rows, 1.0, dw_ih[f0:f1])
    gemm_rows(1, 0, 1.0, p_hh[:, f0:f1], h_rows, 1.0, dw_hh[f0:f1])
    _add_column_sums(p_ih[:, f0:f1], db_ih[f0:f1])
    _add_column_sums(p_hh[:, f0:f1], db_hh[f0:f1])


stamp_with_kernel_sources(globals())  # the cache also goes stale on edits to cells.py etc. (kernels/cache.py)
