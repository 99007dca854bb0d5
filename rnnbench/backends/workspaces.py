"""Large arrays reused from call to call instead of allocated afresh.

The first write into freshly allocated memory pays a page fault for every
4 KiB page. Measured on the 2-core Zen 3 virtual machine: the LSTM input GEMM
of H=256, B=32, T=100 (float32, a [T, B, 4H] result of 13 MB) took 14-17 ms
into an array written before, 27 ms into a fresh one from Numba's allocator
and 39-44 ms into a fresh one from NumPy's.

:class:`Workspaces` hands an array out again only when nothing else refers
to it: the pool's reference is then the only one (``sys.getrefcount``,
against the count of an array only a list holds, measured at import), so a
tape, an output or any view of them that a caller keeps holds its array out
of the pool. Contents are not cleared: take :meth:`Workspaces.zeros` where
the kernel needs zeros.
"""
import math
import sys

import numpy as np


def _refs(arrays, i):
    """References to arrays[i] as this expression sees them (the list's, and
    getrefcount's argument)."""
    return sys.getrefcount(arrays[i])


# measured once rather than assumed, so the check stays right on any
# interpreter's way of counting: what _refs sees of an array only a list holds
_ONLY_THE_POOL = _refs([np.empty(0)], 0)


class Workspaces:
    """A pool of arrays keyed by shape and dtype, holding at most
    ``max_bytes`` (beyond that, the least recently handed out leave it).
    Arrays under ``min_bytes`` are not pooled: the allocator serves those from
    memory it already has (glibc maps fresh pages only for blocks of 128 KiB
    and more, and raises that bound to the largest block freed)."""

    def __init__(self, max_bytes=1 << 30, min_bytes=1 << 20):
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes
        self._arrays = []  # least recently handed out first

    def empty(self, shape, dtype):
        """An array of this shape and dtype that nothing else uses; any content."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < self.min_bytes:  # math.prod: np.prod took 5-7 us a call
            return np.empty(shape, dtype)
        arrays = self._arrays
        for i in range(len(arrays)):  # no loop variable holding the arrays: it would count as a user
            if (arrays[i].shape == shape and arrays[i].dtype == dtype
                    and _refs(arrays, i) == _ONLY_THE_POOL):
                arrays.append(arrays.pop(i))
                return arrays[-1]
        a = np.empty(shape, dtype)
        self._arrays.append(a)
        self._trim()
        return a

    def zeros(self, shape, dtype):
        a = self.empty(shape, dtype)
        a.fill(0)
        return a

    def _trim(self):
        """Forget the least recently used arrays while the pool holds more than
        max_bytes; arrays still in use just leave the pool (their users keep them)."""
        total = sum(a.nbytes for a in self._arrays)
        while total > self.max_bytes and len(self._arrays) > 1:
            total -= self._arrays.pop(0).nbytes
