"""The ``numpy`` backend: the readable reference that every other backend must match.

Clarity first: one step at a time, whole-batch NumPy expressions, weight
gradients accumulated step by step as in Karpathy's min-char-rnn. Each cell
maps (a_x = W_ih x + b_ih, a_h = W_hh h + b_hh, h, c) to the new state and
back; see :mod:`rnnbench.kernels.cells` for the equations.
"""
from dataclasses import dataclass

import numpy as np

from ..layered import LayeredBackend


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


class TanhCell:
    """h' = tanh(a_x + a_h)."""
    @staticmethod
    def forward(a_x, a_h, h, c):
        h_new = np.tanh(a_x + a_h)
        return h_new, None, (h_new,)

    @staticmethod
    def backward(dh, dc, saved):
        (h_new,) = saved
        da = dh * (1 - h_new ** 2)
        return da, da, np.zeros_like(dh), None


class ReluCell:
    """h' = max(0, a_x + a_h) (NaN propagates)."""
    @staticmethod
    def forward(a_x, a_h, h, c):
        a = a_x + a_h
        h_new = np.where(a <= 0, 0, a).astype(a.dtype)
        return h_new, None, (h_new,)

    @staticmethod
    def backward(dh, dc, saved):
        (h_new,) = saved
        da = np.where(h_new > 0, dh, 0).astype(dh.dtype)
        return da, da, np.zeros_like(dh), None


class LSTMCell:
    """i, f, g, o = σ, σ, tanh, σ of a_x + a_h; c' = f c + i g; h' = o tanh(c')."""
    @staticmethod
    def forward(a_x, a_h, h, c):
        a_i, a_f, a_g, a_o = np.split(a_x + a_h, 4, axis=1)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        return h_new, c_new, (i, f, g, o, c, c_new)

    @staticmethod
    def backward(dh, dc, saved):
        i, f, g, o, c, c_new = saved
        tanh_c = np.tanh(c_new)
        dc = dc + dh * o * (1 - tanh_c ** 2)
        di, df, dg, do = dc * g, dc * c, dc * i, dh * tanh_c
        da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
        return da, da, np.zeros_like(dh), dc * f


class GRUCell:
    """r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r h_n), h' = (1 - z) n + z h."""
    @staticmethod
    def forward(a_x, a_h, h, c):
        x_r, x_z, x_n = np.split(a_x, 3, axis=1)
        h_r, h_z, h_n = np.split(a_h, 3, axis=1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h, None, (r, z, n, h_n, h)

    @staticmethod
    def backward(dh, dc, saved):
        r, z, n, h_n, h = saved
        dn, dz = dh * (1 - z), dh * (h - n)
        dx_n = dn * (1 - n ** 2)
        dr = dx_n * h_n
        da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)
        return (np.concatenate([da_r, da_z, dx_n], axis=1),
                np.concatenate([da_r, da_z, dx_n * r], axis=1), dh * z, None)


CELLS = {"rnn_tanh": TanhCell, "rnn_relu": ReluCell, "lstm": LSTMCell, "gru": GRUCell}


@dataclass
class Tape:
    x: np.ndarray        # [T, B, I] layer input
    h_prev: list         # h_prev[t]: [B, H] state entering step t
    saved: list          # saved[t]: what the cell's backward needs
    da: dict = None      # da[t] = (da_x, da_h): [B, GH] pre-activation gradients of the last backward


def input_projection(w_ih, x_t, gates):
    """W_ih x_t: [B, GH]; with no W_ih (skip-input, I = H) x_t enters every gate block as it is."""
    return np.tile(x_t, gates) if w_ih is None else x_t @ w_ih.T


def input_gradient(w_ih, da_x, gates):
    """dL/dx_t from da_x: [B, GH], the transpose of :func:`input_projection`."""
    if w_ih is None:
        return da_x.reshape(len(da_x), gates, -1).sum(axis=1)
    return da_x @ w_ih


class NumpyLayers:
    def forward_layer(self, kind, x, h0, c0, w, lengths):
        cell = CELLS[kind]
        w_ih, w_hh, b_ih, b_hh = w
        gates = len(b_ih) // h0.shape[1]
        h, c = h0, (c0 if kind == "lstm" else None)
        y = np.zeros((x.shape[0],) + h0.shape, dtype=x.dtype)
        h_prev, saved = [], []
        with np.errstate(all="ignore"):  # inf/NaN propagate, as in every backend
            for t in range(x.shape[0]):
                active = (t < lengths)[:, None]
                h_new, c_new, s = cell.forward(input_projection(w_ih, x[t], gates) + b_ih, h @ w_hh.T + b_hh, h, c)
                h_prev.append(h)
                saved.append(s)
                y[t] = np.where(active, h_new, 0)
                h = np.where(active, h_new, h)
                if c is not None:
                    c = np.where(active, c_new, c)
        return y, h, c, Tape(x, h_prev, saved)

    def backward_layer(self, kind, tape, w, dy, d_hn, d_cn, lengths, t0, t1, chunk, record=None, need_dx=True):
        cell = CELLS[kind]
        w_ih, w_hh, b_ih, _ = w
        gates = len(b_ih) // d_hn.shape[1]
        dh = np.zeros_like(d_hn)
        dc = np.zeros_like(d_hn)
        dx = np.zeros((t1 - t0 + 1,) + tape.x.shape[1:], dtype=tape.x.dtype)
        tape.da = {}
        if record is not None:
            shape = (len(tape.x),) + d_hn.shape[:1] + (len(b_ih),)
            record.dpre_ih, record.dpre_hh = np.zeros(shape, d_hn.dtype), np.zeros(shape, d_hn.dtype)
        with np.errstate(all="ignore"):
            for t in range(t1, t0 - 1, -1):
                if chunk and t < t1 and (t + 1) % chunk == 0:  # chunk boundary: gradient stops
                    dh, dc = np.zeros_like(dh), np.zeros_like(dc)
                active = (t < lengths)[:, None]
                last = (t == lengths - 1)[:, None]
                dh = dh + np.where(last, d_hn, 0)
                dc = dc + np.where(last, d_cn, 0)
                if record is not None:
                    record.adj_h[t], record.adj_c[t] = dh, dc
                dh = dh + np.where(active, dy[t], 0)
                da_x, da_h, dh_direct, dc_prev = cell.backward(dh, dc, tape.saved[t])
                da_x, da_h = np.where(active, da_x, 0), np.where(active, da_h, 0)
                tape.da[t] = (da_x, da_h)
                if record is not None:
                    record.dpre_ih[t], record.dpre_hh[t] = da_x, da_h
                dx[t - t0] = input_gradient(w_ih, da_x, gates)
                dh = np.where(active, dh_direct + da_h @ w_hh, dh)
                if dc_prev is not None:
                    dc = np.where(active, dc_prev, dc)
        return (dx if need_dx else None), dh, (dc if kind == "lstm" else None)

    def weight_gradients(self, kind, tape, t0, t1, dw):
        """Step by step, as in min-char-rnn: dW_ih += da_x^T x_t, dW_hh += da_h^T h_{t-1}."""
        dw_ih, dw_hh, db_ih, db_hh = dw
        for t in range(t0, t1 + 1):
            da_x, da_h = tape.da[t]
            if dw_ih is not None:
                dw_ih += da_x.T @ tape.x[t]
            db_ih += da_x.sum(axis=0)
            dw_hh += da_h.T @ tape.h_prev[t]
            db_hh += da_h.sum(axis=0)


BACKEND = LayeredBackend(NumpyLayers())
