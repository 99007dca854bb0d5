"""numba-cuda on Numba's CUDA simulator against the numpy reference.

Not collected by a plain ``pytest`` (the file name has no ``test_`` prefix):
tests/test_cuda_sim.py runs it in subprocesses with NUMBA_ENABLE_CUDASIM=1 set
before Numba is imported, sharded by RNNBENCH_SIM_SHARD="i/n" (each shard
keeps every n-th case of every parametrized test). Sizes are tiny (T = 5,
B = 3, H = 3 from tests/cases.py; H <= 16 elsewhere): the simulator runs one
Python thread per CUDA thread.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))         # sim_matrix.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: cases.py

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    raise RuntimeError("tests/cuda_sim runs under NUMBA_ENABLE_CUDASIM=1 only (see tests/test_cuda_sim.py)")
# The simulator runs each CUDA thread as a Python thread and hands the GIL around at
# every syncthreads; with the default 5 ms switch interval each one costs milliseconds.
sys.setswitchinterval(2e-4)

import sim_matrix as M  # noqa: E402
import rnnbench as rb  # noqa: E402
from cases import (LENGTHS, assert_close, assert_forward_close, assert_gradients_close, make_case,  # noqa: E402
                   run_backward)
from rnnbench.api import validated_problem  # noqa: E402
from rnnbench.backends import get_backend, numba_cuda  # noqa: E402
from rnnbench.kernels import cuda as cu  # noqa: E402
from rnnbench.kernels.cuda import matmul  # noqa: E402
from sim_matrix import shard  # noqa: E402

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
BACKEND = get_backend("numba-cuda")


@pytest.fixture
def path(request):
    """Run the backend per step (persistent=False) or persistent (True), restore after."""
    previous = BACKEND.persistent
    BACKEND.persistent = request.param
    yield request.param
    BACKEND.persistent = previous


def _check_case(kind, num_layers, bidirectional, lengths, dtype, modes, **sizes):
    case = make_case(kind, num_layers, bidirectional, dtype, **sizes)
    c = case
    lengths = None if lengths is None else np.asarray(lengths)
    out = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numba-cuda")
    ref = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numpy")
    assert out.output.dtype == dtype
    assert_forward_close(out, ref, RTOL[dtype])
    for mode in modes:
        assert_gradients_close(run_backward(case, "numba-cuda", mode, lengths),
                               run_backward(case, "numpy", mode, lengths), RTOL[dtype])
    return case


def _paths(case, lengths):
    """(forward paths, backward paths) of every layer and direction of one training step."""
    c = case
    p = validated_problem(c["net"], c["params"], c["x"], c["state0"], lengths)
    trace = BACKEND.train_forward(p)
    zeros = np.zeros_like(p.h0)
    BACKEND.backward_data(p, trace, np.zeros(p.x.shape[:2] + (c["net"].num_directions * c["net"].hidden_size,),
                                             p.dtype), zeros, zeros)
    return {t.forward_path for t in trace.tapes}, {t.backward_path for t in trace.tapes}


@pytest.mark.parametrize("path", [False], indirect=True, ids=["per-step"])
@pytest.mark.parametrize("kind,num_layers,bidirectional,lengths,dtype", shard(M.MATRIX), ids=M.ids(shard(M.MATRIX)))
def test_matches_numpy(path, kind, num_layers, bidirectional, lengths, dtype):
    """Every kind, 1-2 layers, both directions, with and without lengths, float32
    and float64: forward and every truncation mode (bidirectional: full only)."""
    modes = ["full"] if bidirectional else list(M.MODES)
    _check_case(kind, num_layers, bidirectional, lengths, dtype, modes)


@pytest.mark.parametrize("path", [True], indirect=True, ids=["persistent"])
@pytest.mark.parametrize("kind,num_layers,bidirectional,lengths,dtype,modes,H",
                         shard(M.PERSISTENT), ids=M.ids(shard(M.PERSISTENT)))
def test_persistent_matches_numpy(path, kind, num_layers, bidirectional, lengths, dtype, modes, H):
    """The persistent kernels in their one-block configuration (all the
    simulator can synchronise), forward and backward, up to H = 16."""
    case = _check_case(kind, num_layers, bidirectional, lengths, dtype, modes, H=H)
    assert _paths(case, None if lengths is None else np.asarray(lengths)) == ({"persistent"}, {"persistent"})


def _gemm_id(tile, ta, tb, dtype):
    return f"{tile}-{'T' if ta else 'N'}{'T' if tb else 'N'}-{np.dtype(dtype).name}"


@pytest.mark.parametrize("tile,ta,tb,dtype", shard(M.GEMMS), ids=[_gemm_id(*g) for g in shard(M.GEMMS)])
def test_gemm_tiles(tile, ta, tb, dtype):
    """Every tile (the GPU's LARGE and SMALL ones too), every operand layout,
    bias and accumulate, on sizes that are no multiple of any tile."""
    rng = np.random.default_rng(7)
    M_, N_, K_ = 13, 37, 19
    a = rng.standard_normal((K_, M_) if ta else (M_, K_)).astype(dtype)
    b = rng.standard_normal((N_, K_) if tb else (K_, N_)).astype(dtype)
    bias = rng.standard_normal(N_).astype(dtype)
    c0 = rng.standard_normal((M_, N_)).astype(dtype)
    c = cu.as_device(c0)
    cu.gemm(cu.as_device(a), cu.as_device(b), c, ta, tb, bias=cu.as_device(bias), accumulate=True,
            tile=matmul.TILES[tile])
    ref = c0 + ((a.T if ta else a) @ (b.T if tb else b) + bias)
    assert_close(cu.to_host(c), ref, RTOL[dtype] * 10)
    plain = cu.zeros((M_, N_), dtype)
    cu.gemm(cu.as_device(a), cu.as_device(b), plain, ta, tb, tile=matmul.TILES[tile])
    assert_close(cu.to_host(plain), (a.T if ta else a) @ (b.T if tb else b), RTOL[dtype] * 10)


@pytest.mark.parametrize("kind", shard(M.SKIP_INPUT_KINDS))
def test_skip_input_mode(kind):
    """cuDNN's skip-input layer 0 (no W_ih): the broadcast projection and the
    gate-block sum for dx."""
    case = make_case(kind, 2, False, np.float64, I=3, H=3, input_mode="skip")
    c = case
    out = rb.forward(c["net"], c["params"], c["x"], c["state0"], LENGTHS, backend="numba-cuda")
    ref = rb.forward(c["net"], c["params"], c["x"], c["state0"], LENGTHS, backend="numpy")
    assert_forward_close(out, ref, 1e-12)
    assert_gradients_close(run_backward(case, "numba-cuda", "full", LENGTHS),
                           run_backward(case, "numpy", "full", LENGTHS), 1e-12)


@pytest.mark.parametrize("kind", shard(M.DEVICE_KINDS))
def test_device_arrays_in_and_out(kind):
    """forward_device / backward_device take device arrays with no host copy
    (here the simulator's), leave them untouched, and agree with numpy; a
    non-contiguous device array is accepted."""
    case = make_case(kind, 2, True, np.float64)
    c = case
    d = {name: cu.as_device(v) for name, v in c["params"].items()}
    x_host = np.ascontiguousarray(c["x"])
    x = cu.as_device(x_host)
    state0 = tuple(cu.as_device(s) for s in c["state0"]) if kind == "lstm" else cu.as_device(c["state0"])
    lengths = np.asarray(LENGTHS)
    output, h_n, c_n = numba_cuda.forward_device(c["net"], d, x, state0, lengths)
    assert cu.is_device_array(output) and cu.is_device_array(h_n)
    ref = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numpy")
    assert_close(cu.to_host(output), ref.output, 1e-12)
    assert_close(cu.to_host(h_n), ref.h_n, 1e-12)
    np.testing.assert_array_equal(cu.to_host(x), x_host)  # the padded steps were masked on a copy
    g_params, g_x, g_h0, g_c0 = numba_cuda.backward_device(
        c["net"], d, x, cu.as_device(c["d_output"]), cu.as_device(c["d_h_n"]),
        None if c["d_c_n"] is None else cu.as_device(c["d_c_n"]), state0, lengths)
    want = run_backward(case, "numpy", "full", lengths)
    for name, value in want.params.items():
        assert_close(cu.to_host(g_params[name]), value, 1e-12, name)
    assert_close(cu.to_host(g_x), want.x, 1e-12, "x")
    assert_close(cu.to_host(g_h0), want.h0, 1e-12, "h0")
    # a strided device view (every other step of a longer array) is copied to contiguous on the device
    long_x = np.repeat(c["x"], 2, axis=0)
    strided = cu.as_device(long_x)[::2]
    out2, _, _ = numba_cuda.forward_device(c["net"], d, strided, state0, lengths)
    assert_close(cu.to_host(out2), ref.output, 1e-12)
