"""Stacked and bidirectional networks from single-layer kernels.

A backend built on this module supplies only two functions for one layer
running forward in time (see :class:`LayerKernels`); this module stacks the
layers, runs the reverse direction on per-sample reversed sequences (so a
reverse direction starts at step lengths[b]-1, as in PyTorch), and schedules
the backward sweeps that a truncation mode needs.
"""
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .truncation import parse_truncation


@dataclass
class StepRecord:
    """Per-step quantities of one layer and direction from a full backward sweep.

    adj_h, adj_c: [T, B, H] adjoint of the state after step t as a coordinate
    of the network's Markov state (the gradient arriving through step t+1,
    plus the final-state gradient; without the path through the layer above
    at step t). adj_c is zero except for lstm.
    dpre_ih, dpre_hh: [T, B, GH] gradient of the input-side and recurrent-side
    pre-activations of step t (they differ only for gru's n gate).
    """
    adj_h: np.ndarray
    adj_c: np.ndarray
    dpre_ih: np.ndarray = None  # set by the backend's backward_layer
    dpre_hh: np.ndarray = None
    inputs: np.ndarray = None   # [T, B, I_l] the layer's input
    outputs: np.ndarray = None  # [T, B, H] the layer's output (this direction)


class LayerKernels(Protocol):
    """One layer, one direction, forward in time, in DeepBench's three phases:
    forward, backward-data, backward-weights.

    w = (w_ih [GH, I], w_hh [GH, H], b_ih [GH], b_hh [GH]); w_ih is None in
    skip-input mode (no input GEMM: x, with I = H, enters every gate block);
    x: [T, B, I]; h0, c0: [B, H] (c0 ignored unless lstm); lengths: int64 [B].
    """

    def forward_layer(self, kind, x, h0, c0, w, lengths):
        """-> (y [T, B, H], h_n [B, H], c_n [B, H] or None, tape for backward_layer)."""

    def backward_layer(self, kind, tape, w, dy, d_hn, d_cn, lengths, t0, t1, chunk, record=None, need_dx=True):
        """Backward-data: backpropagate steps t1..t0 (gradient entering from
        dy [T, B, H] at active steps and d_hn/d_cn [B, H] at step lengths[b]-1;
        state gradient dropped at multiples of ``chunk`` when chunk > 0),
        keeping the pre-activation gradients of those steps on the tape for
        weight_gradients; fills ``record`` (a StepRecord) when given.

        -> (dx [t1-t0+1, B, I] or None unless need_dx, dh [B, H], dc [B, H]):
        dh, dc are the gradient of the state entering step t0."""

    def weight_gradients(self, kind, tape, t0, t1, dw):
        """Backward-weights: add the gradients of steps t0..t1 (from the last
        backward_layer over them) into dw = (dw_ih or None, dw_hh, db_ih, db_hh)."""


FULL = parse_truncation("full")


def reversal_index(lengths, T):
    """rev [T, B]: a[rev, arange(B)] reverses each sample's first lengths[b]
    steps and leaves its padding in place (an involution)."""
    t = np.arange(T)[:, None]
    return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


@dataclass
class Trace:
    """What a training forward leaves for the backward phases: one tape per
    layer and direction (index layer * D + direction) and each one's
    (input, output) in its own time order."""
    tapes: list
    io: list


class LayeredBackend:
    """A backend (forward/backward over a Problem) made of LayerKernels.

    Besides forward and backward it exposes DeepBench's phases for timing:
    ``train_forward`` -> Trace, ``backward_data`` (full BPTT of x, h0, c0;
    keeps the pre-activation gradients on the tapes) and ``backward_weights``
    (the parameter gradients from them)."""

    splits_backward = True

    def __init__(self, kernels):
        self.kernels = kernels

    def _run_forward(self, p):
        net, k = p.net, self.kernels
        T, B, _ = p.x.shape
        rev = reversal_index(p.lengths, T) if net.bidirectional else None
        batch = np.arange(B)
        h_n, c_n = np.empty_like(p.h0), np.empty_like(p.c0)
        inputs, trace = p.x, Trace([], [])
        for layer in range(net.num_layers):
            outs = []
            for d in range(net.num_directions):
                s = layer * net.num_directions + d
                x = inputs if d == 0 else inputs[rev, batch]
                y, h_n[s], c, tape = k.forward_layer(net.kind, x, p.h0[s], p.c0[s],
                                                     net.layer_weights(p.params, layer, d), p.lengths)
                if c is not None:
                    c_n[s] = c
                outs.append(y if d == 0 else y[rev, batch])
                trace.tapes.append(tape)
                trace.io.append((x, y))
            inputs = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
        return inputs, h_n, c_n, trace

    def forward(self, p):
        output, h_n, c_n, _ = self._run_forward(p)
        return output, h_n, c_n

    def train_forward(self, p):
        """Forward keeping every tape: -> Trace for backward_data."""
        return self._run_forward(p)[3]

    def backward_data(self, p, trace, d_output, d_h_n, d_c_n):
        """Full BPTT of the inputs and initial states over a Trace, without the
        weight gradients: -> (x, h0, c0) gradients."""
        _, g_x, g_h0, g_c0 = self._sweep(p, trace, d_output, d_h_n, d_c_n, FULL, None, need_x=True, weights=False)
        return g_x, g_h0, g_c0

    def backward_weights(self, p, trace):
        """The parameter gradients of the last backward_data over ``trace``."""
        net, T = p.net, p.x.shape[0]
        g_params = {name: np.zeros_like(value) for name, value in p.params.items()}
        for layer in range(net.num_layers):
            for d in range(net.num_directions):
                self.kernels.weight_gradients(net.kind, trace.tapes[layer * net.num_directions + d], 0, T - 1,
                                              net.layer_weights(g_params, layer, d))
        return g_params

    def backward(self, p, d_output, d_h_n, d_c_n, trunc, records=None, sweep_only=False):
        """Full and chunk truncation: one backward sweep per layer. kstep:K
        (K < T-1): one sweep over steps max(0, t-K)..t per loss step t, so
        O(T*K) cell backward steps per layer (windows with no loss are skipped).

        ``records``: a list to receive one StepRecord per layer and direction
        (index layer * D + direction; the reverse direction's in reversed time);
        full truncation only. ``sweep_only``: skip the weight gradients and the
        gradient of x (for records; the returned params and x are then None)."""
        trace = self.train_forward(p)
        return self._sweep(p, trace, d_output, d_h_n, d_c_n, trunc, records, need_x=not sweep_only,
                           weights=not sweep_only)

    def _sweep(self, p, trace, d_output, d_h_n, d_c_n, trunc, records, need_x, weights):
        """Backward-data over every window and layer; with ``weights``, each
        layer's weight gradients right after its sweep over a window (kstep
        windows overlap, so their pre-activation gradients do not outlive it)."""
        net, k = p.net, self.kernels
        T, B, _ = p.x.shape
        H, D = net.hidden_size, net.num_directions
        rev = reversal_index(p.lengths, T) if net.bidirectional else None
        batch = np.arange(B)
        g_params = {name: np.zeros_like(value) for name, value in p.params.items()} if weights else None
        g_h0, g_c0 = np.zeros_like(p.h0), np.zeros_like(p.c0)

        if records is not None:
            if trunc.mode != "full":
                raise ValueError(f"truncation: step records need 'full', got '{trunc}'")
            records[:] = [StepRecord(np.zeros((T, B, H), p.dtype), np.zeros((T, B, H), p.dtype),
                                     inputs=layer_in, outputs=layer_out) for layer_in, layer_out in trace.io]
        if trunc.mode == "kstep" and not trunc.is_full_for(T):
            windows = ((trunc.window_start(t), t) for t in range(T))
            chunk = 0
            top = np.zeros_like(d_output)
        else:
            windows = [(0, T - 1)]
            chunk = trunc.k if trunc.mode == "chunk" else 0
            top = None
        # kstep windows: per layer, the gradient below it (each window writes its own steps before
        # reading them), and g_x accumulated over windows; one window: each layer's dx is all of it
        grads_below = ([np.empty((T, B, net.layer_input_size(layer)), dtype=p.dtype)
                        for layer in range(net.num_layers)] if top is not None else [None] * net.num_layers)
        g_x = np.zeros_like(p.x) if top is not None else None
        for t0, t1 in windows:
            if top is None:  # one sweep: every loss term at once
                grad_above, dh_last, dc_last = d_output, d_h_n, d_c_n
            else:  # the loss terms of step t1 alone
                ends_here = (p.lengths - 1 == t1)[None, :, None]
                dh_last, dc_last = d_h_n * ends_here, d_c_n * ends_here
                active = t1 < p.lengths
                if not (np.any(d_output[t1][active]) or np.any(dh_last) or np.any(dc_last)):
                    continue
                top[t0:t1 + 1] = 0
                top[t1] = d_output[t1]
                grad_above = top
            for layer in reversed(range(net.num_layers)):
                below = grads_below[layer]
                for d in range(D):
                    s = layer * D + d
                    dy = grad_above[:, :, d * H:(d + 1) * H]
                    if d == 1:
                        dy = dy[rev, batch]
                    need_dx = layer > 0 or need_x
                    dx, dh, dc = k.backward_layer(net.kind, trace.tapes[s], net.layer_weights(p.params, layer, d),
                                                  dy, dh_last[s], dc_last[s], p.lengths, t0, t1, chunk,
                                                  records[s] if records is not None else None, need_dx)
                    if weights:
                        k.weight_gradients(net.kind, trace.tapes[s], t0, t1, net.layer_weights(g_params, layer, d))
                    if need_dx:
                        if d == 1:
                            below[t0:t1 + 1] += dx[rev, batch]
                        elif top is None:  # dx is this call's own array: nothing else holds it
                            below = dx
                        else:
                            below[t0:t1 + 1] = dx
                    if t0 == 0:
                        g_h0[s] += dh
                        if dc is not None:
                            g_c0[s] += dc
                grad_above = below
            if need_x:
                if top is None:
                    g_x = grad_above
                else:  # kstep windows overlap: each adds its share
                    g_x[t0:t1 + 1] += grad_above[t0:t1 + 1]
        return g_params, (g_x if need_x else None), g_h0, g_c0
