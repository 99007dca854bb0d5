"""Persistent RNN kernels (Diamos et al. 2016, "Persistent RNNs: Stashing
Recurrent Weights On-Chip"): one cooperative launch runs every step of a
layer's sweep.

Block k owns hidden units j0 .. j0+hb-1 and keeps the part of W_hh those
units need in shared memory for the whole launch, so the recurrent weights
are read from global memory once instead of once per step:

- forward: the G*hb rows {g*H + j} of W_hh, stored transposed
  (ws[k, g*hb + jj]) so that consecutive threads (consecutive units) read
  consecutive words. Thread (b, jj) forms the G recurrent sums
  h_t[b] . W_hh[g*H + j] itself, then runs the same cell code as the per-step
  kernel (:func:`.pointwise.forward_point`) and writes h_{t+1}[b, j].
- backward: the hb columns {j} of W_hh (ws[r, jj], r < G*H). Thread (b, jj)
  forms dpre_hh[t+1, b] . W_hh[:, j] (the gradient of h_t[b, j] through the
  recurrence) and runs :func:`.pointwise.backward_point`.

A grid-wide barrier (:data:`.target.grid_sync`, what
``cuda.cg.this_grid().sync()`` does) separates the steps: step t+1 reads the h_t
(or dpre_hh[t+1]) that every block wrote. That needs every block resident at
once, so :func:`plan` sizes the grid from ``max_cooperative_grid_blocks`` and
the shared memory available, and returns None (the caller falls back to the
per-step kernels) when the layer does not fit. The simulator runs one block
per cooperative grid: there the plan puts every unit into that block.
"""
import functools
from dataclasses import dataclass

import numpy as np
from numba import cuda
from numba.np import numpy_support

from .. import cells
from .limits import SIMULATOR, device_limits, jit_kernel, launch
from .pointwise import _KIND_NAMES, _zero_one, backward_point, carry_point, forward_point
from .target import grid_sync

MAX_THREADS = 512  # launch bounds of the persistent kernels: 128 registers a thread, no spills in float64


@functools.lru_cache(maxsize=None)
def persistent_forward_kernel(kind, dtype):
    """Arguments: (T, xp, w_hh, b_hh, lengths, hs, cs, hn_lin, y, hb); dynamic
    shared memory: G*hb*H elements."""
    nbt = numpy_support.from_dtype(np.dtype(dtype))
    ZERO, _ = _zero_one(dtype)
    G = cells.GATES[_KIND_NAMES[kind]]
    point, carry = forward_point(kind, dtype), carry_point(kind, dtype)

    def persistent_forward(T, xp, w_hh, b_hh, lengths, hs, cs, hn_lin, y, hb):
        ws = cuda.shared.array(0, nbt)
        B, H = hs.shape[1], hs.shape[2]
        j0 = cuda.blockIdx.x * hb
        nb = min(hb, H - j0)
        R = G * hb
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        for e in range(tid, G * nb * H, nt):  # stage this block's rows of W_hh, transposed
            row = e // H
            k = e - row * H
            g = row // nb
            jj = row - g * nb
            ws[k * R + g * hb + jj] = w_hh[g * H + j0 + jj, k]
        cuda.syncthreads()
        for t in range(T):
            for e in range(tid, B * nb, nt):
                b = e // nb
                jj = e - b * nb
                j = j0 + jj
                if t >= lengths[b]:
                    carry(t, b, j, hs, cs, y)
                    continue
                s0 = ZERO
                s1 = ZERO
                s2 = ZERO
                s3 = ZERO
                for k in range(H):
                    hk = hs[t, b, k]
                    base = k * R + jj
                    s0 += ws[base] * hk
                    if G > 1:
                        s1 += ws[base + hb] * hk
                        s2 += ws[base + 2 * hb] * hk
                    if G > 3:
                        s3 += ws[base + 3 * hb] * hk
                point(t, b, j, s0, s1, s2, s3, xp, b_hh, hs, cs, hn_lin, y)
            grid_sync()

    name = f"persistent_forward_{_KIND_NAMES[kind]}_{dtype}"
    persistent_forward.__name__ = persistent_forward.__qualname__ = name
    return jit_kernel(persistent_forward, MAX_THREADS)


@functools.lru_cache(maxsize=None)
def persistent_backward_kernel(kind, dtype):
    """Arguments: (t0, t1, chunk, dy_t1_only, hn_t1_only, dy, d_hn, d_cn,
    lengths, hs, cs, gates, hn_lin, w_hh, dh, dc, dpre_ih, dpre_hh, adj_h,
    adj_c, record, hb); dynamic shared memory: G*H*hb elements. Ends with dh,
    dc the gradient of the state entering t0 (the recurrent term of step t0
    included, as :func:`.pointwise.finish_backward` does on the per-step path)."""
    nbt = numpy_support.from_dtype(np.dtype(dtype))
    ZERO, _ = _zero_one(dtype)
    point = backward_point(kind, dtype)

    def persistent_backward(t0, t1, chunk, dy_t1_only, hn_t1_only, dy, d_hn, d_cn, lengths, hs, cs, gates, hn_lin,
                            w_hh, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record, hb):
        ws = cuda.shared.array(0, nbt)
        B, H = dh.shape[0], dh.shape[1]
        GH = w_hh.shape[0]
        k0 = cuda.blockIdx.x * hb
        nb = min(hb, H - k0)
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        for e in range(tid, GH * nb, nt):  # stage this block's columns of W_hh
            r = e // nb
            kk = e - r * nb
            ws[r * hb + kk] = w_hh[r, k0 + kk]
        cuda.syncthreads()
        for t in range(t1, t0 - 1, -1):
            for e in range(tid, B * nb, nt):
                b = e // nb
                kk = e - b * nb
                rec = ZERO
                if t < t1 and t + 1 < lengths[b] and not (chunk > 0 and (t + 1) % chunk == 0):
                    for q in range(GH):
                        rec += dpre_hh[t + 1, b, q] * ws[q * hb + kk]
                point(t, t1, chunk, dy_t1_only, hn_t1_only, b, k0 + kk, rec, dy, d_hn, d_cn, lengths, hs, cs,
                      gates, hn_lin, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record)
            grid_sync()
        for e in range(tid, B * nb, nt):  # the recurrent term of step t0
            b = e // nb
            kk = e - b * nb
            if t0 < lengths[b]:
                rec = ZERO
                for q in range(GH):
                    rec += dpre_hh[t0, b, q] * ws[q * hb + kk]
                dh[b, k0 + kk] += rec

    name = f"persistent_backward_{_KIND_NAMES[kind]}_{dtype}"
    persistent_backward.__name__ = persistent_backward.__qualname__ = name
    return jit_kernel(persistent_backward, MAX_THREADS)


@dataclass(frozen=True)
class Plan:
    """One cooperative launch: ``blocks`` blocks of ``threads`` threads, each
    block owning ``hb`` hidden units and ``shared`` bytes of W_hh;
    ``cooperative_max`` is how many such blocks can be co-resident."""
    blocks: int
    threads: int
    hb: int
    shared: int
    cooperative_max: int


def shared_bytes(kind, H, hb, itemsize):
    """Dynamic shared memory of one block: its G*hb*H elements of W_hh."""
    return cells.GATES[_KIND_NAMES[kind]] * H * hb * itemsize


def _threads(B, hb, limits):
    n = B * hb
    if limits.simulator:
        return max(1, min(n, limits.max_threads_per_block, MAX_THREADS))
    return max(32, min(limits.max_threads_per_block, MAX_THREADS, -(-n // 32) * 32))


def cooperative_blocks(kernel, args):
    """-> coop(threads, shared): max_cooperative_grid_blocks of ``kernel``
    compiled for ``args`` (after opting in to > 48 KiB of dynamic shared
    memory where asked); 0 when the driver refuses."""
    if SIMULATOR:
        return lambda threads, shared: 1  # the simulator synchronises one block only
    # compile (or find) the very overload that launch() will use, so that the
    # shared-memory opt-in below applies to it
    overload = kernel.compile(tuple(kernel.typeof_pyval(a) for a in args))

    def coop(threads, shared):
        try:
            if shared > 48 * 1024:
                _allow_shared(overload, shared)
            return int(overload.max_cooperative_grid_blocks(threads, shared))
        except Exception:  # the driver refuses the configuration: does not fit
            return 0
    return coop


def _allow_shared(overload, nbytes):
    """Opt the kernel in to ``nbytes`` of dynamic shared memory
    (cudaFuncAttributeMaxDynamicSharedMemorySize; needed above 48 KiB)."""
    from numba.cuda.cudadrv.driver import binding, driver
    cufunc = overload._codelibrary.get_cufunc()
    attr = binding.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    driver.cuKernelSetAttribute(attr, int(nbytes), cufunc.handle, cufunc.device.id)


def plan(kind, B, H, dtype, coop, limits=None):
    """The cooperative launch for a layer of B samples and H units, or None
    when it cannot be co-resident (the caller then runs the per-step path).

    ``coop(threads, shared)`` -> the most co-resident blocks (see
    :func:`cooperative_blocks`). As in Diamos et al., about one block per SM,
    each stashing its slice of W_hh in that SM's shared memory: hb (units per
    block) starts at ceil(H / SMs), and at least a full warp of (b, j)
    threads, and grows until the grid is co-resident; every hb splits H
    evenly. The whole W_hh lives in the grid's shared memory, so a large H
    (G*H*H elements over at most one wave of blocks) does not fit."""
    limits = limits or device_limits()
    itemsize = np.dtype(dtype).itemsize
    hb = min(H, max(-(-32 // B), -(-H // limits.sm_count)))
    while hb <= H:
        blocks = -(-H // hb)
        hb = -(-H // blocks)
        shared = shared_bytes(kind, H, hb, itemsize)
        if shared > limits.max_shared_optin:
            return None  # grows with hb: no larger hb fits either
        threads = _threads(B, hb, limits)
        most = coop(threads, shared)
        if blocks <= most:
            return Plan(blocks, threads, hb, shared, most)
        hb += 1
    return None


def run_forward(kind, plan_, T, xp, w_hh, b_hh, lengths, hs, cs, hn_lin, y):
    """All T forward steps of one layer in one cooperative launch."""
    kernel = persistent_forward_kernel(kind, np.dtype(hs.dtype).name)
    launch(kernel, plan_.blocks, plan_.threads, (T, xp, w_hh, b_hh, lengths, hs, cs, hn_lin, y, plan_.hb),
           shared=plan_.shared, cooperative_max=plan_.cooperative_max)


def run_backward(kind, plan_, t0, t1, chunk, dy_t1_only, hn_t1_only, dy, d_hn, d_cn, lengths, hs, cs, gates, hn_lin,
                 w_hh, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, record):
    """Backward steps t1..t0 of one layer in one cooperative launch."""
    kernel = persistent_backward_kernel(kind, np.dtype(dh.dtype).name)
    launch(kernel, plan_.blocks, plan_.threads,
           (t0, t1, chunk, bool(dy_t1_only), bool(hn_t1_only), dy, d_hn, d_cn, lengths, hs, cs, gates, hn_lin,
            w_hh, dh, dc, dpre_ih, dpre_hh, adj_h, adj_c, bool(record), plan_.hb),
           shared=plan_.shared, cooperative_max=plan_.cooperative_max)
