"""Backends registry.

A backend is a module in this package exposing ``BACKEND``: an object with
``forward(problem) -> (output, h_n, c_n)`` and
``backward(problem, d_output, d_h_n, d_c_n, truncation) -> (params, x, h0, c0)``
(see :mod:`rnnbench.api` for the Problem and the shapes). Adding a backend is
a new module plus one line in ``_MODULES``. A module that cannot be imported
(a missing optional dependency) makes its backend unavailable, with the reason.
"""
import importlib

_MODULES = {
    "numpy": "rnnbench.backends.numpy_ref",
    "numba-cpu": "rnnbench.backends.numba_cpu",
    "torch": "rnnbench.backends.torch_peer",
    "numba-cuda": "rnnbench.backends.numba_cuda",
    "torch-cuda": "rnnbench.backends.torch_cuda",
}
_HINTS = {"torch": "pip install 'rnnbench[peer]'", "numba-cuda": "pip install 'rnnbench[cuda]'"}


def _load(name):
    try:
        return importlib.import_module(_MODULES[name]).BACKEND, None
    except ImportError as exc:
        hint = f" ({_HINTS[name]})" if name in _HINTS and isinstance(exc, ModuleNotFoundError) else ""
        return None, f"{exc}{hint}"


def backends():
    """name -> True when usable, else the reason it is unavailable."""
    status = {}
    for name in _MODULES:
        backend, reason = _load(name)
        status[name] = True if backend is not None else reason
    return status


def get_backend(name):
    if name not in _MODULES:
        raise ValueError(f"backend: expected one of {', '.join(_MODULES)}, got {name!r}")
    backend, reason = _load(name)
    if backend is None:
        raise ValueError(f"backend: {name!r} is unavailable here: {reason}")
    return backend
