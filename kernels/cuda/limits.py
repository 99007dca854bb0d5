"""Launch configurations, checked before every launch.

A real GPU rejects a bad configuration with a driver error far from its
cause, and Numba's CUDA simulator accepts almost anything (any block size,
any shared-memory size, and a cooperative grid of several blocks that it
then runs one block at a time, so grid-wide synchronisation silently
breaks). So every launch in this package goes through :func:`launch`, which
checks threads per block, block and grid dimensions, shared memory and the
cooperative grid size against :func:`device_limits` and raises
``ValueError`` naming the offending argument.
"""
import functools
import math
from dataclasses import dataclass

from numba import cuda

SIMULATOR = bool(cuda.config.ENABLE_CUDASIM)


@dataclass(frozen=True)
class Limits:
    """What one launch may ask of the device."""
    max_threads_per_block: int
    max_block_dim: tuple          # (x, y, z)
    max_grid_dim: tuple           # (x, y, z)
    max_shared_per_block: int     # bytes, static + dynamic, without opt-in
    max_shared_optin: int         # bytes a kernel may opt in to (227 KiB on sm_90, 163 KiB on sm_80)
    sm_count: int
    simulator: bool = False


# The simulator's own device: CUDA's architectural limits, the default 48 KiB of
# shared memory, and one block per cooperative grid (all it can synchronise).
SIMULATOR_LIMITS = Limits(1024, (1024, 1024, 64), (2 ** 31 - 1, 65535, 65535), 48 * 1024, 48 * 1024, 1, True)


@functools.lru_cache(maxsize=None)
def device_limits():
    """Limits of the current device (the simulator's when it is enabled)."""
    if SIMULATOR:
        return SIMULATOR_LIMITS
    dev = cuda.get_current_device()
    per_block = int(dev.MAX_SHARED_MEMORY_PER_BLOCK)
    try:
        optin = int(dev.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
    except Exception:  # very old drivers: no opt-in
        optin = per_block
    return Limits(int(dev.MAX_THREADS_PER_BLOCK),
                  (int(dev.MAX_BLOCK_DIM_X), int(dev.MAX_BLOCK_DIM_Y), int(dev.MAX_BLOCK_DIM_Z)),
                  (int(dev.MAX_GRID_DIM_X), int(dev.MAX_GRID_DIM_Y), int(dev.MAX_GRID_DIM_Z)),
                  per_block, max(optin, per_block), int(dev.MULTIPROCESSOR_COUNT))


def _dims(name, value):
    dims = (value,) if isinstance(value, int) else tuple(value)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise ValueError(f"{name}: expected a positive int or a tuple of 1 to 3 positive ints, got {value!r}")
    return dims + (1,) * (3 - len(dims))


def check_launch(kernel, grid, block, shared=0, limits=None, cooperative_max=None):
    """Validate one launch of ``kernel`` (a name, for the messages).

    grid, block: int or tuple of up to 3 ints; shared: dynamic shared memory
    in bytes; cooperative_max: for a cooperative launch, the most blocks that
    can be co-resident (``max_cooperative_grid_blocks``). Raises ValueError
    naming ``grid``, ``block`` or ``shared``. Returns (grid, block) as 3-tuples.
    """
    limits = limits or device_limits()
    g, b = _dims("grid", grid), _dims("block", block)
    for axis, (n, most) in enumerate(zip(b, limits.max_block_dim)):
        if not 1 <= n <= most:
            raise ValueError(f"block: {kernel} needs 1 <= block[{axis}] <= {most}, got {block!r}")
    threads = math.prod(b)
    if threads > limits.max_threads_per_block:
        raise ValueError(f"block: {kernel} may use at most {limits.max_threads_per_block} threads per block, "
                         f"got {block!r} = {threads}")
    for axis, (n, most) in enumerate(zip(g, limits.max_grid_dim)):
        if not 1 <= n <= most:
            raise ValueError(f"grid: {kernel} needs 1 <= grid[{axis}] <= {most}, got {grid!r}")
    if isinstance(shared, bool) or not isinstance(shared, int) or shared < 0:
        raise ValueError(f"shared: {kernel} needs a non-negative byte count, got {shared!r}")
    if shared > limits.max_shared_optin:
        raise ValueError(f"shared: {kernel} asks for {shared} bytes of shared memory per block; this device "
                         f"allows at most {limits.max_shared_optin}")
    if cooperative_max is not None and math.prod(g) > cooperative_max:
        raise ValueError(f"grid: {kernel} is a cooperative launch; at most {cooperative_max} blocks can be "
                         f"co-resident here{' (the simulator runs one)' if limits.simulator else ''}, "
                         f"got {grid!r} = {math.prod(g)}")
    return g, b


def jit_kernel(fn, max_threads):
    """``cuda.jit`` with launch bounds: the kernel is compiled for at most
    ``max_threads`` threads per block (so ptxas may use the registers that
    allows) and :func:`launch` refuses larger blocks. The simulator has no
    launch bounds; the limit is still checked."""
    kernel = cuda.jit(fn) if SIMULATOR else cuda.jit(launch_bounds=max_threads)(fn)
    kernel.max_threads = max_threads
    return kernel


def kernel_name(kernel):
    return getattr(getattr(kernel, "py_func", None), "__name__", None) or getattr(kernel, "__name__", "kernel")


def launch(kernel, grid, block, args, shared=0, cooperative_max=None):
    """Validate the configuration, then launch ``kernel[grid, block, 0, shared](*args)``."""
    name = kernel_name(kernel)
    g, b = check_launch(name, grid, block, shared, cooperative_max=cooperative_max)
    most = getattr(kernel, "max_threads", None)
    if most is not None and math.prod(b) > most:
        raise ValueError(f"block: {name} is compiled for at most {most} threads per block (launch bounds), "
                         f"got {block!r} = {math.prod(b)}")
    kernel[g, b, 0, shared](*args)


def blocks_for(n, threads):
    """Blocks of ``threads`` covering n items (at least 1)."""
    return max(1, -(-n // threads))


SIMULATOR_THREADS = 16  # elementwise threads per launch in the simulator: grid-stride loops do the rest


def threads_for(n, most=256):
    """A 1-D block size for n elementwise items: whole warps up to ``most`` on a
    GPU; in the simulator (one Python thread per CUDA thread, created per
    launch) a few threads whose grid-stride loops cover all n."""
    if SIMULATOR:
        return max(1, min(most, n, SIMULATOR_THREADS))
    return max(32, min(most, -(-n // 32) * 32))


def grid_for(n, threads):
    """Blocks for n items: enough to cover them on a GPU, one in the simulator."""
    return 1 if SIMULATOR else blocks_for(n, threads)
