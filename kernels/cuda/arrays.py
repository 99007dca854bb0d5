"""Device arrays: what crosses the host/device boundary, and how.

- A NumPy array is copied to the device (once per call, by the backend).
- An object with ``__cuda_array_interface__`` (a CuPy array, a torch CUDA
  tensor, a Numba device array) is used where it lies, with no copy; a
  non-contiguous one gets one device-side contiguous copy (the layer code
  reshapes its inputs).
- Under the simulator, its fake device arrays play the second role.
"""
import numpy as np
from numba import cuda

from . import pointwise
from .limits import SIMULATOR, grid_for, jit_kernel, launch, threads_for


def is_device_array(a):
    """True for arrays that live on the device (no copy needed)."""
    if SIMULATOR:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        return isinstance(a, FakeCUDAArray)
    return cuda.is_cuda_array(a)


def as_device(a):
    """A contiguous device array for ``a``: NumPy arrays are copied in,
    device arrays (CUDA array interface) are used in place."""
    if is_device_array(a):
        d = a if SIMULATOR else cuda.as_cuda_array(a)
        return d if d.is_c_contiguous() else _contiguous(d)
    return cuda.to_device(np.ascontiguousarray(a))


def to_host(d):
    return d.copy_to_host()


def empty(shape, dtype):
    return cuda.device_array(shape, dtype=dtype)


def zeros(shape, dtype):
    a = cuda.device_array(shape, dtype=dtype)
    if a.size:
        pointwise.fill(flat(a), 0)
    return a


def flat(a):
    """1-D view of a contiguous device array."""
    return a.reshape(a.size)


_STRIDED = {}


def _contiguous(d):
    """Device-side contiguous copy of a strided device array (1 to 3 dims)."""
    if d.ndim > 3:
        raise ValueError(f"array: expected at most 3 dimensions on the device, got {d.ndim}")
    shape3 = (1,) * (3 - d.ndim) + tuple(d.shape)
    if d.ndim not in _STRIDED:
        _STRIDED[d.ndim] = jit_kernel(_copy_strided(d.ndim), pointwise.MAX_THREADS)
    out = empty(d.shape, d.dtype)
    n = int(np.prod(shape3))
    if n:
        threads = threads_for(n, pointwise.MAX_THREADS)
        launch(_STRIDED[d.ndim], grid_for(n, threads), threads, (d, flat(out), shape3[1], shape3[2]))
    return out


def _copy_strided(ndim):
    if ndim == 1:
        def copy_strided_1d(src, dst, n1, n2):
            for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
                dst[i] = src[i]
        return copy_strided_1d
    if ndim == 2:
        def copy_strided_2d(src, dst, n1, n2):
            for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
                a = i // n2
                dst[i] = src[a, i - a * n2]
        return copy_strided_2d

    def copy_strided_3d(src, dst, n1, n2):
        for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
            r = i // n2
            a = r // n1
            dst[i] = src[a, r - a * n1, i - r * n2]
    return copy_strided_3d
