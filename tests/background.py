"""Checks that run in processes of their own, started as soon as pytest has
collected the tests, so that they overlap the rest of the suite.

Three checks cannot run in pytest's own process: the CUDA simulator must be
switched on before Numba is imported (tests/test_cuda_sim.py), PTX is
compiled with it off (tests/test_cuda_ptx.py), and the kernels built for
the SIMD width this machine does not pick need a process built for that
width (tests/test_simd.py). Run when their tests came up, one after the
other, they took 390 of the suite's 713 s on the 2-core Zen 3 machine,
while the suite's own process, compiling kernels one at a time, kept about
one core busy.

A test module declares its check with :func:`job`, under the name of the
fixture that hands the finished processes to its tests; tests/conftest.py
starts the jobs of every fixture some selected test uses once collection
ends, at most SLOTS processes at a time, the heaviest first, and moves the
tests that use them to the end of the session; the fixture waits for its
own with :func:`finished` (which starts it, too, if nothing did).
:func:`stop` kills what still runs when the session ends.
"""
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SLOTS = 2  # processes at once: CI's two cores (the suite's own process shares them)


@dataclass
class Process:
    """One command of a job; after :meth:`run`, its exit status and output.
    ``weight``: its rough CPU seconds, only to start the heaviest first."""
    argv: list
    cwd: Path
    env: dict
    timeout_s: float
    weight: float
    returncode: int = None
    log: str = ""

    def run(self):
        with _lock:
            if _stopping:
                self.log = "[not started: the session ended]"
                return self
            process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            _running.add(process)
        try:
            self.log, _ = process.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            self.log = process.communicate()[0] + f"\n[killed after {self.timeout_s} s]"
        finally:
            with _lock:
                _running.discard(process)
        self.returncode = process.returncode
        return self


_factories = {}  # fixture name -> factory(work folder) -> [Process]
_futures = {}    # fixture name -> [Future of Process]
_running = set()
_stopping = False
_lock = threading.Lock()
_pool = None
_root = None


def job(fixture):
    """Register ``factory(work: Path) -> [Process]`` as the background job
    whose finished processes the fixture named ``fixture`` returns."""
    def register(factory):
        _factories[fixture] = factory
        return factory
    return register


def has_job(fixture):
    """Whether a background job hands its processes to the fixture named ``fixture``."""
    return fixture in _factories


def start(fixtures):
    """Start the jobs of these fixture names that have one and are not
    started yet, their processes heaviest first."""
    global _pool, _root
    with _lock:
        new = [name for name in _factories if name in fixtures and name not in _futures]
        if not new:
            return
        if _pool is None:
            _pool = ThreadPoolExecutor(SLOTS, thread_name_prefix="rnnbench-background")
            _root = Path(tempfile.mkdtemp(prefix="rnnbench-background-"))
        queued = []
        for name in new:
            work = _root / name
            work.mkdir()
            processes = _factories[name](work)
            _futures[name] = [None] * len(processes)
            queued += [(name, i, p) for i, p in enumerate(processes)]
        for name, i, process in sorted(queued, key=lambda item: -item[2].weight):
            _futures[name][i] = _pool.submit(process.run)


def finished(fixture):
    """The finished processes of the job of ``fixture``, in the order its
    factory made them (waits for them; starts the job if nothing did)."""
    start({fixture})
    return [future.result() for future in _futures[fixture]]


def stop():
    """Drop the jobs not started, kill the running ones, remove their folders."""
    global _pool, _root, _stopping
    if _pool is None:
        return
    with _lock:
        _stopping = True
        for process in _running:
            process.kill()
    _pool.shutdown(wait=True, cancel_futures=True)
    shutil.rmtree(_root, ignore_errors=True)
    _pool, _root, _stopping = None, None, False
    _futures.clear()
