"""numba-cpu agrees with the numpy reference on every combination."""
import numpy as np
import pytest

import rnnbench as rb
from cases import LENGTHS, assert_forward_close, assert_gradients_close, make_case, run_backward
from rnnbench.kernels.cells import GATES
from rnnbench.kernels.cpu import GEMV_MAX_BATCH, GEMV_MAX_BATCH_LARGE, GEMV_LARGE_WEIGHT, per_sample_gemv

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
@pytest.mark.parametrize("B", [1, 2, 3, 5, 33])
def test_both_recurrent_product_paths_agree(kind, B):
    """H = 256 at batch sizes on each side of where the recurrent product
    switches from one gemv per sample to one feature-major gemm (forward with
    W_hh, backward with W_hh^T)."""
    H = 256
    assert GATES[kind] * H * H < GEMV_LARGE_WEIGHT
    assert per_sample_gemv(B, GATES[kind] * H * H) == (B <= GEMV_MAX_BATCH)
    lengths = np.arange(B) % 6 + 1
    case = make_case(kind, 1, False, np.float64, T=6, B=B, I=5, H=H, weight_scale=None)
    for mode in ("full", "kstep:2", "chunk:4"):
        assert_gradients_close(run_backward(case, "numba-cpu", mode, lengths),
                               run_backward(case, "numpy", mode, lengths), 1e-12)
    case = make_case(kind, 1, True, np.float32, T=6, B=B, I=5, H=H, weight_scale=None)
    assert_gradients_close(run_backward(case, "numba-cpu", "full", lengths),
                           run_backward(case, "numpy", "full", lengths), 1e-5)


@pytest.mark.parametrize("B", [3, 4, 5])
def test_large_weight_gemv_threshold(B):
    """An LSTM at H = 512 (W_hh of 2^20 elements) takes the gemv path up to B = 4."""
    H = 512
    assert 4 * H * H >= GEMV_LARGE_WEIGHT
    assert per_sample_gemv(B, 4 * H * H) == (B <= GEMV_MAX_BATCH_LARGE)
    case = make_case("lstm", 1, False, np.float64, T=4, B=B, I=3, H=H, weight_scale=None)
    lengths = np.arange(B) % 4 + 1
    assert_gradients_close(run_backward(case, "numba-cpu", "full", lengths),
                           run_backward(case, "numpy", "full", lengths), 1e-12)
