"""A team of threads running one layer's time loop together, split by hidden
units, with a spin barrier between steps.

Each thread runs a compiled ``nogil`` function over its own share of the
hidden units (their panels of W_hh, their columns of the pre-activations,
states and gradients); after each step it waits at :func:`barrier` until
every thread has written its part of what the next step's product reads
whole (the new state forward, the pre-activation gradients backward). Unlike
BLAS's own threads, which split each step's GEMM and leave the cell math to
one core, the team splits everything, and each thread streams only its part
of W_hh.

The shares are fixed. Claiming each step's work in jobs of 2 or 4 unit
panels instead, forward and backward (each member runs its own jobs from the
front, then takes the others' from the back, through one atomic word per
member), so that a core the host slows down does less, did not pay on the
2-core Zen 3 VM. On one thread, where it can only cost, the forward took
2-8% longer (LSTM, GRU and ReLU RNN, H = 256..512, B = 16..32): the cells
cost 40% more a unit in runs of 32 units than of 512, and each job restarts
the streams of W_hh. On two threads, in a slow phase of the host, it
measured from 7% slower to 17% faster (batch 1), inside that phase's noise
(identical code on both sides read up to 9% apart). Nor did splitting the
time loop by batch rows instead, each thread running its own samples'
recurrence through all of W_hh with no barrier between steps (a prototype,
one process, interleaved, Zen 3): the forward took 1.06-1.32x the time
(vanilla RNN H = 256..1024, LSTM H = 256..512), the time loop alone
1.00-1.04x (vanilla RNN): the barriers cost less than the micro-kernel
loses on half the rows a call.

:func:`run_team` starts the team: the calling thread is member 0, a
persistent pool supplies the others (about 100 us to start a team of two on
the 2-core Zen 3 machine: a pool submission and a thread waking up).
Workers that wait for their next job spinning for 2 ms (in compiled code,
holding no GIL), then sleep, started a team of two in 63-82 us instead of
the pool's 68-93 when calls follow one another within 0.1 ms, as in a
benchmark's loop (the guest's haltpoll idle driver keeps an idle core awake
about that long), and in 88-114 us instead of 160-260 1 ms apart; the
forward's time did not move beyond the noise (0.97-1.08 of it, in one
process, interleaved; vanilla RNN, LSTM, GRU): not kept, since a spinning
core also slows whatever runs next on it. Nor did Numba's own threads pay:
the members as the iterations of a ``prange`` in a ``parallel=True`` wrapper
(OpenMP layer: the calling thread runs member 0, and no GIL changes hands
as the team starts and ends) took 0.98-1.01 of the pool's time, timed as
:mod:`rnnbench.timing` times (a pause and warm-up calls before each timed
call; vanilla RNN H = 256..1024, LSTM, GRU, the forward; one reading 1.22).
Only back to back, alternating with the pool's calls, did it read faster
(0.63-0.96; 0.86-0.96 with OMP_WAIT_POLICY=passive), a pattern the harness
avoids because one pool's idle threads slow the next pool's call; the
workqueue layer, whose calling thread only waits, read 0.99-1.03 even so.
The barrier also needs every member running at once, which OpenMP gives
only while its dynamic adjustment is off and the TBB layer does not
promise.

After an idle pause, the 2-core Zen 3 guest's scheduler often wakes the
worker on the caller's CPU while the other CPU stays idle, and the two
members then run one after the other until it moves one. In the 2nd to 4th
calls after a 50 ms pause (ReLU RNN H = 512, B = 16, T = 25 and LSTM
batch 1 forwards), the members started on one CPU in 8-15 of 15 calls; in
:mod:`rnnbench.timing`'s pattern, in half the warm-up calls and in none of
the timed ones. A worker that moved itself off the caller's CPU when it
woke there (sched_setaffinity to the other CPUs, restored after its job)
started apart in every call. Those calls after a pause then took 0.61-0.67
of the time in one process (each version with its own pool), 0.59-0.65 in
separate processes at first and 0.87-1.16 later, in a slow phase of the
host. Timed as the harness times, nothing moved beyond the noise, and back
to back, a tiny problem (LSTM H = 128, B = 1, T = 10) read up to 1.5x
slower (two system calls and a migration a call): not kept.

BLAS's own threads must stay out of the team: after a call OpenBLAS's
workers spin for a while, and a team thread sharing a core with one runs 2x
slower (measured: a 2-thread loop of 12 ms takes 25 ms right after a
2-thread sgemm). The time loops therefore use no BLAS at all
(:mod:`rnnbench.kernels.panels`), and the weight gradients, which do, run it
on one thread per member.
"""
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .cache import stamp_with_kernel_sources

SPINS_BEFORE_YIELD = 1 << 12  # spin this many times, then give the core away once (sched_yield)


def _element_pointer(context, builder, array_type, array, index):
    arr = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, arr, [index])


@intrinsic
def atomic_add(typingctx, counters, index, value):
    """counters[index] += value as one sequentially consistent atomic
    operation; returns the old value. counters: int64 array."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.atomic_rmw("add", ptr, context.cast(builder, args[2], sig.args[2], types.int64), "seq_cst")
    return types.int64(counters, index, value), codegen


@intrinsic
def atomic_load(typingctx, counters, index):
    """counters[index], loaded with acquire ordering (writes made before the
    matching atomic_add by another thread are visible after it)."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_element_pointer(context, builder, sig.args[0], args[0], args[1]), "acquire", 8)
    return types.int64(counters, index), codegen


@intrinsic
def _sched_yield(typingctx):
    """POSIX sched_yield(), resolved by name when the code is linked (so the
    compiled functions stay cacheable)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        return builder.call(fn, ())
    return types.int32(), codegen


@njit(inline="always")
def barrier(sync, episode, n):
    """Wait until all n threads of the team have reached barrier ``episode``
    (0, 1, 2, ... in order; ``sync``: int64[1], zero when the team starts)."""
    atomic_add(sync, 0, 1)
    target = (episode + 1) * n
    spins = 0
    while atomic_load(sync, 0) < target:
        spins += 1
        if spins == SPINS_BEFORE_YIELD:
            _sched_yield()
            spins = 0


@njit(cache=True)
def share(n, block, team, member):
    """The range (i0, i1) of n items that ``member`` of a ``team`` owns: whole
    blocks of ``block`` items, as even a split as the blocks allow (the last
    block may be short; a member may get none)."""
    blocks = (n + block - 1) // block
    i0 = min(n, (member * blocks // team) * block)
    i1 = min(n, ((member + 1) * blocks // team) * block)
    return i0, i1


_pool = None
_pool_size = 0
_blas = None
_one_team = threading.Lock()  # one team at a time: two would wait on each other for the pool's threads


def _blas_controller():
    """threadpoolctl's controller of the BLAS libraries (made once, after the
    BLAS the compiled kernels call, SciPy's, is loaded)."""
    global _blas
    if _blas is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library threadpoolctl must see)
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def run_team(member, n, blas=False):
    """member(k) for k = 0..n-1, each on a thread of its own (this thread runs
    member 0). ``member`` calls a compiled ``nogil`` function that meets the
    others at :func:`barrier`. With ``blas`` (the function calls BLAS), every
    BLAS library threadpoolctl sees runs on one thread meanwhile, even for a
    team of one: BLAS's own threads, once woken, would spin on the cores the
    next team needs. Returns when all are done; re-raises the first error."""
    global _pool, _pool_size
    if n == 1 and not blas:
        member(0)  # alone and touching nothing shared: no need to wait for another caller's team
        return
    with _one_team, (_blas_controller().limit(limits=1) if blas else contextlib.nullcontext()):
        if n == 1:
            member(0)
            return
        if _pool_size < n - 1:
            _pool, _pool_size = ThreadPoolExecutor(n - 1, thread_name_prefix="rnnbench-team"), n - 1
        others = [_pool.submit(member, k) for k in range(1, n)]
        member(0)
        for future in others:
            future.result()


stamp_with_kernel_sources(globals())  # see kernels/cache.py
