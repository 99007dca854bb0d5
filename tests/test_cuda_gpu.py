"""numba-cuda on a real GPU: what the simulator cannot show (CUDA-event timing,
cooperative grids of many blocks, the GPU's own tile shapes at sizes that
need several blocks, zero-copy torch CUDA tensors).

Every test but the first needs a CUDA GPU and is skipped, with that reason,
where there is none (CI); the simulator and PTX tests (test_cuda_sim.py,
test_cuda_ptx.py) are what CI runs. The first test runs everywhere: without
a GPU the backend must be listed as unavailable, saying why and what to do.
"""
import importlib.util

import numpy as np
import pytest

import rnnbench as rb
from cases import assert_close, make_case, run_backward


def _gpu():
    if importlib.util.find_spec("numba_cuda") is None:
        return False
    from numba import cuda
    return not cuda.config.ENABLE_CUDASIM and cuda.is_available()


GPU = _gpu()
needs_gpu = pytest.mark.skipif(not GPU, reason="needs a CUDA GPU (none here); CI checks numba-cuda on the "
                                               "simulator (test_cuda_sim.py) and compiles it (test_cuda_ptx.py)")


def test_backend_availability_is_explained():
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.fail("numba-cuda is not installed: the CUDA tests need it (pip install '.[test]' brings "
                    "rnnbench[cuda])")
    status = rb.backends()["numba-cuda"]
    if GPU:
        assert status is True
    else:
        assert "no CUDA GPU found" in status and "NUMBA_ENABLE_CUDASIM=1" in status
        with pytest.raises(ValueError, match="^backend: 'numba-cuda' is unavailable here: no CUDA GPU found"):
            rb.forward(rb.RNN("gru", 2, 3), rb.RNN("gru", 2, 3).init_params(), np.zeros((2, 1, 2)),
                       backend="numba-cuda")


def _backend():
    from rnnbench.backends import get_backend
    return get_backend("numba-cuda")


@needs_gpu
def test_gpu_matches_numpy_at_sizes_with_many_blocks():
    """H = 256, every kind, both dtypes, per step and persistent: LARGE and SMALL
    GEMM tiles with several blocks, and persistent grids of many co-resident
    blocks (checked to be more than one), against the numpy reference."""
    from rnnbench.api import validated_problem
    from rnnbench.kernels.cells import KIND_IDS
    from rnnbench.kernels.cuda import persistent as pers
    backend = _backend()
    previous = backend.persistent
    lengths = np.random.default_rng(1).integers(1, 25, 16)
    try:
        for persistent in (False, True):
            backend.persistent = persistent
            for kind in rb.KINDS:
                for dtype in (np.float64, np.float32):
                    case = make_case(kind, 2, False, dtype, T=24, B=16, I=40, H=256, weight_scale=None)
                    rtol = 1e-11 if dtype == np.float64 else 2e-4
                    for mode in ("full", "kstep:4", "chunk:5"):
                        want = run_backward(case, "numpy", mode, lengths)
                        got = run_backward(case, "numba-cuda", mode, lengths)
                        for name, value in want.params.items():
                            assert_close(got.params[name], value, rtol, f"{kind} {dtype} {mode} {name}")
                        assert_close(got.x, want.x, rtol, f"{kind} {dtype} {mode} x")
                    c = case
                    p = validated_problem(c["net"], c["params"], c["x"], c["state0"], lengths)
                    trace = backend.train_forward(p)
                    assert {t.forward_path for t in trace.tapes} == {"persistent" if persistent else "per-step"}
                    if persistent:
                        assert pers.plan(KIND_IDS[kind], 16, 256, dtype, lambda threads, shared: 10 ** 9).blocks > 1
    finally:
        backend.persistent = previous


@needs_gpu
def test_time_call_uses_cuda_events():
    from rnnbench.kernels import cuda as cu
    from rnnbench.backends.numba_cuda import device_phase_functions
    net = rb.RNN("lstm", 64, 128, 1)
    params = net.init_params(0, np.float32)
    x = np.random.default_rng(0).standard_normal((32, 16, 64)).astype(np.float32)
    dy = np.ones((32, 16, 128), np.float32)
    for phase, fn in device_phase_functions(net, params, x, dy).items():
        samples = cu.time_call(fn, repeats=3, warmup=1)
        assert len(samples) == 3 and all(0 < s < 10 for s in samples), phase


@needs_gpu
def test_torch_cuda_tensors_are_used_without_copies():
    import torch  # in the test extra: a missing torch is a failure, not a skip
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA build here")
    from rnnbench.backends.numba_cuda import forward_device
    from rnnbench.kernels import cuda as cu
    case = make_case("gru", 1, False, np.float32, T=6, B=4, I=8, H=16, weight_scale=None)
    c = case
    params = {k: torch.from_numpy(v).cuda() for k, v in c["params"].items()}
    x = torch.from_numpy(c["x"]).cuda()
    output, h_n, _ = forward_device(c["net"], params, x, torch.from_numpy(c["state0"]).cuda())
    ref = rb.forward(c["net"], c["params"], c["x"], c["state0"], backend="numpy")
    assert_close(cu.to_host(output), ref.output, 1e-5)
    assert cu.as_device(x).__cuda_array_interface__["data"][0] == x.data_ptr()  # same memory, no copy
