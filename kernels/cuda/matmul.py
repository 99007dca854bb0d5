"""Shared-memory tiled GEMM and the column sums of the bias gradients.

One kernel source, specialised per dtype, per transposition of each operand
and per tile shape: C[M, N] = op(A) @ op(B) (+ bias[n]) (+ C), where op(A) is
A ([M, K]) or A^T (A stored [K, M]), likewise op(B). A block computes a
BM x BN tile of C from BK-deep slices of A and B staged in shared memory
(loaded so that consecutive threads read consecutive addresses of whichever
layout the operand has); each thread keeps a TM x TN micro-tile of
accumulators in registers. The layer code uses it as haste does:

- input projection of all T*B columns at once: xp = x W_ih^T + b_ih (N, T)
- the recurrent GEMM of each step: h_t W_hh^T (N, T), dpre_t W_hh (N, N)
- after the backward sweep, over all its steps at once: dx = dpre W_ih (N, N),
  dW_ih += dpre^T x and dW_hh += dpre^T h (T, N)

Tile shapes: ``LARGE`` (64 x 64, 4 x 4 per thread, 256 threads) for big
GEMMs, ``SMALL`` (32 x 32, 2 x 2 per thread) when LARGE would leave SMs idle
(the skinny per-step GEMMs at small batch), and ``TINY`` (16 x 16 x 16, 16
threads) for Numba's simulator, which runs one Python thread per CUDA thread
and makes every ``syncthreads`` cost milliseconds (the test sizes then take
one block and one k-slice).
Shared memory is dynamic (sized at launch by ``Tile.shared_bytes``).
"""
import functools
from dataclasses import dataclass

import numpy as np
from numba import cuda
from numba.np import numpy_support

from .limits import SIMULATOR, device_limits, jit_kernel, launch


@dataclass(frozen=True)
class Tile:
    name: str
    bm: int
    bn: int
    bk: int
    tm: int
    tn: int

    @property
    def threads(self):
        return (self.bm // self.tm) * (self.bn // self.tn)

    def shared_bytes(self, itemsize):
        return self.bk * (self.bm + 1 + self.bn + 1) * itemsize


LARGE = Tile("64x64", 64, 64, 16, 4, 4)
SMALL = Tile("32x32", 32, 32, 16, 2, 2)
TINY = Tile("16x16", 16, 16, 16, 4, 4)
TILES = {t.name: t for t in (LARGE, SMALL, TINY)}


def _numba_type(dtype):
    return numpy_support.from_dtype(np.dtype(dtype))


@cuda.jit(device=True, inline="always")
def _tile_element(src, k_major, e, r0, k0, R, K, BR, BK, zero):
    """Element e of a BR x BK tile of a GEMM operand at rows r0.., k0..: its
    place (kk, rr) in the tile and its value (zero beyond the matrix).
    ``k_major``: the operand is stored [K, R] (consecutive threads along r),
    else [R, K] (along k), so that global reads coalesce either way."""
    if k_major:
        kk = e // BR
        rr = e - kk * BR
    else:
        rr = e // BK
        kk = e - rr * BK
    gr = r0 + rr
    gk = k0 + kk
    v = zero
    if gr < R and gk < K:
        if k_major:
            v = src[gk, gr]
        else:
            v = src[gr, gk]
    return kk, rr, v


@functools.lru_cache(maxsize=None)
def gemm_kernel(dtype, ta, tb, tile):
    """The GEMM kernel for one dtype name ('float32'/'float64'), operand
    transpositions and Tile. Arguments: (a, b, c, bias, accumulate, has_bias)."""
    nbt = _numba_type(dtype)
    ZERO = np.dtype(dtype).type(0)
    BM, BN, BK, TM, TN = tile.bm, tile.bn, tile.bk, tile.tm, tile.tn
    TX, TY = BN // TN, BM // TM
    NT = TX * TY
    A_LOADS, B_LOADS = BM * BK // NT, BK * BN // NT
    assert A_LOADS * NT == BM * BK and B_LOADS * NT == BK * BN
    TA, TB = bool(ta), bool(tb)

    LDA, LDB = BM + 1, BN + 1  # +1 padding: the transposing stores of a row-major operand hit distinct banks
    B_OFF = BK * LDA

    def gemm(a, b, c, bias, accumulate, has_bias):
        # dynamic shared memory (Tile.shared_bytes): As[kk, mm] at kk*LDA + mm, then Bs[kk, nn]
        smem = cuda.shared.array(0, nbt)
        acc = cuda.local.array((TM, TN), nbt)
        af = cuda.local.array(TM, nbt)
        bf = cuda.local.array(TN, nbt)
        M = c.shape[0]
        N = c.shape[1]
        K = a.shape[0] if TA else a.shape[1]
        tid = cuda.threadIdx.x
        tx = tid % TX
        ty = tid // TX
        m0 = cuda.blockIdx.y * BM
        n0 = cuda.blockIdx.x * BN
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = ZERO
        for k0 in range(0, K, BK):
            if k0 > 0:
                cuda.syncthreads()  # every thread is done reading the previous slices
            for load in range(A_LOADS):  # A is stored [K, M] when transposed
                kk, mm, v = _tile_element(a, TA, tid + load * NT, m0, k0, M, K, BM, BK, ZERO)
                smem[kk * LDA + mm] = v
            for load in range(B_LOADS):  # B is stored [K, N] unless transposed
                kk, nn, v = _tile_element(b, not TB, tid + load * NT, n0, k0, N, K, BN, BK, ZERO)
                smem[B_OFF + kk * LDB + nn] = v
            cuda.syncthreads()
            for kk in range(BK):
                for i in range(TM):
                    af[i] = smem[kk * LDA + ty + i * TY]
                for j in range(TN):
                    bf[j] = smem[B_OFF + kk * LDB + tx + j * TX]
                for i in range(TM):
                    for j in range(TN):
                        acc[i, j] += af[i] * bf[j]
        for i in range(TM):
            m = m0 + ty + i * TY
            if m < M:
                for j in range(TN):
                    n = n0 + tx + j * TX
                    if n < N:
                        v = acc[i, j]
                        if has_bias:
                            v += bias[n]
                        if accumulate:
                            v = c[m, n] + v
                        c[m, n] = v

    gemm.__name__ = gemm.__qualname__ = f"gemm_{'T' if TA else 'N'}{'T' if TB else 'N'}_{tile.name}_{dtype}"
    return jit_kernel(gemm, tile.threads)


COLSUM_TILE = (32, 8)   # columns per block, row groups per block
COLSUM_TINY = (16, 1)


@functools.lru_cache(maxsize=None)
def colsum_kernel(dtype, shape=COLSUM_TILE):
    """dst[n] (+)= sum_m src[m, n]: a block of CW columns x RG row groups,
    partial sums reduced in shared memory (deterministic, no atomics).
    Arguments: (src, dst, accumulate)."""
    nbt = _numba_type(dtype)
    ZERO = np.dtype(dtype).type(0)
    CW, RG = shape

    def colsum(src, dst, accumulate):
        part = cuda.shared.array(0, nbt)  # dynamic: [RG, CW]
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        n = cuda.blockIdx.x * CW + tx
        M = src.shape[0]
        N = src.shape[1]
        s = ZERO
        if n < N:
            for m in range(ty, M, RG):
                s += src[m, n]
        part[ty * CW + tx] = s
        cuda.syncthreads()
        if ty == 0 and n < N:
            total = part[tx]
            for r in range(1, RG):
                total += part[r * CW + tx]
            if accumulate:
                total = dst[n] + total
            dst[n] = total

    colsum.__name__ = colsum.__qualname__ = f"colsum_{CW}x{RG}_{dtype}"
    return jit_kernel(colsum, CW * RG)


_DUMMIES = {}


def dummy(dtype, ndim=1):
    """A one-element device array standing in for an unused argument."""
    key = (np.dtype(dtype).name, ndim)
    if key not in _DUMMIES:
        _DUMMIES[key] = cuda.to_device(np.zeros((1,) * ndim, dtype=dtype))
    return _DUMMIES[key]


def choose_tile(M, N):
    """TINY in the simulator; else LARGE unless it would give fewer blocks than SMs."""
    if SIMULATOR:
        return TINY
    blocks = -(-M // LARGE.bm) * -(-N // LARGE.bn)
    return LARGE if blocks >= device_limits().sm_count else SMALL


def gemm(a, b, c, ta=False, tb=False, bias=None, accumulate=False, tile=None):
    """c = op(a) @ op(b) (+ bias) (+ c) on device arrays (2-D, same dtype)."""
    M, K = (a.shape[1], a.shape[0]) if ta else a.shape
    K2, N = (b.shape[1], b.shape[0]) if tb else b.shape
    if K != K2 or tuple(c.shape) != (M, N):
        raise ValueError(f"c: expected shape ({M}, {N}) for op(a) {M}x{K} @ op(b) {K2}x{N}, got {tuple(c.shape)}")
    dtype = np.dtype(c.dtype).name
    tile = tile or choose_tile(M, N)
    if isinstance(tile, str):
        tile = TILES[tile]
    kernel = gemm_kernel(dtype, bool(ta), bool(tb), tile)
    has_bias = bias is not None
    grid = (-(-N // tile.bn), -(-M // tile.bm))
    launch(kernel, grid, tile.threads, (a, b, c, bias if has_bias else dummy(dtype), bool(accumulate), has_bias),
           shared=tile.shared_bytes(c.dtype.itemsize))


def colsum(src, dst, accumulate=True):
    """dst (+)= src.sum(axis=0) for a 2-D device array src [M, N], dst [N]."""
    shape = COLSUM_TINY if SIMULATOR else COLSUM_TILE
    kernel = colsum_kernel(np.dtype(dst.dtype).name, shape)
    launch(kernel, -(-src.shape[1] // shape[0]), shape, (src, dst, bool(accumulate)),
           shared=shape[0] * shape[1] * dst.dtype.itemsize)
