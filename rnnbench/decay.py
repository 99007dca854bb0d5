"""How fast the gradient signal decays (or grows) with distance in time.

All functions take the same (net, params, x [T, B, I], state0) as
``rb.forward`` and run on a backend that exposes per-step records of its
backward sweep (``numpy`` or ``numba-cpu``). Use float64 parameters for
measurements: that path is accurate to a few ulp and uses no fastmath, so overflow
shows up as inf/NaN instead of being hidden.

The state s_t is the network's Markov state after step t: every layer's h_t
(and c_t for lstm) concatenated, S = L * H (* 2 for lstm) numbers per sample.
Bidirectional networks have no such forward-in-time state and are refused.
"""
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import validation as v
from .api import Problem, backward, validated_problem
from .backends import get_backend
from .layered import LayeredBackend
from .truncation import Truncation, parse_truncation

VANILLA = ("rnn_tanh", "rnn_relu")


def _setup(net, params, x, state0, backend, what):
    impl = get_backend(backend)
    if not isinstance(impl, LayeredBackend):
        raise ValueError(f"backend: {what} needs per-step records of the backward sweep "
                         f"(numpy or numba-cpu), got {backend!r}")
    p = validated_problem(net, params, x, state0, None)
    if p.net.bidirectional:
        raise ValueError(f"net: {what} needs a unidirectional network (a forward-in-time state), "
                         "got bidirectional=True")
    return impl, p


def _state_size(net):
    return net.num_layers * net.hidden_size * (2 if net.kind == "lstm" else 1)


def _state_adjoints(records, net):
    """[T, B, S] Markov-state adjoints from per-layer StepRecords, in the order
    (h^0, c^0, h^1, c^1, ...) (no c for non-lstm)."""
    parts = []
    for r in records:
        parts.append(r.adj_h)
        if net.kind == "lstm":
            parts.append(r.adj_c)
    return np.concatenate(parts, axis=2)


def _records(impl, p, d_output, d_h_n, d_c_n):
    records = []
    with np.errstate(all="ignore"):
        impl.backward(p, d_output, d_h_n, d_c_n, Truncation("full"), records, sweep_only=True)
    return records


def spectral_norms(matrices):
    """Largest singular value of each matrix in a stack [N, S, S]: sqrt of the top
    eigenvalue of the Gram matrix M M^T (symmetric, so a fast eigensolver; the top
    eigenvalue is well conditioned, so the result is accurate to a few ulp), with
    each matrix scaled by its largest entry first so nothing under- or overflows."""
    scale = np.max(np.abs(matrices), axis=(1, 2))
    safe = np.where(scale > 0, scale, 1.0)
    m = matrices / safe[:, None, None]
    top = np.linalg.eigvalsh(m @ m.transpose(0, 2, 1))[:, -1]
    return scale * np.sqrt(np.maximum(top, 0.0))


def jacobian_norms(net, params, x, state0=None, backend="numba-cpu"):
    """Spectral norms of the state Jacobians back from the last step.

    Returns norms: [T, B] with norms[l, b] = || d s_{T-1} / d s_{T-1-l} ||_2
    for sample b (row 0 is the identity's, exactly 1). NaN where a state
    along the way overflowed (the Jacobian is undefined there), inf where the
    Jacobian itself overflowed.

    Exact, not estimated: per sample, one full backward sweep with S seed
    vectors as a batch (the identity: seed k starts as e_k at s_{T-1}), run
    through the backend's own kernels; the adjoint reaching step t for seed k
    is row k of d s_{T-1} / d s_t. Then the largest singular value per lag
    (``spectral_norms``).
    Cost per sample: a forward and a backward sweep at batch S
    (O(T S L G H^2) flops, G gates), O(T S (S + G H)) memory for the
    records and tape, and T symmetric eigenproblems of S x S (O(T S^3)).
    """
    impl, p = _setup(net, params, x, state0, backend, "jacobian_norms")
    net = p.net
    T, B, _ = p.x.shape
    L, H = net.num_layers, net.hidden_size
    per_layer = 2 if net.kind == "lstm" else 1
    S = _state_size(net)
    seeds = np.eye(S, dtype=p.dtype).reshape(S, L, per_layer, H)  # seed k -> coordinate k
    d_h_n = np.ascontiguousarray(seeds[:, :, 0].transpose(1, 0, 2))  # [L, S, H]
    d_c_n = (np.ascontiguousarray(seeds[:, :, 1].transpose(1, 0, 2)) if per_layer == 2
             else np.zeros_like(d_h_n))
    norms = np.empty((T, B))
    for b in range(B):
        repeat = Problem(net, p.params, np.repeat(p.x[:, b:b + 1], S, axis=1),
                         np.repeat(p.h0[:, b:b + 1], S, axis=1), np.repeat(p.c0[:, b:b + 1], S, axis=1),
                         np.full(S, T, dtype=np.int64), p.dtype)
        records = _records(impl, repeat, np.zeros((T, S, H), p.dtype), d_h_n, d_c_n)
        adjoints = _state_adjoints(records, net)
        # adjoints[t, k, :] = e_k^T d s_{T-1} / d s_t: the Jacobian itself, one per step
        with np.errstate(all="ignore"):
            finite = np.isfinite(adjoints).all(axis=(1, 2))
            sv = np.full(T, np.inf)
            if finite.any():
                sv[finite] = spectral_norms(adjoints[finite].astype(np.float64))
            state_ok = np.all([np.isfinite(r.outputs[:, 0]).all(axis=1) for r in records], axis=0)
            undefined = np.flip(np.cumsum(np.flip(~state_ok))) > 0  # some state in s_t..s_{T-1} overflowed
            sv[:-1][undefined[:-1]] = np.nan  # row T-1 is the identity, defined anyway
        norms[:, b] = sv[::-1]
    return norms


def adjoint_norms(net, params, x, d_output=None, d_h_n=None, d_c_n=None, state0=None, backend="numba-cpu"):
    """|| dL/ds_t ||_2 for every step t under full BPTT: norms [T, B] (row t is step t).

    L = sum(d_output * output) + sum(d_h_n * h_n) + sum(d_c_n * c_n), and
    dL/ds_t treats the coordinates of s_t as independent variables: the
    gradient arriving from all later steps plus step t's own loss term. For
    a single layer's h this is the usual total derivative dL/dh_t.
    Cost: one forward and one backward sweep.
    """
    impl, p = _setup(net, params, x, state0, backend, "adjoint_norms")
    T, B, _ = p.x.shape
    d_output = v.check_grad("d_output", d_output, (T, B, p.net.hidden_size), p.dtype)
    shape = v.state_shape(p.net, B)
    d_h_n = v.check_grad("d_h_n", d_h_n, shape, p.dtype)
    if d_c_n is not None and p.net.kind != "lstm":
        raise ValueError(f"d_c_n: expected None for {p.net.kind}, got an array")
    d_c_n = v.check_grad("d_c_n", d_c_n, shape, p.dtype)
    records = _records(impl, p, d_output, d_h_n, d_c_n)
    records[-1].adj_h += d_output  # the top layer's own loss term at step t
    with np.errstate(all="ignore"):
        return np.sqrt(np.sum(_state_adjoints(records, p.net).astype(np.float64) ** 2, axis=2))


def temporal_contributions(net, params, x, d_last=None, state0=None, backend="numba-cpu"):
    """Pascanu et al. (2013)'s decomposition of dL/dtheta by step, for a loss
    at the last step only: L = sum(d_last * output[T-1]).

    dL/dtheta = sum_t dL/dtheta_t, where theta_t is the copy of the
    parameters used at step t. Returns norms [T, B] with norms[l, b] =
    || dL/dtheta_{T-1-l} || (all layers' W_ih, W_hh, b_ih, b_hh together) for
    sample b: how much of the gradient comes from lag l.
    d_last: [B, H] (default: every entry 1/sqrt(H)). Cost: one forward and one
    backward sweep.
    """
    impl, p = _setup(net, params, x, state0, backend, "temporal_contributions")
    T, B, _ = p.x.shape
    H = p.net.hidden_size
    if d_last is None:
        d_last = np.full((B, H), 1 / math.sqrt(H), dtype=p.dtype)
    d_last = v.check_grad("d_last", d_last, (B, H), p.dtype)
    d_output = np.zeros((T, B, H), dtype=p.dtype)
    d_output[-1] = d_last
    zeros = np.zeros(v.state_shape(p.net, B), dtype=p.dtype)
    records = _records(impl, p, d_output, zeros, zeros)
    total = np.zeros((T, B))
    with np.errstate(all="ignore"):
        for layer, r in enumerate(records):
            h_prev = np.concatenate([p.h0[layer][None], r.outputs[:-1]], axis=0)
            ih = np.sum(r.dpre_ih.astype(np.float64) ** 2, axis=2)
            hh = np.sum(r.dpre_hh.astype(np.float64) ** 2, axis=2)
            # dW_ih_t = outer(dpre_ih_t, x_t): its Frobenius norm is |dpre_ih_t| |x_t|; likewise W_hh
            total += ih * (1 + np.sum(r.inputs.astype(np.float64) ** 2, axis=2))
            total += hh * (1 + np.sum(h_prev.astype(np.float64) ** 2, axis=2))
        return np.sqrt(total)[::-1]


@dataclass(frozen=True)
class DecayFit:
    """Least-squares fit ln(norm) ~ rate * lag.

    rate: per step (negative: vanishing, positive: exploding);
    e_folding: steps to change by a factor e (1/|rate|);
    half_life: steps to halve (vanishing) or double (exploding), ln 2 / |rate|;
    points: how many lags entered the fit."""
    rate: float
    e_folding: float
    half_life: float
    points: int


def fit(norms):
    """Fit the decay rate of norms: [lags, B] (row l = lag l), averaging ln(norm)
    over the batch and ignoring zero and non-finite entries."""
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim == 1:
        norms = norms[:, None]
    with np.errstate(all="ignore"):
        logs = np.where(np.isfinite(norms) & (norms > 0), np.log(norms), np.nan)
        valid = ~np.all(np.isnan(logs), axis=1)
        mean_log = np.nanmean(logs[valid], axis=1) if valid.any() else np.empty(0)
    lags = np.flatnonzero(valid).astype(np.float64)
    if len(lags) < 2:
        return DecayFit(math.nan, math.nan, math.nan, len(lags))
    rate = float(np.polyfit(lags, mean_log, 1)[0])
    scale = abs(rate)
    return DecayFit(rate, 1 / scale if scale else math.inf, math.log(2) / scale if scale else math.inf,
                    len(lags))


def fit_rate(norms):
    """Slope of ln(norm) per step against lag (see ``fit``); negative means vanishing."""
    return fit(norms).rate


def spectral(net, params):
    """Spectral quantities of every layer's W_hh: a list of dicts with layer,
    direction, sigma_1 (largest singular value of W_hh [G*H, H]) and rho (its
    spectral radius; vanilla RNNs only, where W_hh is square; else None)."""
    rows = []
    for layer in range(net.num_layers):
        for d in range(net.num_directions):
            w_hh = np.asarray(params[net.param_name("weight_hh", layer, d)], dtype=np.float64)
            rows.append(dict(layer=layer, direction=d,
                             sigma_1=float(np.linalg.norm(w_hh, 2)),
                             rho=float(np.max(np.abs(np.linalg.eigvals(w_hh)))) if net.kind in VANILLA
                             else None))
    return rows


def pascanu_bound(net, params, lags):
    """(gamma * sigma_1)^l for l in range(lags), gamma = 1 for tanh and relu
    (|f'| <= 1): Pascanu et al. (2013)'s bound on ||d h_t / d h_{t-l}||.
    Applies to single-layer vanilla RNNs only; None otherwise."""
    if net.kind not in VANILLA or net.num_layers != 1 or net.bidirectional:
        return None
    sigma_1 = spectral(net, params)[0]["sigma_1"]
    with np.errstate(over="ignore"):
        return sigma_1 ** np.arange(lags, dtype=np.float64)


def bound_violations(norms, bound, rtol=1e-9):
    """How many entries of norms [T, B] exceed the bound [T] beyond rounding."""
    return int(np.sum(np.asarray(norms) > bound[:, None] * (1 + rtol)))


def truncation_bias(net, params, x, d_output, truncations=("kstep:1", "kstep:10", "chunk:10"),
                    state0=None, d_h_n=None, backend="numba-cpu"):
    """How far truncated BPTT's parameter gradient is from full BPTT's.

    One row per truncation: cosine similarity of the flattened parameter
    gradient to the full one, relative error ||g_K - g|| / ||g||,
    share_beyond_K = ||g - g_kstep:K|| / ||g|| (the part of the full gradient
    that comes from lags > K; 0 for full), seconds (that rb.backward call),
    and finite: False when a gradient overflowed (inf/NaN), with a note; such
    rows are kept, never dropped.
    """
    parsed = [parse_truncation(t) for t in truncations]

    def flat(truncation):
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            g = backward(net, params, x, d_output, d_h_n=d_h_n, state0=state0, truncation=truncation,
                         backend=backend)
        elapsed = time.perf_counter() - start
        return np.concatenate([v.ravel().astype(np.float64) for v in g.params.values()]), elapsed

    full, _ = flat("full")  # validates every argument
    T = x.shape[0]
    kstep_cache = {}
    rows = []
    with np.errstate(all="ignore"):
        full_norm = np.linalg.norm(full)
        for trunc in parsed:
            g, seconds = flat(trunc)
            if trunc.mode == "full":
                beyond = 0.0
            else:
                key = f"kstep:{trunc.k}"
                if key not in kstep_cache:
                    kstep_cache[key] = g if trunc.mode == "kstep" else flat(key)[0]
                beyond = float(np.linalg.norm(full - kstep_cache[key]) / full_norm)
            finite = bool(np.all(np.isfinite(full)) and np.all(np.isfinite(g)))
            rows.append(dict(
                truncation=str(trunc), mode=trunc.mode, K=trunc.k if trunc.mode != "full" else T,
                cosine=float(np.dot(g, full) / (np.linalg.norm(g) * full_norm)),
                rel_error=float(np.linalg.norm(g - full) / full_norm),
                share_beyond_K=beyond, seconds=seconds, finite=finite,
                note="" if finite else "non-finite gradient (overflow): values are not meaningful"))
    return pd.DataFrame(rows, columns=["truncation", "mode", "K", "cosine", "rel_error", "share_beyond_K",
                                       "seconds", "finite", "note"])
