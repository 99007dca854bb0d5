"""Thread counts of every library that computes: set them together, record them."""
import sys

import numba


def set_threads(n):
    """Use n threads in Numba, every BLAS/OpenMP pool threadpoolctl sees, and torch
    (if it is imported). Returns the threadpoolctl limiter (keep it alive)."""
    from threadpoolctl import threadpool_limits
    if n < 1:
        raise ValueError(f"threads: expected a positive integer, got {n}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    limiter = threadpool_limits(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return limiter


def threads_in_use():
    """{'numba': n, 'blas': [{library, version, threads}], 'torch': n or None}."""
    from threadpoolctl import threadpool_info
    torch = sys.modules.get("torch")
    return {"numba": numba.get_num_threads(),
            "blas": [{"library": i.get("internal_api"), "version": i.get("version"),
                      "threads": i.get("num_threads"), "file": i.get("filepath")}
                     for i in threadpool_info() if i.get("user_api") == "blas"],
            "torch": torch.get_num_threads() if torch is not None else None}


def torch_info():
    """The torch peer's version, threads and whether oneDNN (mkldnn) is available, or None."""
    try:
        import torch
    except ImportError:
        return None
    return {"version": torch.__version__, "threads": torch.get_num_threads(),
            "onednn_available": bool(torch.backends.mkldnn.is_available())}
