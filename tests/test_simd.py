"""The SIMD width of the CPU kernels (kernels/simd.py): chosen from the CPU,
overridden by RNNBENCH_SIMD_BYTES, and correct at the width this machine
does not pick (tests/test_panels.py run again in a process built for it)."""
import os
import subprocess
import sys
from pathlib import Path

import background
import pytest

from rnnbench.kernels import simd

TESTS = Path(__file__).resolve().parent
TIMEOUT_S = 900


@pytest.mark.parametrize("features,expected", [
    ("+64bit,+avx,+avx2,+avx512f,+avx512vl,+fma", 64),
    ("+64bit,+avx,+avx2,-avx512f,+fma", 32),   # LLVM lists the features a CPU lacks with a minus
    ("+64bit,+avx,+avx2,+fma,-avx512vl", 32),
    ("", 32),
])
def test_the_width_follows_avx512f(features, expected):
    assert simd.vector_bytes(environ={}, features=features) == expected


@pytest.mark.parametrize("value", ["32", "64", " 64 "])
def test_the_environment_overrides_the_cpu(value):
    assert simd.vector_bytes(environ={simd.ENVIRONMENT_VARIABLE: value}, features="+avx512f") == int(value)
    assert simd.vector_bytes(environ={simd.ENVIRONMENT_VARIABLE: value}, features="-avx512f") == int(value)


@pytest.mark.parametrize("value", ["16", "128", "avx512", "32.0"])
def test_a_bad_override_names_the_variable_and_the_choices(value):
    with pytest.raises(ValueError, match=rf"RNNBENCH_SIMD_BYTES: expected one of 32, 64 .*got '{value}'"):
        simd.vector_bytes(environ={simd.ENVIRONMENT_VARIABLE: value})


def test_this_process_uses_the_width_vector_bytes_chooses():
    assert simd.VECTOR_BYTES == simd.vector_bytes()


OTHER = 32 if simd.VECTOR_BYTES == 64 else 64


def _other_width_env(work):
    # its own Numba cache folder: the stamp keeps widths apart anyway, but each would overwrite the other's index
    return dict(os.environ, RNNBENCH_SIMD_BYTES=str(OTHER), NUMBA_CACHE_DIR=str(work / "numba-cache"))


@background.job("other_width_run")
def _other_width_job(work):
    """tests/test_panels.py in a process built for the other width, from
    ``work`` (in the repository root, the source tree's rnnbench/, with no
    kernels/ in it, would shadow the installed package)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "test_panels.py")]
    return [background.Process(command, work, _other_width_env(work), TIMEOUT_S, weight=230)]


@pytest.fixture(scope="module")
def other_width_run():
    return background.finished("other_width_run")[0]


def test_the_other_width_passes_the_panel_and_team_tests(other_width_run, tmp_path):
    """The products, packing, transposes and teams of tests/test_panels.py,
    against numpy, in a new process built for the width this one is not
    (run in the background from the start of the session)."""
    check = (f"from rnnbench.kernels import simd, panels; import numpy as np; "
             f"assert simd.VECTOR_BYTES == {OTHER}, simd.VECTOR_BYTES; "
             f"assert panels.panel_rows(np.float32) == {OTHER // 2}")
    subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=_other_width_env(tmp_path), check=True,
                   timeout=120)
    tail = other_width_run.log[-6000:]
    assert other_width_run.returncode == 0, f"test_panels.py at {OTHER}-byte vectors failed:\n{tail}"
    assert " passed" in tail and " failed" not in tail and " skipped" not in tail, tail
