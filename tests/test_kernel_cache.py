"""Numba's on-disk cache of the CPU kernels goes stale when any kernel source
changes, not only the file of the function itself (kernels/cache.py)."""
import shutil

from numba.core.caching import IndexDataCacheFile

from rnnbench.kernels import blas, cache, cpu


def _cached_functions(module):
    return {name for name, obj in vars(module).items()
            if getattr(obj, "_cache", None) is not None and hasattr(obj._cache, "_cache_file")
            and obj.py_func.__module__ == module.__name__}


def test_every_cached_kernel_carries_the_sources_digest():
    digest = cache.kernel_sources_digest()
    for module in (cpu, blas):
        names = _cached_functions(module)
        assert names, module.__name__
        for name in names:
            stamp = getattr(module, name)._cache._cache_file._source_stamp
            assert isinstance(stamp, tuple) and stamp[1] == digest, f"{module.__name__}.{name}"
    assert "forward_layer" in _cached_functions(cpu) and "backward_layer" in _cached_functions(cpu)


def test_digest_follows_an_edit_to_the_cell_math(tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(cache.KERNEL_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "cuda"))
    before = cache.kernel_sources_digest(copy)
    assert before == cache.kernel_sources_digest()
    cells = copy / "cells.py"
    cells.write_text(cells.read_text() + "\n# an edit\n")
    assert cache.kernel_sources_digest(copy) != before


def test_an_index_written_under_other_kernel_sources_is_not_loaded(tmp_path):
    """The mechanism itself: Numba ignores an index whose stamp differs."""
    old = IndexDataCacheFile(str(tmp_path), "f-1.py311", ("file stamp", "old digest"))
    old.save("key", b"compiled")
    assert old.load("key") == b"compiled"
    assert IndexDataCacheFile(str(tmp_path), "f-1.py311", ("file stamp", "new digest")).load("key") is None
