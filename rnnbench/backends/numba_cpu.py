"""The ``numba-cpu`` backend: compiled layers from :mod:`rnnbench.kernels.cpu`.

This module only allocates the tape and workspaces and starts the team of
threads (:func:`rnnbench.kernels.team.run_team`) that runs each compiled
layer function; all the arithmetic, GEMMs included, runs in those.
"""
from dataclasses import dataclass

import numba
import numpy as np

from ..kernels.cells import GATES, GRU, KIND_IDS, LSTM
from ..kernels.cpu import backward_layer, forward_layer, projection_bias, weight_gradients
from ..kernels.panels import packed_size, unit_panels
from ..kernels.team import run_team
from ..layered import LayeredBackend
from .workspaces import Workspaces

# When a layer call runs on a team of threads (kernels/team.py) rather than
# alone, from a grid of LSTM, GRU and vanilla RNN problems (H 64..512, B
# 1..64, T = 30, float32) on the 2-core Zen 3 machine: a team costs about
# 100 us to start and a barrier per step, so it pays from about 20-30 us of
# work a step (LSTM H=128: B=4 0.80x alone's speed, B=16 1.54x; GRU H=256,
# B=1: 1.34x); below 128 units the members' cell math and the barriers
# outweigh the split products (LSTM H=64, B=64: 0.84x).
TEAM_MIN_UNITS = 128
TEAM_MIN_STEP_WORK = 1 << 19   # multiply-adds of one step's product, B counted as at least 4 (memory-bound below)
TEAM_MIN_WORK = 1 << 23        # multiply-adds of the whole call


@dataclass
class Tape:
    x: np.ndarray        # [T, B, I] layer input
    hs: np.ndarray       # [T+1, B, H] states (hs[0] = h0)
    cs: np.ndarray       # [T+1, B, H] lstm cell states, else empty
    gates: np.ndarray    # [T, B, GH] activated gates (lstm, gru), else empty
    hn_lin: np.ndarray   # [T, B, H] gru W_hn h + b_hn, else empty
    dpre: tuple = ()     # (dpre_ih, dpre_hh) [T, B, GH] workspaces, made by the first backward
    packed_hh: np.ndarray = None  # W_hh's columns in panels (kernels.cpu.backward_layer), packed by the first backward
    packed_ih: np.ndarray = None  # W_ih's columns likewise, packed by the first backward that wants dx


def team_size(steps, B, GH, H, dtype):
    """Threads for one time loop of ``steps`` steps over a batch of B with a
    [GH, H] W_hh: Numba's thread count (rnnbench.threads.set_threads sets it
    with BLAS's), at most one a panel of units; one where a team would not
    pay (see TEAM_MIN_UNITS)."""
    step = max(B, 4) * GH * H
    if H < TEAM_MIN_UNITS or step < TEAM_MIN_STEP_WORK or steps * step < TEAM_MIN_WORK:
        return 1
    return min(numba.get_num_threads(), unit_panels(H, dtype))


def gradient_team_size(work, H, dtype):
    """Threads for the weight-gradient GEMMs of ``work`` multiply-adds."""
    return min(numba.get_num_threads(), unit_panels(H, dtype)) if work >= TEAM_MIN_WORK else 1


def _empty(dtype):
    return np.empty((0, 0, 0), dtype=dtype)


def _outputs(hs, lengths):
    """The layer's outputs y: [T, B, H] from its states hs: [T+1, B, H]: hs[1:]
    itself (a view: no copy, no zero-filled array) when no sample is padded,
    else a copy that is zero at padded steps."""
    T = hs.shape[0] - 1
    if lengths.min() >= T:
        return hs[1:]
    active = np.arange(T)[:, None] < lengths[None, :]
    return np.where(active[:, :, None], hs[1:], 0).astype(hs.dtype, copy=False)


def _weight_ih(w_ih, like):
    """(skip_input, w_ih): w_ih None means skip-input; the compiled code then
    gets a typed placeholder it does not read."""
    return (True, np.empty((0, 0), like.dtype)) if w_ih is None else (False, w_ih)


class NumbaLayers:
    def __init__(self):
        self.workspaces = Workspaces()

    def forward_layer(self, kind, x, h0, c0, w, lengths):
        w_ih, w_hh, b_ih, b_hh = w
        skip_input, w_ih = _weight_ih(w_ih, w_hh)
        kid = KIND_IDS[kind]
        T, B, _ = x.shape
        H = h0.shape[1]
        x = np.ascontiguousarray(x)
        ws = self.workspaces
        hs = ws.empty((T + 1, B, H), x.dtype)
        hs[0] = h0
        cs, hn_lin = _empty(x.dtype), _empty(x.dtype)
        if kid == LSTM:
            cs = ws.empty((T + 1, B, H), x.dtype)
            cs[0] = c0
        if kid == GRU:
            hn_lin = ws.empty((T, B, H), x.dtype)
        GH = b_ih.shape[0]
        gates = ws.empty((T, B, GH), x.dtype)
        packed = ws.empty((GH // H * packed_size(H, H, x.dtype),), x.dtype)  # W_hh's rows, a gate block at a time
        packed_ih = ws.empty((0 if skip_input else packed_size(GH, x.shape[2], x.dtype),), x.dtype)
        team, sync = team_size(T, B, GH, H, x.dtype), np.zeros(1, np.int64)
        bias = projection_bias(kid, b_ih, b_hh)
        run_team(lambda member: forward_layer(kid, skip_input, x, w_ih, bias, w_hh, b_hh, lengths, gates, hs, cs,
                                              hn_lin, packed, packed_ih, member, team, sync), team)
        y = _outputs(hs, lengths)
        return y, hs[T], (cs[T] if kid == LSTM else None), Tape(x, hs, cs, gates, hn_lin)

    def backward_layer(self, kind, tape, w, dy, d_hn, d_cn, lengths, t0, t1, chunk, record=None, need_dx=True):
        skip_input, w_ih = _weight_ih(w[0], w[1])
        kid = KIND_IDS[kind]
        T, B, I = tape.x.shape
        H = d_hn.shape[1]
        GH = GATES[kind] * H
        dtype = tape.x.dtype
        ws = self.workspaces
        if not tape.dpre:  # the sweeps write every active row; padded ones must read zero (a 13 MB fill at
            # LSTM H=256, B=32, T=100: 0.33 ms, skipped when no sample is padded)
            new = ws.zeros if lengths.min() < T else ws.empty
            dpre_ih = new((T, B, GH), dtype)
            tape.dpre = (dpre_ih, new(dpre_ih.shape, dtype) if kid == GRU else dpre_ih)
        dpre_ih, dpre_hh = tape.dpre
        pack_hh, pack_ih = tape.packed_hh is None, need_dx and not skip_input and tape.packed_ih is None
        if pack_hh:  # the tape holds them for its later sweeps; the pool gets them back with the tape
            tape.packed_hh = ws.empty((packed_size(H, GH, dtype),), dtype)
        if pack_ih:
            tape.packed_ih = ws.empty((packed_size(I, GH, dtype),), dtype)
        packed_ih = tape.packed_ih if tape.packed_ih is not None else np.empty(0, dtype)
        w_hh = np.ascontiguousarray(w[1])
        dh, dc = np.zeros_like(d_hn), np.zeros_like(d_hn)
        adj_h, adj_c = (record.adj_h, record.adj_c) if record is not None else (_empty(dh.dtype),) * 2
        dx = ws.empty((t1 - t0 + 1 if need_dx else 0, B, I), dtype)
        dy, d_hn, d_cn = np.ascontiguousarray(dy), np.ascontiguousarray(d_hn), np.ascontiguousarray(d_cn)
        team = team_size(t1 - t0 + 1, B, GH, H, dtype)
        sync, zeros = np.zeros(1, np.int64), np.zeros(I, dtype)
        run_team(lambda member: backward_layer(kid, skip_input, t0, t1, chunk, dy, d_hn, d_cn, lengths, tape.x, w_ih,
                                               w_hh, tape.hs, tape.cs, tape.gates, tape.hn_lin, dpre_ih, dpre_hh, dh,
                                               dc, adj_h, adj_c, dx, tape.packed_hh, packed_ih, zeros, pack_hh,
                                               pack_ih, member, team, sync), team)
        if record is not None:  # full sweep only: the workspaces hold every step
            record.dpre_ih, record.dpre_hh = dpre_ih, dpre_hh
        return (dx if need_dx else None), dh, (dc if kid == LSTM else None)

    def weight_gradients(self, kind, tape, t0, t1, dw):
        dw_ih, dw_hh, db_ih, db_hh = dw
        skip_input, dw_ih = _weight_ih(dw_ih, dw_hh)
        T, B, I = tape.x.shape
        H = tape.hs.shape[2]
        team = gradient_team_size((t1 - t0 + 1) * B * GATES[kind] * H * (H + I), H, tape.x.dtype)
        run_team(lambda member: weight_gradients(skip_input, t0, t1, tape.x, tape.hs, *tape.dpre, dw_ih, dw_hh, db_ih,
                                                 db_hh, member, team), team, blas=True)


BACKEND = LayeredBackend(NumbaLayers())
