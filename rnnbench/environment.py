"""Record of the machine and software a benchmark ran on.

A number in a benchmark report is only as trustworthy as the record of where it
was measured.  Timings of Numba kernels against PyTorch depend on the CPU (and
whether it has AVX-512), on how many cores the process may use, on the thread
counts Numba and the BLAS libraries actually chose, on the versions of every
package in the stack, and on the exact source that was compiled.
:func:`capture_environment` gathers all of that into one JSON-serialisable dict
to be written next to the results of a run; :func:`threads_summary` turns the
thread part of it into one line for logs and report headers, and
:func:`blas_kernel_warning` says when the environment forced OpenBLAS's kernels.

Every probe is defensive: something that cannot be read is recorded as ``None``
(or ``[]`` for the BLAS list), never raised, so capturing the environment can
not break a benchmark run.

Recorded keys: ``cpu_model``, ``cpu_count``, ``cpu_affinity``,
``cpu_flags_avx512``, ``memory_gib``, ``os``, ``hostname``, ``python``,
``versions``, ``blas``, ``numba``, ``env``, ``git``.
"""
from __future__ import annotations

import os
import platform
import subprocess
import warnings
from importlib.metadata import version as _dist_version
from pathlib import Path

PACKAGES = ("rnnbench", "numpy", "scipy", "numba", "llvmlite", "torch", "pandas",
            "matplotlib", "click")
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NUMBA_ENABLE_CUDASIM",
            "CUDA_VISIBLE_DEVICES")
BLAS_KEYS = ("internal_api", "prefix", "version", "num_threads", "threading_layer",
             "architecture", "filepath")
GIT_TIMEOUT_S = 5


def _safe(probe, *args, default=None):
    """``probe(*args)``, or ``default`` if it raises anything at all."""
    try:
        return probe(*args)
    except Exception:
        return default


# --- CPU and memory -------------------------------------------------------------------------

def _cpuinfo_field(name: str) -> str | None:
    """The value of the first ``name : value`` line of /proc/cpuinfo, or None."""
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            key, sep, value = line.partition(":")
            if sep and key.strip() == name:
                return value.strip()
    return None


def _cpu_model() -> str | None:
    model = _safe(_cpuinfo_field, "model name") or _safe(platform.processor)
    return model or None


def _cpu_affinity() -> int | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    return len(os.sched_getaffinity(0))


def _cpu_flags_avx512() -> bool | None:
    flags = _cpuinfo_field("flags")
    return None if flags is None else "avx512f" in flags.split()


def _memory_gib() -> float | None:
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return round(kib / 1024**2, 1)
    return None


# --- software -------------------------------------------------------------------------------

def _versions() -> dict:
    """Installed distribution versions (metadata only: nothing is imported)."""
    return {name: _safe(_dist_version, name) for name in PACKAGES}


def _blas() -> list:
    """The BLAS libraries loaded by numpy and by scipy's cython_blas (the one Numba calls)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import numpy  # noqa: F401  (loads numpy's BLAS)
    _safe(__import__, "scipy.linalg.cython_blas")  # loads scipy's BLAS, if scipy is present
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. threadpoolctl's warning about two OpenMP runtimes
        info = threadpool_info()
    return [{key: lib.get(key) for key in BLAS_KEYS}
            for lib in info if lib.get("user_api") == "blas"]


def _numba_threading_layer() -> str | None:
    import numba
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet, so no layer is chosen
        return None


def _numba_num_threads(layer_started: bool) -> int:
    import numba
    if layer_started:
        return numba.get_num_threads()
    # get_num_threads() would start the thread pool (and fix the threading layer) as a side
    # effect; before that, the thread count it reports is config.NUMBA_NUM_THREADS.
    return int(numba.config.NUMBA_NUM_THREADS)


def _numba() -> dict:
    from numba import config
    layer = _safe(_numba_threading_layer)  # read first: nothing here may start the pool
    return {
        "num_threads": _safe(_numba_num_threads, layer is not None),
        "threading_layer_config": _safe(getattr, config, "THREADING_LAYER"),
        "threading_layer": layer,
        "cache_dir": _safe(getattr, config, "CACHE_DIR") or None,
        "disable_jit": _safe(lambda: bool(config.DISABLE_JIT)),
        "svml": _safe(lambda: bool(config.USING_SVML)),
    }


def _env() -> dict:
    return {name: os.environ.get(name) for name in ENV_VARS}


# --- source revision ------------------------------------------------------------------------

def _git(directory, *args) -> str | None:
    """Stripped stdout of ``git -C directory *args``, or None on any failure."""
    try:
        result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                                text=True, timeout=GIT_TIMEOUT_S, check=False)
    except Exception:  # git not installed, timeout, unreadable directory...
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _git_info(directory) -> dict:
    """Commit, dirtiness (tracked files modified) and root of the work tree holding ``directory``.

    All three are None when ``directory`` is not inside a git work tree or git is unavailable.
    """
    root = _git(directory, "rev-parse", "--show-toplevel")
    if not root:
        return {"commit": None, "dirty": None, "root": None}
    status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return {"commit": _git(directory, "rev-parse", "HEAD") or None,
            "dirty": None if status is None else bool(status),
            "root": root}


def _git_source() -> dict:
    """Git state of the rnnbench source if it lives in a work tree, else of the cwd."""
    import rnnbench
    info = _git_info(Path(rnnbench.__file__).resolve().parent)
    if info["root"] is None:
        info = _git_info(Path.cwd())
    return info


# --- public ---------------------------------------------------------------------------------

def capture_environment() -> dict:
    """A JSON-serialisable description of this machine and software stack (see module doc)."""
    no_git = {"commit": None, "dirty": None, "root": None}
    return {
        "cpu_model": _safe(_cpu_model),
        "cpu_count": _safe(os.cpu_count),
        "cpu_affinity": _safe(_cpu_affinity),
        "cpu_flags_avx512": _safe(_cpu_flags_avx512),
        "memory_gib": _safe(_memory_gib),
        "os": _safe(platform.platform),
        "hostname": _safe(platform.node),
        "python": _safe(platform.python_version),
        "versions": _safe(_versions, default=dict.fromkeys(PACKAGES)),
        "blas": _safe(_blas, default=[]),
        "numba": _safe(_numba),
        "env": _safe(_env, default=dict.fromkeys(ENV_VARS)),
        "git": _safe(_git_source, default=no_git),
    }


def blas_kernel_warning(env: dict) -> str | None:
    """A warning when the environment of a :func:`capture_environment` dict
    forced OpenBLAS's kernel choice (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE),
    else None. OpenBLAS then runs the kernels of the core type named, not
    the best this CPU has, and the GEMM peak that % of peak divides by is
    theirs: on a 2-core AMD Zen 5 VM with AVX-512, OPENBLAS_CORETYPE=Haswell
    measured an sgemm peak of 207-238 GFLOP/s against 402-467 with
    OpenBLAS's own choice, and % of peak then read 94-136."""
    variables = (env.get("env") if isinstance(env, dict) else None) or {}
    names = [name for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if variables.get(name)]
    if not names:
        return None
    kernels = sorted({lib.get("architecture") for lib in env.get("blas") or []
                      if lib.get("internal_api") == "openblas" and lib.get("architecture")})
    running = f" (OpenBLAS ran its {', '.join(kernels)} kernels)" if kernels else ""
    settings = " and ".join(f"{name}={variables[name]}" for name in names)
    return (f"{settings} forced OpenBLAS's kernel choice{running}: the GEMM peak, % of peak and every "
            f"BLAS-bound time are those kernels', not this CPU's best; unset {' and '.join(names)} to let "
            f"OpenBLAS choose")


def _numba_summary(nb) -> str:
    if not isinstance(nb, dict):
        return "numba ? threads"
    layer = (nb.get("threading_layer")
             or f"layer not started, config {nb.get('threading_layer_config')!r}")
    threads = nb.get("num_threads")
    return f"numba {'?' if threads is None else threads} threads ({layer})"


def _blas_summary(libs) -> str:
    if not libs:
        return "BLAS: unknown"
    parts = []
    for lib in libs:
        name, ver = lib.get("internal_api") or "?", lib.get("version") or "?"
        part = f"{name} {ver} x{lib.get('num_threads', '?')}"
        if lib.get("threading_layer"):
            part += f" ({lib['threading_layer']})"
        parts.append(part)
    return "BLAS: " + ", ".join(parts)


def threads_summary(env: dict) -> str:
    """One line on threading from a :func:`capture_environment` dict, e.g.::

        numba 2 threads (workqueue); BLAS: openblas 0.3.31 x2 (pthreads), openblas 0.3.31 x2 (pthreads)
    """
    env = env if isinstance(env, dict) else {}
    return f"{_numba_summary(env.get('numba'))}; {_blas_summary(env.get('blas'))}"
