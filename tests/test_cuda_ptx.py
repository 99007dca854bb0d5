"""Every numba-cuda kernel compiles for real GPUs (sm_80 and sm_90), without one.

In a fresh process per architecture (the simulator must be off there; the
two run at once, in the background from the start of the session:
tests/background.py), ``rnnbench.kernels.cuda.resources.resource_table``
compiles each kernel with ``numba.cuda.compile_ptx`` and assembles the PTX
with nvJitLink, whose ptxas report gives registers, spills, stack and shared
memory. A kernel that fails to compile, or a pointwise kernel that spills to
local memory, fails here. Needs numba-cuda with its ``cu13`` extra (NVVM and
nvJitLink wheels); a missing one is a failure, not a skip.
"""
import importlib.util
import json
import os
import sys

import background
import pytest

ARCHS = ("80", "90")
TIMEOUT_S = 900
SCRIPT = ("import json, re, sys\n"
          "from numba import cuda\n"
          "from rnnbench.kernels.cuda import resources as R\n"
          "rows = [r.as_row() for r in R.resource_table(sys.argv[1])]\n"
          "names = [e.name for e in R.kernel_inventory()]\n"
          "cc = (int(sys.argv[1][:-1]), int(sys.argv[1][-1]))\n"
          "f64 = {e.name: len(re.findall(r'[.]f64', cuda.compile_ptx(e.kernel.py_func, e.argtypes, cc=cc)[0]))\n"
          "       for e in R.kernel_inventory(('float32',)) if e.category == 'pointwise'}\n"
          "json.dump({'rows': rows, 'inventory': names, 'f64_in_float32_cells': f64}, open(sys.argv[2], 'w'))\n")


@background.job("tables")
def _compilations(work):
    """One process an architecture, with the simulator off."""
    if importlib.util.find_spec("numba_cuda") is None:
        return []  # the fixture fails with the reason
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return [background.Process([sys.executable, "-c", SCRIPT, arch, str(work / f"sm_{arch}.json")], work, env,
                               TIMEOUT_S, weight=40) for arch in ARCHS]


@pytest.fixture(scope="module")
def tables():
    """{arch: {"rows": [...], "inventory": [...]}}, compiled in background
    processes from the start of the session."""
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.fail("numba-cuda is not installed: the CUDA tests need it (pip install '.[test]' brings "
                    "rnnbench[cuda])")
    results = {}
    for arch, run in zip(ARCHS, background.finished("tables")):
        out = run.cwd / f"sm_{arch}.json"
        assert run.returncode == 0 and out.exists(), f"sm_{arch}: compilation failed:\n{run.log[-6000:]}"
        results[arch] = json.loads(out.read_text())
    return results


def test_every_kernel_compiles_for_sm80_and_sm90(tables):
    for arch, table in tables.items():
        names = [row["kernel"] for row in table["rows"]]
        assert names == table["inventory"], arch
        assert len(names) == len(set(names)) >= 60, arch  # 34 kernels per dtype
        assert {row["cc"] for row in table["rows"]} == {f"sm_{arch}"}
        assert {row["category"] for row in table["rows"]} == {"pointwise", "elementwise", "gemm", "reduction",
                                                              "persistent"}


def test_pointwise_kernels_do_not_spill(tables):
    for arch, table in tables.items():
        for row in table["rows"]:
            if row["category"] in ("pointwise", "elementwise"):
                assert (row["spill_stores"], row["spill_loads"], row["local"]) == (0, 0, 0), (arch, row)


def test_gemm_and_persistent_kernels_do_not_spill(tables):
    """Register-tiled GEMMs (launch bounds 256) and the persistent kernels
    (launch bounds 512, 128 registers a thread) fit in registers too."""
    for arch, table in tables.items():
        for row in table["rows"]:
            assert (row["spill_stores"], row["spill_loads"]) == (0, 0), (arch, row)


def test_resources_are_within_the_hardware(tables):
    for arch, table in tables.items():
        for row in table["rows"]:
            assert 1 <= row["registers"] <= 255, (arch, row)
            assert row["registers"] * row["max_threads"] <= 65536, (arch, row)  # one block fits an SM's registers
            assert row["static_smem"] <= 48 * 1024, (arch, row)


def test_float32_cell_kernels_have_no_float64_instructions(tables):
    """The shared cell math keeps float32 in float32 (its 0 and 1 are float32
    constants): no FP64 instruction in any float32 per-step kernel."""
    for arch, table in tables.items():
        counts = table["f64_in_float32_cells"]
        assert len(counts) == 8, (arch, counts)  # forward and backward step of 4 kinds
        assert all(n == 0 for n in counts.values()), (arch, counts)
