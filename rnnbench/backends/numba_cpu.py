"""The ``numba-cpu`` backend: compiled layers from :mod:`rnnbench.kernels.cpu`.

This module only allocates the tape and workspaces; all the arithmetic,
GEMMs included, runs in the compiled layer functions.
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.cells import GATES, GRU, KIND_IDS, LSTM
from ..kernels.cpu import backward_layer, forward_layer, weight_gradients
from ..layered import LayeredBackend
from .workspaces import Workspaces


@dataclass
class Tape:
    x: np.ndarray        # [T, B, I] layer input
    hs: np.ndarray       # [T+1, B, H] states (hs[0] = h0)
    cs: np.ndarray       # [T+1, B, H] lstm cell states, else empty
    gates: np.ndarray    # [T, B, GH] activated gates (lstm, gru), else empty
    hn_lin: np.ndarray   # [T, B, H] gru W_hn h + b_hn, else empty
    dpre: tuple = ()     # (dpre_ih, dpre_hh) [T, B, GH] workspaces, made by the first backward
    w_hh_t: np.ndarray = None  # [H, GH] W_hh transposed, made by the first backward


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
        gates = ws.empty((T, B, b_ih.shape[0]), x.dtype)
        forward_layer(kid, skip_input, x, w_ih, b_ih, w_hh, b_hh, lengths, gates, hs, cs, hn_lin)
        y = _outputs(hs, lengths)
        return y, hs[T], (cs[T] if kid == LSTM else None), Tape(x, hs, cs, gates, hn_lin)

    def backward_layer(self, kind, tape, w, dy, d_hn, d_cn, lengths, t0, t1, chunk, record=None, need_dx=True):
        skip_input, w_ih = _weight_ih(w[0], w[1])
        kid = KIND_IDS[kind]
        T, B, _ = tape.x.shape
        H = d_hn.shape[1]
        ws = self.workspaces
        if not tape.dpre:
            dpre_ih = ws.zeros((T, B, GATES[kind] * H), tape.x.dtype)
            tape.dpre = (dpre_ih, ws.zeros(dpre_ih.shape, dpre_ih.dtype) if kid == GRU else dpre_ih)
        dpre_ih, dpre_hh = tape.dpre
        if tape.w_hh_t is None:
            tape.w_hh_t = np.ascontiguousarray(w[1].T)
        dh, dc = np.zeros_like(d_hn), np.zeros_like(d_hn)
        adj_h, adj_c = (record.adj_h, record.adj_c) if record is not None else (_empty(dh.dtype),) * 2
        dx = ws.empty((t1 - t0 + 1 if need_dx else 0, B, tape.x.shape[2]), tape.x.dtype)
        backward_layer(kid, skip_input, t0, t1, chunk, np.ascontiguousarray(dy), np.ascontiguousarray(d_hn),
                       np.ascontiguousarray(d_cn), lengths, tape.x, w_ih, tape.w_hh_t, tape.hs, tape.cs, tape.gates,
                       tape.hn_lin, dpre_ih, dpre_hh, dh, dc, adj_h, adj_c, dx)
        if record is not None:  # full sweep only: the workspaces hold every step
            record.dpre_ih, record.dpre_hh = dpre_ih, dpre_hh
        return (dx if need_dx else None), dh, (dc if kid == LSTM else None)

    def weight_gradients(self, kind, tape, t0, t1, dw):
        dw_ih, dw_hh, db_ih, db_hh = dw
        skip_input, dw_ih = _weight_ih(dw_ih, dw_hh)
        weight_gradients(skip_input, t0, t1, tape.x, tape.hs, *tape.dpre, dw_ih, dw_hh, db_ih, db_hh)


BACKEND = LayeredBackend(NumbaLayers())
