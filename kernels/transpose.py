"""Transposed copies in SIMD blocks: dst[q, p] = src[p, q].

Packing a weight's rows into panels (:func:`rnnbench.kernels.panels.pack_rows`)
is a transpose. Written as a scalar loop, LLVM cannot vectorise it: one side
is always read or written with a stride. :func:`store_transposed_block`
instead loads a square block of N x N elements as N vectors (N =
VECTOR_BYTES / itemsize, :mod:`rnnbench.kernels.simd`: with AVX-512 16
float32 or 8 float64, with AVX2 8 or 4, one register each), transposes it in
registers and stores it as N vectors.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import VECTOR_BYTES


def _transpose_masks(n):
    """The shuffles of the transpose network: log2(n) rounds in which row
    pairs (i, i + n/2) become rows (2i, 2i + 1) by interleaving their low and
    their high halves; after the last round row c holds column c."""
    lo = [x for m in range(n // 2) for x in (m, n + m)]
    hi = [x for m in range(n // 2, n) for x in (m, n + m)]
    return lo, hi, n.bit_length() - 1


@intrinsic
def store_transposed_block(typingctx, src, i0, j0, dst, p0, q0):
    """dst[p0 + c, q0 + r] = src[i0 + r, j0 + c] for r, c < N.

    ``src``, ``dst``: 2-D float arrays of one dtype whose last axis has unit
    stride (the caller checks that, and the bounds)."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == dst.ndim == 2
            and src.dtype == dst.dtype and isinstance(src.dtype, types.Float)):
        return None
    dtype = src.dtype
    n = VECTOR_BYTES // (dtype.bitwidth // 8)
    lo, hi, rounds = _transpose_masks(n)

    def codegen(context, builder, sig, args):
        src_ty, dst_ty = sig.args[0], sig.args[3]
        intp = context.get_value_type(types.intp)
        vec = ir.VectorType(context.get_value_type(dtype), n)
        align = dtype.bitwidth // 8

        def mask(indices):
            return ir.Constant(ir.VectorType(ir.IntType(32), n), [ir.Constant(ir.IntType(32), i) for i in indices])

        def vector_at(ty, value, i, j):
            arr = context.make_array(ty)(context, builder, value)
            ptr = cgutils.get_item_pointer2(context, builder, arr.data, cgutils.unpack_tuple(builder, arr.shape),
                                            cgutils.unpack_tuple(builder, arr.strides), ty.layout, [i, j])
            return builder.bitcast(ptr, vec.as_pointer())

        row0, col0, drow0, dcol0 = (context.cast(builder, args[a], sig.args[a], types.intp) for a in (1, 2, 4, 5))
        rows = [builder.load(vector_at(src_ty, args[0], builder.add(row0, ir.Constant(intp, r)), col0), align=align)
                for r in range(n)]
        for _ in range(rounds):
            pairs = [(rows[i], rows[i + n // 2]) for i in range(n // 2)]
            rows = [builder.shuffle_vector(a, c, mask(m)) for a, c in pairs for m in (lo, hi)]
        for c, column in enumerate(rows):
            ptr = vector_at(dst_ty, args[3], builder.add(drow0, ir.Constant(intp, c)), dcol0)
            builder.store(column, ptr, align=align)
        return context.get_dummy_value()

    return types.none(src, i0, j0, dst, p0, q0), codegen
