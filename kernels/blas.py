"""GEMM through the BLAS that the compiled kernels use (np.dot inside Numba)."""
import numpy as np
from numba import njit


@njit(cache=True)
def gemm(a, b):
    """a @ b: [M, K] x [K, N] -> [M, N]."""
    return np.dot(a, b)
