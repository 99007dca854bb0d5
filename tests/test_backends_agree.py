"""numba-cpu agrees with the numpy reference on every combination."""
import numpy as np
import pytest

import rnnbench as rb
from cases import LENGTHS, assert_forward_close, assert_gradients_close, make_case, run_backward

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
STRUCTURES = [(1, False), (1, True), (2, False), (2, True)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", STRUCTURES)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full-length", "lengths"])
def test_numba_cpu_matches_numpy(dtype, kind, num_layers, bidirectional, lengths):
    case = make_case(kind, num_layers, bidirectional, dtype)
    c = case
    out = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numba-cpu")
    ref = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numpy")
    assert out.output.dtype == dtype
    assert_forward_close(out, ref, RTOL[dtype])
    modes = ["full"] if bidirectional else ["full", "kstep:1", "chunk:2"]
    for mode in modes:
        assert_gradients_close(run_backward(case, "numba-cpu", mode, lengths),
                               run_backward(case, "numpy", mode, lengths), RTOL[dtype])


@pytest.mark.parametrize("kind", rb.KINDS)
def test_larger_problem_agrees(kind):
    """Sizes where BLAS blocking and the long time loop matter (PyTorch's init, so the
    recurrence is not chaotic and rounding differences are not amplified)."""
    case = make_case(kind, 2, False, np.float64, T=40, B=7, I=13, H=33, weight_scale=None)
    for mode in ("full", "kstep:5", "chunk:8"):
        assert_gradients_close(run_backward(case, "numba-cpu", mode), run_backward(case, "numpy", mode), 1e-12)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("B", [1, 2, 5, 6, 7, 33])
def test_batch_sizes_across_the_micro_kernel_row_groups(kind, B):
    """H = 256 (whole panels) at batch sizes below, at and above the
    micro-kernel's row group (kernels/panels.py ROWS = 6), with padded
    samples; large enough for the layer calls to run on a team of threads
    where Numba has more than one."""
    H = 256
    lengths = np.arange(B) % 6 + 1
    case = make_case(kind, 1, False, np.float64, T=6, B=B, I=5, H=H, weight_scale=None)
    for mode in ("full", "kstep:2", "chunk:4"):
        assert_gradients_close(run_backward(case, "numba-cpu", mode, lengths),
                               run_backward(case, "numpy", mode, lengths), 1e-12)
    case = make_case(kind, 1, True, np.float32, T=6, B=B, I=5, H=H, weight_scale=None)
    assert_gradients_close(run_backward(case, "numba-cpu", "full", lengths),
                           run_backward(case, "numpy", "full", lengths), 1e-5)
