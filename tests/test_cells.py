"""The scalar cell math: activation accuracy, special values, and the derivative formulas."""
import math

import numpy as np
import pytest
from numba import njit

from rnnbench.kernels import cells

TANH_F32_MAX_ULP = 4.90  # the exhaustive bound quoted in kernels/cells.py


@njit
def _apply_tanh(a, out):
    for i in range(a.size):
        out[i] = cells.tanh(a[i])


@njit
def _apply_sigmoid(a, out):
    for i in range(a.size):
        out[i] = cells.sigmoid(a[i])


def _run(fn, a):
    out = np.empty_like(a)
    fn(a, out)
    return out


def _ulp_error(got, exact):
    return np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)


def test_tanh_float32_error_bound_over_a_dense_grid():
    """Every 97th float32 in [0, 9]: 11 million points, both regimes (polynomial, clamp)."""
    bits = np.arange(0, np.float32(9).view(np.int32), 97, dtype=np.int32)
    x = bits.view(np.float32)
    err = _ulp_error(_run(_apply_tanh, x), np.tanh(x.astype(np.float64)))
    assert err.max() <= TANH_F32_MAX_ULP
    assert err.max() > 1  # guards against testing the libm path by mistake


def test_tanh_float32_is_odd_and_handles_special_values():
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 4
    np.testing.assert_array_equal(_run(_apply_tanh, -x), -_run(_apply_tanh, x))
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, 100.0, -100.0], np.float32)
    got = _run(_apply_tanh, special)
    np.testing.assert_array_equal(got, np.array([np.nan, 1, -1, 0, -0.0, 1e-30, 1, -1], np.float32))
    assert np.signbit(got[4])


def test_tanh_float32_saturates_exactly_at_the_clamp():
    """From the clamp on tanh is exactly +-1 (so 1 - h^2 is exactly 0); just
    below it, and anywhere below, it stays under 1."""
    clamp = cells._CLAMP
    below = np.nextafter(clamp, np.float32(0))
    x = np.array([clamp, below, np.float32(8.5), np.float32(7.5)], np.float32)
    got = _run(_apply_tanh, x)
    np.testing.assert_array_equal(got[[0, 2]], [1, 1])
    assert got[1] < 1 and got[3] < 1
    bits = np.arange(np.float32(7).view(np.int32), below.view(np.int32) + 1, 13, dtype=np.int32)
    assert _run(_apply_tanh, bits.view(np.float32)).max() < 1


@njit(error_model="numpy")
def _apply_exp(a, out):
    for i in range(a.size):
        out[i] = cells._exp_f64(a[i])


def _ulps_f64(got, exact):
    return np.abs(got - exact) / np.spacing(np.abs(exact))


def test_exp_float64_within_one_ulp_of_libm():
    x = np.random.default_rng(1).uniform(-707, 709.78, 300_000)
    assert _ulps_f64(_run(_apply_exp, x), np.array([math.exp(v) for v in x])).max() <= 1.0
    edge = _run(_apply_exp, np.array([709.78, 709.8, np.inf, np.nan, 0.0, -0.0, -707.0]))
    assert np.isfinite(edge[0]) and edge[1] == np.inf and edge[2] == np.inf and np.isnan(edge[3])
    assert edge[4] == 1.0 and edge[5] == 1.0 and edge[6] == math.exp(-707.0)


def test_tanh_float64_within_two_ulp_of_libm():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(200_000) * 3, rng.uniform(-0.7, 0.7, 100_000),
                        10.0 ** rng.uniform(-300, 2.7, 100_000) * rng.choice([-1, 1], 100_000)])
    got = _run(_apply_tanh, x)
    assert _ulps_f64(got, np.array([math.tanh(v) for v in x])).max() <= 2.0
    special = _run(_apply_tanh, np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, 400.0]))
    np.testing.assert_array_equal(special, [np.nan, 1, -1, 0, -0.0, 1e-310, 1])
    assert np.signbit(special[4])
    np.testing.assert_array_equal(_run(_apply_tanh, -x), -got)


@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 3 * 2.0 ** -52, 0), (np.float32, 0, 2e-7)])
def test_sigmoid_accuracy_and_saturation(dtype, rtol, atol):
    """float64: within 3 ulp relative everywhere (tiny values included); float32: the
    tanh-based form is accurate in absolute terms (2e-7), not relative near 0."""
    x = np.linspace(-40, 40, 200_001).astype(dtype)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    got = _run(_apply_sigmoid, x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, exact, rtol=rtol, atol=atol)
    edge = _run(_apply_sigmoid, np.array([-1e4, 1e4, np.nan, -np.inf, np.inf], dtype))
    np.testing.assert_array_equal(edge, np.array([0, 1, np.nan, 0, 1], dtype))


def _numeric(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_lstm_cell_backward_is_the_derivative():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(4)
    c_prev, dh, dc = rng.standard_normal(3)

    def loss(v):
        i, f, g, o, c, h = cells.lstm_cell.py_func(*v[:4], v[4])
        return dh * h + dc * c
    i, f, g, o, c, _ = cells.lstm_cell.py_func(*a, c_prev)
    grads = cells.lstm_cell_backward.py_func(dh, dc, i, f, g, o, c, c_prev)
    point = np.append(a, c_prev)
    for k in range(5):
        e = np.zeros(5)
        e[k] = 1
        assert grads[k] == pytest.approx(_numeric(lambda s: loss(point + s * e), 0.0), rel=1e-7)


def test_gru_cell_backward_is_the_derivative():
    rng = np.random.default_rng(3)
    point = rng.standard_normal(5)  # a_r, a_z, x_n, h_n, h_prev
    dh = rng.standard_normal()

    def loss(v):
        return dh * cells.gru_cell.py_func(*v)[3]
    r, z, n, _ = cells.gru_cell.py_func(*point)
    da_r, da_z, dx_n, dh_n, dh_direct = cells.gru_cell_backward.py_func(dh, r, z, n, point[3], point[4])
    for k, expected in enumerate([da_r, da_z, dx_n, dh_n, dh_direct]):
        e = np.zeros(5)
        e[k] = 1
        assert expected == pytest.approx(_numeric(lambda s: loss(point + s * e), 0.0), rel=1e-7)


@pytest.mark.parametrize("use_relu", [False, True])
def test_rnn_cell_backward_is_the_derivative(use_relu):
    for a in (-0.7, 0.3, 1.9):
        h = cells.rnn_cell.py_func(a, use_relu)
        expected = _numeric(lambda v: cells.rnn_cell.py_func(v, use_relu), a)
        assert cells.rnn_cell_backward.py_func(1.0, h, use_relu) == pytest.approx(expected, rel=1e-7, abs=1e-12)
