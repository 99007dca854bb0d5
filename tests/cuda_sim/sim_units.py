"""numba-cuda on the CUDA simulator: the tests outside the matrix (launch
checks, persistent launch plans, device-array validation, step records and
decay, DeepBench's phases, timing refusal). Run once, beside shard 0 of
sim_checks.py, by tests/test_cuda_sim.py with NUMBA_ENABLE_CUDASIM=1."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: cases.py

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    raise RuntimeError("tests/cuda_sim runs under NUMBA_ENABLE_CUDASIM=1 only (see tests/test_cuda_sim.py)")
# The simulator runs each CUDA thread as a Python thread and hands the GIL around at
# every syncthreads; with the default 5 ms switch interval each one costs milliseconds.
sys.setswitchinterval(2e-4)

import rnnbench as rb  # noqa: E402
from cases import LENGTHS, assert_close, make_case, run_backward  # noqa: E402
from rnnbench.api import validated_problem  # noqa: E402
from rnnbench.backends import get_backend, numba_cuda  # noqa: E402
from rnnbench.kernels import cuda as cu  # noqa: E402
from rnnbench.kernels.cuda import limits, matmul, persistent  # noqa: E402
from sim_checks import _paths  # noqa: E402

BACKEND = get_backend("numba-cuda")



def test_colsum():
    rng = np.random.default_rng(3)
    src = rng.standard_normal((23, 9))
    dst = cu.as_device(np.ones(9))
    cu.colsum(cu.as_device(src), dst)
    assert_close(cu.to_host(dst), 1 + src.sum(axis=0), 1e-14)


def test_device_arrays_are_validated():
    case = make_case("gru", 1, False, np.float64)
    c = case
    d = {name: cu.as_device(v) for name, v in c["params"].items()}
    with pytest.raises(ValueError, match="^x: expected a 3-D array"):
        numba_cuda.forward_device(c["net"], d, cu.as_device(c["x"][0]))
    with pytest.raises(ValueError, match="^x: expected dtype float64"):
        numba_cuda.forward_device(c["net"], d, cu.as_device(c["x"].astype(np.float32)))
    with pytest.raises(ValueError, match="^params: expected a dict"):
        numba_cuda.forward_device(c["net"], {}, cu.as_device(c["x"]))
    with pytest.raises(ValueError, match=r"^state0: expected shape"):
        numba_cuda.forward_device(c["net"], d, cu.as_device(c["x"]), cu.as_device(c["x"]))


def test_step_records_and_decay():
    """StepRecords of the full sweep equal numba-cpu's; rnnbench.decay runs on numba-cuda."""
    from rnnbench.truncation import Truncation
    case = make_case("lstm", 2, False, np.float64)
    c = case
    p = validated_problem(c["net"], c["params"], c["x"], c["state0"], None)
    dc = c["d_c_n"]
    mine, theirs = [], []
    BACKEND.backward(p, c["d_output"], c["d_h_n"], dc, Truncation("full"), mine, sweep_only=True)
    get_backend("numba-cpu").backward(p, c["d_output"], c["d_h_n"], dc, Truncation("full"), theirs, sweep_only=True)
    assert len(mine) == len(theirs) == 2
    for a, b in zip(mine, theirs):
        for field in ("adj_h", "adj_c", "dpre_ih", "dpre_hh", "inputs", "outputs"):
            assert_close(getattr(a, field), getattr(b, field), 1e-12, field)
    small = make_case("gru", 1, False, np.float64, T=4, B=2)
    norms = rb.decay.jacobian_norms(small["net"], small["params"], small["x"], backend="numba-cuda")
    assert_close(norms, rb.decay.jacobian_norms(small["net"], small["params"], small["x"], backend="numba-cpu"),
                 1e-10)


def test_phases_match_numpy():
    """DeepBench's phases: backward_data then backward_weights reproduce rb.backward."""
    case = make_case("gru", 2, True, np.float32)
    c = case
    p = validated_problem(c["net"], c["params"], c["x"], c["state0"], LENGTHS)
    trace = BACKEND.train_forward(p)
    g_x, g_h0, _ = BACKEND.backward_data(p, trace, c["d_output"], c["d_h_n"], np.zeros_like(c["d_h_n"]))
    g_params = BACKEND.backward_weights(p, trace)
    want = run_backward(case, "numpy", "full", LENGTHS)
    assert_close(g_x, want.x, 1e-5)
    assert_close(g_h0, want.h0, 1e-5)
    for name, value in want.params.items():
        assert_close(g_params[name], value, 1e-5, name)


def test_timing_is_refused_under_the_simulator():
    with pytest.raises(ValueError, match="^timing: numba-cuda is running on Numba's CUDA simulator"):
        cu.time_call(lambda: None)
    with pytest.raises(ValueError, match="^timing: "):
        BACKEND.check_timing()
    net = rb.RNN("gru", 2, 3)
    with pytest.raises(ValueError, match="^timing: "):
        BACKEND.measure_phases(net, net.init_params(), np.zeros((2, 1, 2)), np.zeros((2, 1, 3)))


def test_throughput_reports_numba_cuda_unsupported_under_the_simulator():
    from rnnbench.throughput import measure_throughput
    results = measure_throughput(rb.RNN("gru", 2, 3), 2, 1, np.float64, ["numba-cpu", "numba-cuda"],
                                 min_repeats=1, min_seconds=0, settle_s=0)
    assert results["numba-cuda"]["unsupported"].startswith("timing: numba-cuda is running on Numba's CUDA simulator")
    assert results["numba-cpu"]["forward_ms"] > 0 and results["numba-cpu"]["max_rel_diff"] < 1e-10


# --- launch configurations: checked by our launcher (the simulator checks none) -------------

def test_launch_checks_name_the_argument():
    lim = limits.SIMULATOR_LIMITS
    with pytest.raises(ValueError, match=r"^block: k may use at most 1024 threads per block"):
        limits.check_launch("k", 1, (64, 32), limits=lim)
    with pytest.raises(ValueError, match=r"^block: k needs 1 <= block\[0\]"):
        limits.check_launch("k", 1, 0, limits=lim)
    with pytest.raises(ValueError, match=r"^block: expected a positive int"):
        limits.check_launch("k", 1, (1, 2, 3, 4), limits=lim)
    with pytest.raises(ValueError, match=r"^grid: k needs 1 <= grid\[1\] <= 65535"):
        limits.check_launch("k", (1, 70000), 32, limits=lim)
    with pytest.raises(ValueError, match=r"^shared: k asks for 49153 bytes"):
        limits.check_launch("k", 1, 32, shared=48 * 1024 + 1, limits=lim)
    with pytest.raises(ValueError, match=r"^shared: k needs a non-negative byte count"):
        limits.check_launch("k", 1, 32, shared=-1, limits=lim)
    with pytest.raises(ValueError, match=r"^grid: k is a cooperative launch; at most 1 blocks"):
        limits.check_launch("k", 2, 32, cooperative_max=1, limits=lim)
    assert limits.check_launch("k", (2, 3), (16, 16), shared=1024, limits=lim) == ((2, 3, 1), (16, 16, 1))


def test_launch_refuses_blocks_beyond_launch_bounds():
    kernel = matmul.gemm_kernel("float64", False, False, matmul.TINY)
    a = cu.zeros((4, 4), np.float64)
    with pytest.raises(ValueError, match=r"^block: gemm_NN_16x16_float64 is compiled for at most 16 threads"):
        limits.launch(kernel, 1, 32, (a, a, a, a, False, False), shared=matmul.TINY.shared_bytes(8))


def test_cooperative_grid_beyond_the_simulator_is_refused():
    """A persistent launch of 2 blocks would silently break grid sync in the
    simulator: our launcher refuses it."""
    case = make_case("rnn_tanh", 1, False, np.float64, H=4)
    c = case
    p = validated_problem(c["net"], c["params"], c["x"], c["state0"], None)
    dev = numba_cuda._device_problem(p.net, p.params, p.x, p.h0, p.c0, p.lengths, p.dtype)
    T, B, H = 5, 3, 4
    y, tape = cu.forward_layer("rnn_tanh", dev.x, dev.h0[0], dev.h0[0], p.net.layer_weights(dev.params, 0, 0),
                               dev.lengths, persistent=False)
    two = persistent.Plan(blocks=2, threads=B * 2, hb=2, shared=persistent.shared_bytes(0, H, 2, 8),
                          cooperative_max=1)
    with pytest.raises(ValueError, match=r"^grid: persistent_forward_rnn_tanh_float64 is a cooperative launch"):
        persistent.run_forward(0, two, T, tape.gates, dev.params["weight_hh_l0"], dev.params["bias_hh_l0"],
                               dev.lengths, tape.hs, tape.cs, tape.hn_lin, y)


def test_persistent_plan_fits_or_falls_back():
    sim = limits.SIMULATOR_LIMITS
    one = persistent.plan(2, 4, 16, np.float32, lambda threads, shared: 1, sim)
    assert one == persistent.Plan(1, 64, 16, 4 * 16 * 16 * 4, 1)
    # W_hh of an lstm with H = 64 in float64 is 128 KiB: more than the simulator's 48 KiB per block
    assert persistent.plan(2, 4, 64, np.float64, lambda threads, shared: 1, sim) is None
    # a GPU-like device: 132 SMs, 227 KiB opt-in; blocks as wide as co-residency allows
    gpu = limits.Limits(1024, (1024, 1024, 64), (2 ** 31 - 1, 65535, 65535), 48 * 1024, 227 * 1024, 132)
    plan = persistent.plan(2, 64, 1024, np.float32, lambda threads, shared: 132 * (227 * 1024 // shared), gpu)
    assert plan == persistent.Plan(blocks=128, threads=512, hb=8, shared=4 * 1024 * 8 * 4, cooperative_max=132)
    small = persistent.plan(3, 2, 256, np.float64, lambda threads, shared: 132 * (227 * 1024 // shared), gpu)
    assert small.hb == 16 and small.threads == 32 and small.blocks == 16  # a full warp of (b, j) per block
    # too large for the aggregate shared memory: no plan, the per-step path runs
    assert persistent.plan(2, 64, 4096, np.float32, lambda threads, shared: 132 * (227 * 1024 // shared),
                           gpu) is None
    # backend default "auto" keeps the per-step path in the simulator
    assert BACKEND.persistent == "auto"
    assert _paths(make_case("gru", 1, False, np.float64), None) == ({"per-step"}, {"per-step"})
