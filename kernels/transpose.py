"""Transposed accumulation in SIMD blocks: dst[b, k] += src[k, b].

The feature-major recurrent products ([K, B], see
:func:`rnnbench.kernels.cpu.recurrent_product`) are added into batch-major
rows ([B, K]). Written as a scalar loop, LLVM cannot vectorise it: one side
is always read or written with a stride. :func:`add_transposed_block` instead
loads a square block of N x N elements as N vectors (N = 32 bytes / itemsize:
8 float32 or 4 float64, one AVX register each), transposes it in registers
and adds it into N rows of dst with vector loads and stores. Each element
still gets one IEEE addition, so the results are bit-identical to the
scalar loop's.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

VECTOR_BYTES = 32


def _transpose_masks(n):
    """The shuffles of the transpose network: log2(n) rounds in which row
    pairs (i, i + n/2) become rows (2i, 2i + 1) by interleaving their low and
    their high halves; after the last round row c holds column c."""
    lo = [x for m in range(n // 2) for x in (m, n + m)]
    hi = [x for m in range(n // 2, n) for x in (m, n + m)]
    return lo, hi, n.bit_length() - 1


@intrinsic
def add_transposed_block(typingctx, src, k0, b0, dst):
    """dst[b0 + c, k0 + r] += src[k0 + r, b0 + c] for r, c < N.

    ``src``: [K, B], ``dst``: [B, K], both 2-D float arrays of one dtype whose
    last axis has unit stride (the caller checks that, and the bounds)."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == dst.ndim == 2
            and src.dtype == dst.dtype and isinstance(src.dtype, types.Float)):
        return None
    dtype = src.dtype
    n = VECTOR_BYTES // (dtype.bitwidth // 8)
    lo, hi, rounds = _transpose_masks(n)

    def codegen(context, builder, sig, args):
        src_ty, k0_ty, b0_ty, dst_ty = sig.args
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

        k = context.cast(builder, args[1], k0_ty, types.intp)
        b = context.cast(builder, args[2], b0_ty, types.intp)
        rows = [builder.load(vector_at(src_ty, args[0], builder.add(k, ir.Constant(intp, r)), b), align=align)
                for r in range(n)]
        for _ in range(rounds):
            pairs = [(rows[i], rows[i + n // 2]) for i in range(n // 2)]
            rows = [builder.shuffle_vector(a, c, mask(m)) for a, c in pairs for m in (lo, hi)]
        for c, column in enumerate(rows):
            ptr = vector_at(dst_ty, args[3], builder.add(b, ir.Constant(intp, c)), k)
            builder.store(builder.fadd(builder.load(ptr, align=align), column), ptr, align=align)
        return context.get_dummy_value()

    return types.none(src, k0, b0, dst), codegen
