"""numba-cuda equals the numpy reference on Numba's CUDA simulator.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before Numba is
imported, and this process imported Numba long ago; so the checks in
tests/cuda_sim/ run in fresh pytest processes, in two shards (CI has two
cores), started in the background as the session starts
(tests/background.py), from a temporary directory (never the repository
root, whose ``kernels/`` folder would shadow the installed
``rnnbench.kernels``).

Each shard must pass exactly the number of tests tests/cuda_sim/sim_matrix.py
says it holds, with no failure, error or skip: a missing numba-cuda, an
import error or an empty collection fails here, it never passes as a skip.
"""
import importlib.util
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import background
import numpy as np
import pytest

SIM = Path(__file__).resolve().parent / "cuda_sim"
SHARDS = 2
TIMEOUT_S = 1500

sys.path.insert(0, str(SIM))
import sim_matrix  # noqa: E402  (no Numba import: just the parameter lists)


def require_numba_cuda():
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.fail("numba-cuda is not installed: the CUDA tests need it (pip install '.[test]' brings "
                    "rnnbench[cuda])")


def unit_tests():
    return len(re.findall(r"^def test_", (SIM / "sim_units.py").read_text(), re.M))


def expected(index):
    return sim_matrix.expected_tests(index, SHARDS) + (unit_tests() if index == 0 else 0)


@background.job("shard_runs")
def _shards(work):
    """One pytest process a shard, from ``work`` (never the repository root)."""
    if importlib.util.find_spec("numba_cuda") is None:
        return []  # the fixture fails with the reason
    processes = []
    for index in range(SHARDS):
        files = [SIM / "sim_checks.py"] + ([SIM / "sim_units.py"] if index == 0 else [])
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", RNNBENCH_SIM_SHARD=f"{index}/{SHARDS}")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={work / f'shard{index}.xml'}", *map(str, files)]
        processes.append(background.Process(command, work, env, TIMEOUT_S, weight=100))
    return processes


@pytest.fixture(scope="module")
def shard_runs():
    """{index: (returncode, log, junit xml path)}, every shard run at once
    in the background from the start of the session."""
    require_numba_cuda()
    return {index: (run.returncode, run.log, run.cwd / f"shard{index}.xml")
            for index, run in enumerate(background.finished("shard_runs"))}


@pytest.mark.parametrize("index", range(SHARDS))
def test_simulator_shard(shard_runs, index):
    returncode, log, report = shard_runs[index]
    tail = log[-6000:]
    assert report.exists(), f"shard {index} wrote no report (exit {returncode}):\n{tail}"
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    assert returncode == 0, f"shard {index} failed (exit {returncode}, {counts}):\n{tail}"
    assert counts == {"tests": expected(index), "failures": 0, "errors": 0, "skipped": 0}, tail


def test_matrix_covers_every_case():
    """Every kind x layers 1-2 x both directions x lengths or not x both dtypes on
    the per-step path; every kind in both dtypes on the persistent kernels."""
    assert len(sim_matrix.MATRIX) == 4 * 4 * 2 * 2
    assert {(k, np.dtype(d).name) for k, *_, d, _m, _h in sim_matrix.PERSISTENT} == {
        (k, d) for k in sim_matrix.KINDS for d in ("float32", "float64")}
    total = sum(sim_matrix.expected_tests(i, SHARDS) for i in range(SHARDS))
    assert total == sim_matrix.expected_tests(0, 1)

