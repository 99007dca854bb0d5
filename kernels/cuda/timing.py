"""CUDA-event timing for the throughput harness.

Wall-clock timing of a GPU call measures the launch, not the work: kernels
run asynchronously. :func:`time_call` brackets each call with CUDA events on
the default stream and reads the elapsed time between them after
synchronising, after ``warmup`` untimed calls (compilation, caches, clocks).
The simulator has no device clock and runs kernels as Python, so timing
there is refused.
"""
from numba import cuda

from .limits import SIMULATOR

REFUSED = ("timing: numba-cuda is running on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), whose "
           "kernels run as Python threads; its times mean nothing. Time on a CUDA GPU.")


def synchronize():
    """Wait for every queued kernel and copy."""
    cuda.synchronize()


def time_call(fn, repeats=1, warmup=1):
    """Seconds per call of the zero-argument ``fn``, one sample per repeat,
    from CUDA events recorded before and after each call (after ``warmup``
    untimed calls). Raises ValueError under the simulator."""
    if SIMULATOR:
        raise ValueError(REFUSED)
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats: expected repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, end = cuda.event(timing=True), cuda.event(timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(cuda.event_elapsed_time(start, end) / 1e3)
    return samples
