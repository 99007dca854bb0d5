"""The transposed accumulation of the recurrent products (kernels/transpose.py
and kernels/cpu.py add_transposed) against a plain per-sample loop: bit for
bit, since every element gets the same single addition."""
import numpy as np
import pytest

import rnnbench as rb
from cases import assert_gradients_close, make_case, run_backward
from rnnbench.kernels.cpu import add_transposed


def _reference(src, t, lengths, dst):
    for b in range(src.shape[1]):
        if t < lengths[b]:
            dst[b] += src[:, b]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("K,B", [(1024, 32), (256, 8), (17, 8), (9, 9), (64, 64), (7, 3), (3, 16), (1, 1)])
@pytest.mark.parametrize("lengths", ["all-active", "some-padded"])
def test_add_transposed_is_bit_identical_to_the_loop(dtype, K, B, lengths):
    rng = np.random.default_rng(K * 100 + B)
    src = rng.standard_normal((K, B)).astype(dtype)
    dst = rng.standard_normal((B, K)).astype(dtype)
    steps = np.full(B, 4) if lengths == "all-active" else rng.integers(0, 3, B)
    expected, got = dst.copy(), dst.copy()
    _reference(src, 1, steps, expected)
    add_transposed(src, 1, steps, got)
    np.testing.assert_array_equal(got, expected)
    if lengths == "some-padded":  # padded rows are left exactly as they were
        padded = steps <= 1
        np.testing.assert_array_equal(got[padded], dst[padded])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_add_transposed_into_strided_views(dtype):
    """The GRU adds into a column slice of the pre-activations (rows GH apart)
    and into hn_lin; a view with strided rows falls back to the loop."""
    rng = np.random.default_rng(3)
    B, H = 16, 40
    xp = rng.standard_normal((2, B, 3 * H)).astype(dtype)
    hp = rng.standard_normal((3 * H, B)).astype(dtype)
    steps = np.full(B, 2)
    expected, got = xp.copy(), xp.copy()
    _reference(hp[:2 * H], 0, steps, expected[0, :, :2 * H])
    add_transposed(hp[:2 * H], 0, steps, got[0, :, :2 * H])
    np.testing.assert_array_equal(got, expected)
    wide = rng.standard_normal((B, 2 * H)).astype(dtype)
    expected, got = wide.copy(), wide.copy()
    _reference(hp[:H], 0, steps, expected[:, ::2])
    add_transposed(hp[:H], 0, steps, got[:, ::2])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_full_blocks_agree_with_numpy(kind, dtype, rtol):
    """A batch of whole blocks (16 samples, every step active, H a multiple of
    8): every transposed add, forward and backward, takes the block path."""
    case = make_case(kind, 1, False, dtype, T=5, B=16, I=6, H=64, weight_scale=None)
    for mode in ("full", "chunk:2"):
        assert_gradients_close(run_backward(case, "numba-cpu", mode), run_backward(case, "numpy", mode), rtol)
