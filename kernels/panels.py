"""Products against a weight packed in panels, in our own SIMD micro-kernel.

The per-step products of a recurrent layer multiply a small batch by the
same weight T times: W_hh h_t forward, dgates_t W_hh backward. A BLAS gemm
repacks that weight on every call, and splits each call over its own
threads, which then sit idle through the cell math. Here the weight is
packed once per layer call into panels of P rows (P = 2 SIMD vectors of
VECTOR_BYTES, :mod:`rnnbench.kernels.simd`: 32 float32 or 16 float64
elements with AVX-512, 16 or 8 with AVX2), each panel stored k-major::

    packed[(p K + k) P + r] = w[p P + r, k]     (zero past the last row)

(:func:`pack_rows`; :func:`pack_columns` packs the columns of a [K, N]
array the same way, for products with w itself rather than w^T), and
:func:`panels_product` computes, for a run of panels p and every row n of a
batch b::

    c[n, c_col + q P + r] += sum_k b[n, k] packed[((p + q) K + k) P + r]

(:func:`panels_product_onto`: the same onto a bias instead of c), so a team
of threads can split a product by panels and each thread add its part
straight into the batch-major rows the cell math reads, with no transposed
copy in between.

The micro-kernel (:func:`_make_micro_kernel`) holds an NR x P block of c in
2 NR vector registers (NR <= ROWS = 6: 12 accumulators, 2 panel vectors and
1 broadcast, within AVX2's 16 registers) and per k does 2 NR fused
multiply-adds: panel row k (2 vector loads) times b[n, k] broadcast. With
AVX-512's 32 registers (PANEL_PAIRS), the runs of panels take two whole
panels a call: an NR x 2P block in 4 NR registers (24 accumulators, 4 panel
vectors, 1 broadcast), each broadcast and each load of b serving twice the
fused multiply-adds. Two threads, Zen 4, one process against one panel a
call: the input projection alone 0.90-0.94 of the time (H = 256..1024), the
forward 0.93-0.96 (LSTM at B >= 16), 0.91 (LSTM, batch 1), 0.94-0.99 (GRU,
vanilla RNN). Under
ACCUMULATORS = 8 accumulators (NR < 4) the fused multiply-adds would wait on
each other (4 cycles' latency, 2 a cycle: 8 in flight), so k is dealt
round-robin to ceil(8 / 2 NR) sets of accumulators, added at the end: with
two threads, LSTM H = 256, B = 1, T = 200 forward 2.94-2.99 ms instead of
3.44-3.49 (GRU 2.15-2.35 instead of 2.65-2.70). The N rows of a batch
go to ceil(N / ROWS) calls of as even sizes as can be: 32 rows as 6 6 5 5 5
5, not five calls of 6 and one of 2, whose two panel vectors and two
broadcasts a k feed only four fused multiply-adds. Forward, two threads, Zen
3, one process, interleaved, against calls of ROWS rows and the rest: LSTM
H = 64, B = 8 (4 4 instead of 6 2) 0.87 of the time; vanilla RNN H = 256,
B = 32 0.96-0.97; LSTM 0.98-0.99, H = 512, B = 64 0.97; GRU and H = 512,
B = 16 0.99-1.00. Each call runs the whole of K; where a panel outgrows
L1, the row groups after the first read it from L2. K in blocks of 256, so
that a panel's block stayed in L1 across the row groups, cost a call's
fixed work and a pass over c per block. Two threads, Zen 3, one process,
interleaved, no blocks against blocks of 256 (the same for K <= 256):
forward, float32, H = 512, B = 16 0.98-1.01 (vanilla RNN, LSTM, GRU),
B = 64 0.98-0.99; H = 1024, B = 16 0.95-0.98; float64 0.96-1.00 at
H = 512..1024; forward+backward (K up to 4 H) 0.97-0.99 at H = 512..1024
and 0.97-0.98 at H = 2048; blocks of 512 or 1024 fell in between.
Summation order differs from a BLAS gemm's (one fused multiply-add per
term), as gemms differ among themselves.

Measured on 2-core Zen 3 (AVX2), one thread, float32, GFLOP/s against
OpenBLAS's gemm on one thread and on two: [1024 x 256] by B = 32: 89-90
against 79 and 144; [2048 x 512] by B = 16: 90-96 against 54-68 and 97;
[4096 x 1024] by B = 16: 69-77 against 54 and 85; [1024 x 256] by B = 1:
23-27 against 9 (bound by the L3 cache: 1 MiB is twice the L2; a gemv is
about as fast). On the 2-core Zen 4 (AVX-512 on 256-bit units), one thread,
float32, with 64-byte vectors: [1024 x 256] by B = 32 101-110, [2048 x 512]
by B = 16 103-107 and by B = 64 103-111, [1024 x 256] by B = 1 39-40; with
32-byte vectors, the same code swung between 75 and 109 from one process to
the next (batch 1: 33-41); OpenBLAS (its SkylakeX kernels) on one thread
57-75. When K still ran in blocks, a prefetch of the next block from inside
the micro-kernel (one cache line per k, in the first call on each block)
made the LSTM forward 2-8% slower at H = 256..1024, B = 1..64 (Zen 3),
though it sped up the projection alone at H = 1024, where packed W_ih is 16
MiB. Starting the first set of accumulators from ``onto`` instead of adding
it at the end (so that its loads, which often miss, overlap the loop)
measured 0.95-1.02 of the time on every kind (Zen 4, two threads): not
kept. Each call instead prefetches the lines of ``onto`` it adds at the end
(:func:`_prefetch`), which in a forward step are the pre-activations the
input projection wrote long before, often out in L3; the k loop then hides
their latency. Zen 3, two threads, one process, timed as
:mod:`rnnbench.timing` times, six runs (medians of paired samples): the
forward at H = 256, B = 32, T = 100 LSTM 0.94-0.98, vanilla ReLU RNN
0.93-1.00 (median 0.97), tanh 0.96-1.02, GRU 0.97-0.99; at H = 512, B = 16
ReLU 0.96-1.04 (median 0.985), LSTM and GRU 0.99-1.02; LSTM at B = 64 1.00;
batch 1 0.92-0.98; forward+backward 0.96-1.02 (the backward's products add
onto rows just written). Timed with paired rounds after a short pause
instead (where the team often starts on one core, see
:mod:`rnnbench.kernels.team`), the same prefetch had read 0.94-1.02. On the
2-core Zen 3, one thread, panels and rows in L1, a call for 6 rows takes
6.3-6.5 cycles (3.2 GHz) a k (its 12 fused multiply-adds need 6) plus
130-160 cycles of its own (K = 64..256): 86-92 GFLOP/s at K = 256 against
102 for bare fused multiply-adds. The k loop unrolled by 4 in the IR (LLVM
unrolls it by 2 itself): 32 rows at K = 256 92.4 -> 94.3 GFLOP/s, 6 rows
91.0 -> 92.0, 2 rows 56.9 -> 51.2; the forward, two threads, in one
process, paired rounds, 0.96-1.01 of the time (vanilla RNN, LSTM, GRU;
batch 1 1.05), bit for bit the same: not kept. Nor b's rows addressed from
one pointer plus loop-invariant offsets (7 integer instructions a 2-k
iteration instead of 15): 0.97-1.01 at K = 256 for 2 to 32 rows. Nor the
per-step products with the rows outside and the panels inside, so that a
call's rows stay in L1 across a unit group's panels, which then stream from
L2 once a row group: the forward, two threads, timed as
:mod:`rnnbench.timing` times, 0.99-1.01 (vanilla RNN, LSTM, batch 1 to 32),
GRU 0.95-1.01, bit for bit the same.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .cache import stamp_with_kernel_sources
from .simd import VECTOR_BYTES
from .transpose import store_transposed_block

PANEL_VECTORS = 2     # vectors per panel row: P = 2 * VECTOR_BYTES / itemsize
ROWS = 6              # batch rows per micro-kernel call, at most
ACCUMULATORS = 8      # vector accumulators per micro-kernel call, at least: FMA latency (4) x FMA ports (2)
PACK_ROWS = 64        # rows of w per block of pack_columns
ROW_BLOCK = 48        # rows of b per pass over the panels in panels_product_onto (8 micro-kernel calls)
LINE_BYTES = 64       # a cache line
PANEL_PAIRS = VECTOR_BYTES == 64  # runs of panels go two a call: 6 x 4 accumulators fit AVX-512's 32 registers


@njit(inline="always")
def panel_width(a):
    """P, the rows of a panel, for the dtype of array a."""
    return PANEL_VECTORS * VECTOR_BYTES // a.itemsize


def panel_rows(dtype):
    """P, the rows of a panel, for this dtype (:func:`panel_width` outside compiled code)."""
    return PANEL_VECTORS * VECTOR_BYTES // np.dtype(dtype).itemsize


def unit_panels(n, dtype):
    """ceil(n / P): the panels that hold n rows, for this dtype."""
    return -(-n // panel_rows(dtype))


def packed_size(n, K, dtype):
    """Elements of n rows (or columns) of length K packed in panels."""
    return unit_panels(n, dtype) * panel_rows(dtype) * K


@njit(inline="always")
def panel_count(n, a):
    """Panels that hold n rows, for the dtype of array a."""
    p = panel_width(a)
    return (n + p - 1) // p


def _item_pointer(context, builder, ty, value, indices):
    arr = context.make_array(ty)(context, builder, value)
    return cgutils.get_item_pointer2(context, builder, arr.data, cgutils.unpack_tuple(builder, arr.shape),
                                     cgutils.unpack_tuple(builder, arr.strides), ty.layout, indices)


def _prefetch(builder, pointers, nbytes):
    """Prefetch, for reading into every cache level, the nbytes from each
    pointer on, a cache line at a time."""
    byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    prefetch = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0i8")
    read, keep_in_all_levels, data = (ir.Constant(i32, v) for v in (0, 3, 1))
    for pointer in pointers:
        start = builder.bitcast(pointer, byte_pointer)
        for offset in range(0, nbytes, LINE_BYTES):
            line = builder.gep(start, [ir.Constant(ir.IntType(64), offset)])
            builder.call(prefetch, [line, read, keep_in_all_levels, data])


def _make_micro_kernel(nr, panels=1):
    """The micro-kernel for nr rows of the batch and ``panels`` adjacent
    panels (an intrinsic per nr and panels, so the accumulators are a fixed
    set of registers)."""

    @intrinsic
    def micro_kernel(typingctx, packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row,
                     onto_step):
        """c[c_row + j, c_col + q P + r] = onto[onto_row + j onto_step, c_col
        + q P + r] + sum_{k < K} packed[a0 + q stride + k P + r] b[b_row + j, k]
        for j < nr, q < panels and q P + r < ncols (<= panels P):
        ``onto`` is c itself (onto_row = c_row, onto_step = 1) to accumulate,
        or a row of initial values (a bias: onto_step = 0); ``stride``: the
        distance between the panels (K P for whole panels of length K).
        packed: 1-D contiguous; b, c, onto: 2-D, unit stride along their last
        axis; one float dtype. Bounds are the caller's to check."""
        arrays = (packed, b, c, onto)
        if not (all(isinstance(a, types.Array) for a in arrays) and packed.ndim == 1
                and b.ndim == c.ndim == onto.ndim == 2 and isinstance(packed.dtype, types.Float)
                and all(a.dtype == packed.dtype for a in arrays)):
            return None
        dtype = packed.dtype
        lanes = VECTOR_BYTES // (dtype.bitwidth // 8)
        width = PANEL_VECTORS * lanes
        vectors = PANEL_VECTORS * panels  # accumulators a row of the batch
        sig = types.none(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)

        def codegen(context, builder, signature, args):
            packed_ty, b_ty, c_ty, onto_ty = (signature.args[i] for i in (0, 4, 6, 10))
            intp = context.get_value_type(types.intp)
            i32 = ir.IntType(32)
            scalar = context.get_value_type(dtype)
            vec = ir.VectorType(scalar, lanes)
            align = dtype.bitwidth // 8

            def index(i):
                return context.cast(builder, args[i], signature.args[i], types.intp)

            def const(v):
                return ir.Constant(intp, v)

            def vector(ptr, v):
                return builder.bitcast(builder.gep(ptr, [const(v * lanes)]), vec.as_pointer())

            a0_, stride_, K_, brow, crow, ccol, ncols_, orow, ostep = (index(i) for i in
                                                                       (1, 2, 3, 5, 7, 8, 9, 11, 12))
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                                 "llvm.fma.v%df%d" % (lanes, dtype.bitwidth))
            zero = ir.Constant(vec, [ir.Constant(scalar, 0.0)] * lanes)
            undef = ir.Constant(vec, ir.Undefined)
            splat = ir.Constant(ir.VectorType(i32, lanes), [ir.Constant(i32, 0)] * lanes)
            chains = -(-ACCUMULATORS // (vectors * nr))  # accumulator sets, each summing every chains-th k
            accs = [[[cgutils.alloca_once_value(builder, zero) for _ in range(vectors)] for _ in range(nr)]
                    for _ in range(chains)]
            onto_rows = [_item_pointer(context, builder, onto_ty, args[10],
                                       [builder.add(orow, builder.mul(ostep, const(j))), ccol]) for j in range(nr)]
            _prefetch(builder, onto_rows, width * panels * align)
            starts = [_item_pointer(context, builder, packed_ty, args[0],
                                    [builder.add(a0_, builder.mul(stride_, const(q)))]) for q in range(panels)]
            b_rows = [_item_pointer(context, builder, b_ty, args[4], [builder.add(brow, const(j)), const(0)])
                      for j in range(nr)]

            def multiply_add(k, acc):  # acc += the panels' row k times b[., k]: vectors nr fused multiply-adds
                rows = [builder.gep(start, [builder.mul(k, const(width))]) for start in starts]
                ws = [builder.load(vector(row, v), align=align) for row in rows for v in range(PANEL_VECTORS)]
                for j in range(nr):
                    s = builder.load(builder.gep(b_rows[j], [k]))
                    s = builder.shuffle_vector(builder.insert_element(undef, s, ir.Constant(i32, 0)), undef, splat)
                    for v in range(vectors):
                        builder.store(builder.call(fma, [ws[v], s, builder.load(acc[j][v])]), acc[j][v])

            rounds = builder.sdiv(K_, const(chains))
            with cgutils.for_range(builder, rounds) as loop:
                k = builder.mul(loop.index, const(chains))
                for chain in range(chains):
                    multiply_add(builder.add(k, const(chain)), accs[chain])
            done = builder.mul(rounds, const(chains))
            with cgutils.for_range(builder, builder.sub(K_, done)) as loop:
                multiply_add(builder.add(done, loop.index), accs[0])
            sums = [[builder.load(accs[0][j][v]) for v in range(vectors)] for j in range(nr)]
            for chain in range(1, chains):
                sums = [[builder.fadd(sums[j][v], builder.load(accs[chain][j][v])) for v in range(vectors)]
                        for j in range(nr)]
            c_rows = [_item_pointer(context, builder, c_ty, args[6], [builder.add(crow, const(j)), ccol])
                      for j in range(nr)]
            with builder.if_else(builder.icmp_signed("==", ncols_, const(width * panels))) as (whole, part):
                with whole:  # every row as vectors
                    for j in range(nr):
                        for v in range(vectors):
                            total = builder.fadd(builder.load(vector(onto_rows[j], v), align=align), sums[j][v])
                            builder.store(total, vector(c_rows[j], v), align=align)
                with part:  # the last panel of a block of rows: the first ncols elements only
                    spill = cgutils.alloca_once(builder, scalar, size=width * panels)
                    for j in range(nr):
                        for v in range(vectors):
                            builder.store(sums[j][v], vector(spill, v), align=align)
                        with cgutils.for_range(builder, ncols_) as lane:
                            total = builder.fadd(builder.load(builder.gep(onto_rows[j], [lane.index])),
                                                 builder.load(builder.gep(spill, [lane.index])))
                            builder.store(total, builder.gep(c_rows[j], [lane.index]))
            return context.get_dummy_value()

        return sig, codegen

    return micro_kernel


def _rows_dispatch(panels):
    """_rows_block(nr, ...): the micro-kernel for nr (1..ROWS) rows over
    ``panels`` adjacent panels, chosen at run time."""
    k1, k2, k3, k4, k5, k6 = (_make_micro_kernel(nr, panels) for nr in range(1, ROWS + 1))

    @njit(inline="always")
    def rows_block(nr, packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step):
        if nr == 6:
            k6(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)
        elif nr == 5:
            k5(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)
        elif nr == 4:
            k4(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)
        elif nr == 3:
            k3(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)
        elif nr == 2:
            k2(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)
        else:
            k1(packed, a0, stride, K, b, b_row, c, c_row, c_col, ncols, onto, onto_row, onto_step)

    return rows_block


_rows_block = _rows_dispatch(1)
_pair_rows_block = _rows_dispatch(2)


@intrinsic
def _copy_panel_row(typingctx, src, i, j, dst, k):
    """dst[k, :P] = src[i, j:j + P] (2-D arrays of one float dtype, unit
    stride along their last axis), as P elements' worth of vector moves."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == dst.ndim == 2
            and src.dtype == dst.dtype and isinstance(src.dtype, types.Float)):
        return None
    dtype = src.dtype
    nbytes = PANEL_VECTORS * VECTOR_BYTES

    def codegen(context, builder, sig, args):
        def index(a):
            return context.cast(builder, args[a], sig.args[a], types.intp)

        zero = ir.Constant(context.get_value_type(types.intp), 0)
        from_ = _item_pointer(context, builder, sig.args[0], args[0], [index(1), index(2)])
        to = _item_pointer(context, builder, sig.args[3], args[3], [index(4), zero])
        cgutils.raw_memcpy(builder, to, from_, ir.Constant(ir.IntType(64), nbytes // (dtype.bitwidth // 8)),
                           dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(src, i, j, dst, k), codegen


@njit(inline="always")
def _panel_view(packed, p, K):
    """Panel p of ``packed`` as a [K, P] array."""
    P = panel_width(packed)
    return packed[p * K * P:(p + 1) * K * P].reshape((K, P))


@njit(cache=True)
def pack_rows(w, r0, nrows, packed, p):
    """Pack rows r0 .. r0 + nrows of w: [N, K] (nrows <= P; rows of unit
    stride) as panel p of ``packed`` (1-D, at least (p + 1) K P long), zero
    past nrows: panel_p[k, r] = w[r0 + r, k]. Square blocks go through
    :func:`store_transposed_block`, the edges element by element. In a
    forward, packing waits on memory: a version 1.5x faster on a cached panel
    (in-lane shuffles, no pass over the edges of whole panels) changed the
    LSTM and GRU forward by 0.1% (H = 512, B = 16, 25 rounds in one process)."""
    K = w.shape[1]
    dst = _panel_view(packed, p, K)
    N = VECTOR_BYTES // w.itemsize
    in_blocks = nrows - nrows % N
    k_blocks = K - K % N
    for k in range(0, k_blocks, N):  # whole panel rows at a time: each cache line written once
        for r in range(0, in_blocks, N):
            store_transposed_block(w, r0 + r, k, dst, k, r)
    for k in range(K):
        row = dst[k]
        for r in range(in_blocks if k < k_blocks else 0, nrows):
            row[r] = w[r0 + r, k]
        row[nrows:] = 0.0


@njit(cache=True)
def panel_is_finite(packed, p, K):
    """Whether every element of panel p ([K, P]) of ``packed`` is finite:
    x - x is 0 for a finite x and NaN for inf or NaN, and the or of the
    comparisons vectorises (0.6 us for a [512, 16] float32 panel in cache)."""
    P = panel_width(packed)
    panel = packed[p * K * P:(p + 1) * K * P]
    nonfinite = False
    for i in range(panel.shape[0]):
        nonfinite |= (panel[i] - panel[i]) != 0.0
    return not nonfinite


@njit(cache=True)
def pack_columns(w, c0, c1, packed, p0):
    """Pack columns c0 .. c1 of w: [K, N] (rows of unit stride) as panels p0,
    p0 + 1, ... of ``packed``, P columns each, the last one zero past c1:
    panel_{p0 + q}[k, r] = w[k, c0 + q P + r]. In blocks of PACK_ROWS rows
    of w, so each panel is written in runs of whole pages and each row of w
    read from cache (a panel at a time, down all of w, costs a page walk per
    64 bytes: 3-5x slower)."""
    K = w.shape[0]
    P = panel_width(packed)
    n = c1 - c0
    for k0 in range(0, K, PACK_ROWS):
        k1 = min(K, k0 + PACK_ROWS)
        for q in range((n + P - 1) // P):
            m = min(P, n - q * P)
            dst = _panel_view(packed, p0 + q, K)
            for k in range(k0, k1):
                if m == P:
                    _copy_panel_row(w, k, c0 + q * P, dst, k)
                else:
                    for r in range(P):
                        dst[k, r] = w[k, c0 + q * P + r] if r < m else 0.0


@njit(inline="always")
def _product(pair, packed, p, K, b, c, c_col, ncols, onto, onto_step):
    """Panel p (with ``pair``, panels p and p + 1, whole: ncols = 2 P)
    against every row of b, onto ``onto`` (see the micro-kernel's)."""
    N = b.shape[0]
    P = panel_width(packed)
    base, stride = p * K * P, K * P
    groups = (N + ROWS - 1) // ROWS  # the rows in groups of as even sizes as can be (see ROWS)
    for i in range(groups):
        n0 = i * N // groups
        nr = (i + 1) * N // groups - n0
        if pair:
            _pair_rows_block(nr, packed, base, stride, K, b, n0, c, n0, c_col, ncols, onto, n0 * onto_step, onto_step)
        else:
            _rows_block(nr, packed, base, stride, K, b, n0, c, n0, c_col, ncols, onto, n0 * onto_step, onto_step)


@njit(inline="always")
def _panels(packed, p, K, b, c, c_col, ncols, onto, onto_step):
    """:func:`_product` over panels p, p + 1, ... (columns c_col .. c_col +
    ncols of c, P each, the last ones up to ncols), two whole panels a
    micro-kernel call where PANEL_PAIRS."""
    P = panel_width(packed)
    step = 2 * P if PANEL_PAIRS else P
    for done in range(0, ncols, step):
        if PANEL_PAIRS and ncols - done >= 2 * P:
            _product(True, packed, p + done // P, K, b, c, c_col + done, 2 * P, onto, onto_step)
        else:
            for q in range(done, min(ncols, done + step), P):
                _product(False, packed, p + q // P, K, b, c, c_col + q, min(P, ncols - q), onto, onto_step)


@njit(cache=True, error_model="numpy")
def panels_product(packed, p, K, b, c, c_col, ncols):
    """c[:, c_col:c_col + ncols] += b[:, :K] @ panels p, p + 1, ... (P
    columns each, the last ones up to ncols) for every row of b ([N, >= K])
    and c ([N, >= c_col + ncols]), both with rows of unit stride; each panel
    of ``packed`` is [K, P] (:func:`pack_rows`, :func:`pack_columns`). For
    the per-step products."""
    _panels(packed, p, K, b, c, c_col, ncols, c, 1)


@njit(cache=True, error_model="numpy")
def panels_product_onto(packed, K, b, bias, c, c0, c1):
    """c[:, c0:c1] = bias[c0:c1] + b[:, :K] @ the panels of columns c0..c1
    (c0 a multiple of P; panel c // P holds columns c .. c + P; c's old
    content is not read) for every row of b, ROW_BLOCK rows of b at a time
    (they stay in cache while every panel passes over them): for the
    products of many rows (the input projection, dx)."""
    N = b.shape[0]
    P = panel_width(packed)
    onto = bias.reshape((1, bias.shape[0]))
    for n0 in range(0, N, ROW_BLOCK):
        n1 = min(N, n0 + ROW_BLOCK)
        _panels(packed, c0 // P, K, b[n0:n1], c[n0:n1], c0, c1 - c0, onto, 0)


stamp_with_kernel_sources(globals())  # see kernels/cache.py
