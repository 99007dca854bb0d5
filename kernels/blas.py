"""GEMM through the BLAS that the compiled kernels use (SciPy's, as np.dot
inside Numba), with the full BLAS interface: transposes, alpha, beta.

Numba's np.dot only writes C = A B into a fresh or C-ordered array. The
weight gradients (rnnbench.kernels.cpu.weight_gradients) need two more
things from the same BLAS call: beta = 1, to accumulate into an existing
array, and a transposed operand (dW = P^T X over all steps at once);
:func:`gemm_rows` gives both on row-major arrays. The time loops themselves
use no BLAS (rnnbench.kernels.panels).

``numba_xxgemm`` is the Fortran-order gemm entry point Numba's own np.dot
calls (it dispatches to scipy.linalg.cython_blas by dtype); it is resolved by
name, so compiled functions stay cacheable.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas, get_blas_kind

from .cache import stamp_with_kernel_sources

_CHAR = ir.IntType(8)
_VOIDP = cgutils.voidptr_t


@intrinsic
def _xxgemm(typingctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major gemm: c = alpha op(a) op(b) + beta c (trans_*: 0 or 1)."""
    ensure_blas()
    dtype = c.dtype
    sig = types.int32(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        ta, tb, m_, n_, k_, al, a_, lda_, b_, ldb_, be, c_, ldc_ = args
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, intp, intp, intp, _VOIDP, _VOIDP, intp,
                                                _VOIDP, intp, _VOIDP, _VOIDP, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")

        def data(ty, value):
            return builder.bitcast(context.make_array(ty)(context, builder, value).data, _VOIDP)

        def slot(value, ty):
            ptr = cgutils.alloca_once(builder, context.get_value_type(dtype))
            builder.store(context.cast(builder, value, ty, dtype), ptr)
            return builder.bitcast(ptr, _VOIDP)

        def flag(value, ty):
            value = context.cast(builder, value, ty, types.intp)
            is_t = builder.icmp_signed("!=", value, ir.Constant(intp, 0))
            return builder.select(is_t, ir.Constant(_CHAR, ord("t")), ir.Constant(_CHAR, ord("n")))

        def size(value, ty):
            return context.cast(builder, value, ty, types.intp)

        s = signature.args
        return builder.call(fn, (ir.Constant(_CHAR, ord(get_blas_kind(dtype))), flag(ta, s[0]), flag(tb, s[1]),
                                 size(m_, s[2]), size(n_, s[3]), size(k_, s[4]), slot(al, s[5]), data(s[6], a_),
                                 size(lda_, s[7]), data(s[8], b_), size(ldb_, s[9]), slot(be, s[10]),
                                 data(s[11], c_), size(ldc_, s[12])))
    return sig, codegen


@njit(inline="always")
def _leading(x):
    """Row stride in elements of a 2-D array whose rows are contiguous."""
    return x.strides[0] // x.itemsize if x.shape[0] > 1 else max(x.shape[1], 1)


@njit(inline="always")
def gemm_rows(trans_a, trans_b, alpha, a, b, beta, c):
    """c = alpha op(a) op(b) + beta c on row-major 2-D arrays (rows contiguous,
    any row stride): op(x) = x.T if trans_x else x; a: [M, K] after op,
    b: [K, N] after op, c: [M, N]. Shapes are the caller's to get right.

    Row-major c is column-major c.T = op(b).T op(a).T: one Fortran gemm with
    M and N swapped and the operands' transpose flags carried over.
    """
    M, N = c.shape
    K = a.shape[0] if trans_a else a.shape[1]
    _xxgemm(trans_b, trans_a, N, M, K, alpha, b, _leading(b), a, _leading(a), beta, c, _leading(c))


@njit(cache=True)
def gemm(a, b):
    """a @ b: [M, K] x [K, N] -> [M, N]."""
    return np.dot(a, b)


stamp_with_kernel_sources(globals())  # see kernels/cache.py
