"""Full BPTT against central finite differences of the loss, in float64.

The loss is L = sum(d_output * output) + sum(d_h_n * h_n) + sum(d_c_n * c_n),
evaluated with the numpy forward; every parameter, input and initial-state
entry is perturbed by ±eps.
"""
import numpy as np
import pytest

import rnnbench as rb
from cases import LENGTHS, assert_close, make_case, run_backward

EPS = 1e-6


def loss(case, params, x, state0, lengths):
    out = rb.forward(case["net"], params, x, state0, lengths, backend="numpy")
    total = np.sum(case["d_output"] * out.output) + np.sum(case["d_h_n"] * out.h_n)
    if out.c_n is not None:
        total += np.sum(case["d_c_n"] * out.c_n)
    return total


def numerical_gradient(f, array):
    """Central differences of f() with respect to every entry of `array` (perturbed in place)."""
    grad = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        keep = array[idx]
        array[idx] = keep + EPS
        up = f()
        array[idx] = keep - EPS
        down = f()
        array[idx] = keep
        grad[idx] = (up - down) / (2 * EPS)
    return grad


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full-length", "lengths"])
def test_full_bptt_matches_finite_differences(kind, num_layers, bidirectional, lengths):
    case = make_case(kind, num_layers, bidirectional)
    params, x, state0 = case["params"], case["x"].copy(), case["state0"]
    states = state0 if isinstance(state0, tuple) else (state0,)

    def f():
        return loss(case, params, x, state0, lengths)

    expected = {f"params[{k}]": numerical_gradient(f, v) for k, v in params.items()}
    expected["x"] = numerical_gradient(f, x)
    expected["h0"] = numerical_gradient(f, states[0])
    if kind == "lstm":
        expected["c0"] = numerical_gradient(f, states[1])
    case["x"] = x
    for backend in ("numpy", "numba-cpu"):
        g = run_backward(case, backend, lengths=lengths)
        got = {f"params[{k}]": v for k, v in g.params.items()}
        got.update(x=g.x, h0=g.h0)
        if kind == "lstm":
            got["c0"] = g.c0
        assert got.keys() == expected.keys()
        for name, fd in expected.items():
            assert np.abs(fd).max() > 1e-3, f"{name}: the check needs a non-trivial gradient"
            assert_close(got[name], fd, 1e-7, f"{backend} {name}")
