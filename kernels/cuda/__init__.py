"""Numba CUDA kernels for the RNN/LSTM/GRU recurrences and their BPTT
(imported as ``rnnbench.kernels.cuda``; needs ``pip install 'rnnbench[cuda]'``).

Every CUDA-specific call of rnnbench lives in this package, behind the
functions below, so that moving off numba-cuda touches one folder:

- :mod:`.target`: the shared cell math of :mod:`rnnbench.kernels.cells`
  compiled for the GPU (no copy of it here).
- :mod:`.matmul`: shared-memory tiled GEMM; bias column sums.
- :mod:`.pointwise`: fused per-step cell kernels (forward, backward) and
  small elementwise kernels.
- :mod:`.persistent`: the cooperative persistent kernels (all steps in one
  launch, W_hh in shared memory), with their launch plan.
- :mod:`.layers`: one layer, one direction: forward, backward-data,
  backward-weights on device arrays.
- :mod:`.limits`: device limits and launch-configuration checks.
- :mod:`.arrays`: NumPy and CUDA-array-interface arrays in and out.
- :mod:`.timing`: CUDA-event timing.
- :mod:`.resources`: PTX for every kernel and its registers, spills and
  shared memory (no GPU needed).

Under ``NUMBA_ENABLE_CUDASIM=1`` (set before Numba is imported) everything
runs on Numba's CUDA simulator.
"""
try:
    from numba import cuda
except ImportError as exc:  # a numba without any CUDA target
    raise ModuleNotFoundError(f"numba-cuda is not installed (numba.cuda: {exc})") from exc

if getattr(cuda, "implementation", None) != "NVIDIA":
    raise ModuleNotFoundError("numba-cuda is not installed (numba.cuda is Numba's deprecated built-in CUDA target)")

from . import target  # noqa: E402,F401  (registers the cell math for the CUDA target)
from .arrays import as_device, empty, flat, is_device_array, to_host, zeros  # noqa: E402
from .matmul import colsum, gemm  # noqa: E402
from .limits import SIMULATOR, Limits, check_launch, device_limits, launch  # noqa: E402
from .layers import Tape, backward_layer, forward_layer, weight_gradients  # noqa: E402
from .pointwise import add, copy, copy_time, fill, zero_padding  # noqa: E402
from .timing import synchronize, time_call  # noqa: E402


def unavailable_reason():
    """None when kernels can run here (a CUDA GPU, or the simulator), else why not."""
    if SIMULATOR:
        return None
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # a broken driver install
        return f"the CUDA driver failed to initialise ({exc})"
    return ("no CUDA GPU found (numba-cuda is installed; set NUMBA_ENABLE_CUDASIM=1 before importing numba "
            "to run on its simulator)")


def resource_table(cc=(9, 0)):
    """Per-kernel registers, spills and shared memory for compute capability
    ``cc``, compiled to PTX and assembled by nvJitLink (no GPU needed). See
    :func:`rnnbench.kernels.cuda.resources.resource_table`."""
    from .resources import resource_table as table
    return table(cc)


__all__ = ["SIMULATOR", "Limits", "Tape", "add", "as_device", "backward_layer", "check_launch", "colsum", "copy",
           "copy_time", "device_limits", "empty", "fill", "flat", "forward_layer", "gemm", "is_device_array",
           "launch", "resource_table", "synchronize", "time_call", "to_host", "unavailable_reason",
           "weight_gradients", "zero_padding", "zeros"]
