"""Large arrays reused from call to call instead of allocated afresh.

The first write into freshly allocated memory pays a page fault for every
4 KiB page. Measured on the 2-core Zen 3 virtual machine: the LSTM input GEMM
of H=256, B=32, T=100 (float32, a [T, B, 4H] result of 13 MB) took 14-17 ms
into an array written before, 27 ms into a fresh one from Numba's allocator
and 39-44 ms into a fresh one from NumPy's.

:class:`Workspaces` hands an array's memory out again only when nothing
else refers to it. A pooled array is a view of a uint8 buffer the pool
holds, and every view of it, at any depth, names that buffer as its base; so
the pool's reference to the buffer is then the only one (``sys.getrefcount``,
against the count of an array only a list holds, measured at import), and a
tape, an output or any view of them that a caller keeps holds its memory out
of the pool. Contents are not cleared: take :meth:`Workspaces.zeros` where
the kernel needs zeros.

Every pooled array starts on a cache line (ALIGNMENT bytes). NumPy's large
arrays start 16 bytes into a page, so every other 32-byte vector load from a
packed panel, and from the rows the cells read, straddled two cache lines.
Aligned, the LSTM forward on two threads ran 1.6-4.9% faster at H=512, B=16
and 1.6-4.7% at B=64 (four A/B runs in one process, 15-25 alternating rounds
each, on the 2-core Zen 3 machine).
"""
import math
import sys

import numpy as np

ALIGNMENT = 64  # bytes: a cache line


def _refs(arrays, i):
    """References to arrays[i] as this expression sees them (the list's, and
    getrefcount's argument)."""
    return sys.getrefcount(arrays[i])


# measured once rather than assumed, so the check stays right on any
# interpreter's way of counting: what _refs sees of an array only a list holds
_ONLY_THE_POOL = _refs([np.empty(0)], 0)


def _aligned_view(buffer, shape, dtype):
    """An array of this shape and dtype inside ``buffer`` (uint8, ALIGNMENT
    bytes longer than the array), starting on an ALIGNMENT-byte boundary."""
    start = -buffer.ctypes.data % ALIGNMENT
    return buffer[start:start + math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)


class Workspaces:
    """A pool of buffers keyed by their size (an array of any shape and dtype
    with as many bytes reuses a free one), holding at most ``max_bytes``
    (beyond that, the least recently handed out leave it).
    Arrays under ``min_bytes`` are not pooled: the allocator serves those from
    memory it already has (glibc maps fresh pages only for blocks of 128 KiB
    and more, and raises that bound to the largest block freed)."""

    def __init__(self, max_bytes=1 << 30, min_bytes=1 << 20):
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes
        self._buffers = []  # uint8, each ALIGNMENT bytes longer than its array; least recently handed out first

    def empty(self, shape, dtype):
        """An array of this shape and dtype that nothing else uses, starting
        on a cache line; any content."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize  # math.prod: np.prod took 5-7 us a call
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype)
        buffers = self._buffers
        for i in range(len(buffers)):  # no loop variable holding the buffers: it would count as a user
            if buffers[i].nbytes == nbytes + ALIGNMENT and _refs(buffers, i) == _ONLY_THE_POOL:
                buffers.append(buffers.pop(i))
                return _aligned_view(buffers[-1], shape, dtype)
        buffers.append(np.empty(nbytes + ALIGNMENT, np.uint8))
        a = _aligned_view(buffers[-1], shape, dtype)
        self._trim()
        return a

    def zeros(self, shape, dtype):
        a = self.empty(shape, dtype)
        a.fill(0)
        return a

    def _trim(self):
        """Forget the least recently used buffers while the pool holds more than
        max_bytes; arrays still in use just leave the pool (their users keep them)."""
        total = sum(b.nbytes for b in self._buffers)
        while total > self.max_bytes and len(self._buffers) > 1:
            total -= self._buffers.pop(0).nbytes
