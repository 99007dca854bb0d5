"""Numba's on-disk cache, made to notice edits to any kernel source.

Numba keys a cached function on its own source file only: the time loops in
:mod:`rnnbench.kernels.cpu` inline the cell math of
:mod:`rnnbench.kernels.cells` (and :mod:`.blas`, :mod:`.transpose`), so after
an edit to cells.py alone the cache would go on serving the old cell math,
silently. :func:`stamp_with_kernel_sources` adds a digest of every kernel
source file to the stamp each cached function's index is checked against: an
edit to any of them makes the index stale, and the function is compiled anew.
The SIMD width the kernels are built for (:mod:`rnnbench.kernels.simd`; an
environment variable can override the CPU's choice) joins the stamp too.
(pip installs rewrite every file anyway; this guards editable installs.)
"""
import functools
import hashlib
from pathlib import Path

from .simd import VECTOR_BYTES

KERNEL_DIR = Path(__file__).resolve().parent


def kernel_sources_digest(directory=KERNEL_DIR):
    """sha256 over the names and contents of the kernel modules (``*.py`` in
    ``directory``, the CUDA subpackage aside: it is not cached on disk)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _installed_digest():
    """kernel_sources_digest() of this installation, read once a process."""
    return kernel_sources_digest()


def stamp_with_kernel_sources(namespace):
    """Extend the cache stamp of every cached Numba function in ``namespace``
    (a module's globals) with the digest of the installed kernel sources
    and the SIMD width they are built for."""
    digest = _installed_digest()
    for obj in namespace.values():
        index = getattr(getattr(obj, "_cache", None), "_cache_file", None)  # numba.core.caching.IndexDataCacheFile
        if index is None or not hasattr(index, "_source_stamp"):
            continue  # not cached (or a Numba whose cache is laid out differently; tests/test_kernel_cache.py notices)
        if getattr(obj, "py_func", None) is None or obj.py_func.__module__ != namespace.get("__name__"):
            continue  # defined elsewhere: its own module stamps it
        index._source_stamp = (index._source_stamp, digest, VECTOR_BYTES)
