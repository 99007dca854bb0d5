"""Shared builders and comparisons for the numerical tests."""
import numpy as np

import rnnbench as rb

T, B, I, H = 5, 3, 2, 3
LENGTHS = np.array([5, 2, 4])  # unsorted, one full, one short


def make_case(kind, num_layers=1, bidirectional=False, dtype=np.float64, seed=0, T=T, B=B, I=I, H=H,
              weight_scale=0.8, input_mode="linear"):
    """A network with random parameters, input, initial state and loss gradients.

    Parameters are U(-weight_scale, weight_scale) (large enough at tiny H that
    every gate and the recurrence matter), or PyTorch's default init when
    weight_scale is None (well-conditioned at any H).
    Returns dict(net, params, x, state0, d_output, d_h_n, d_c_n)."""
    net = rb.RNN(kind, I, H, num_layers, bidirectional, input_mode)
    rng = np.random.default_rng(seed)
    params = net.init_params(seed, dtype)
    if weight_scale is not None:
        params = {k: rng.uniform(-weight_scale, weight_scale, v.shape).astype(dtype) for k, v in params.items()}
    S = (num_layers * net.num_directions, B, H)

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    h0 = r(*S)
    return dict(net=net, params=params, x=r(T, B, I),
                state0=(h0, r(*S)) if kind == "lstm" else h0,
                d_output=r(T, B, net.num_directions * H), d_h_n=r(*S),
                d_c_n=r(*S) if kind == "lstm" else None)


def run_backward(case, backend, truncation="full", lengths=None):
    c = case
    return rb.backward(c["net"], c["params"], c["x"], c["d_output"], c["d_h_n"], c["d_c_n"],
                       c["state0"], lengths=lengths, truncation=truncation, backend=backend)


def gradient_arrays(g):
    """name -> array for every gradient in a Gradients result."""
    arrays = {f"params[{k}]": v for k, v in g.params.items()}
    arrays.update(x=g.x, h0=g.h0)
    if g.c0 is not None:
        arrays["c0"] = g.c0
    return arrays


def assert_close(actual, reference, rtol, what=""):
    """|actual - reference| <= rtol * max|reference| elementwise (relative to the
    array's scale, so entries that are exactly or nearly zero don't dominate)."""
    scale = max(float(np.max(np.abs(reference))), np.finfo(reference.dtype).tiny) if reference.size else 1.0
    np.testing.assert_allclose(actual, reference, rtol=0, atol=rtol * scale, err_msg=what)


def assert_gradients_close(g, ref, rtol):
    a, r = gradient_arrays(g), gradient_arrays(ref)
    assert a.keys() == r.keys()
    for name in r:
        assert a[name].dtype == r[name].dtype, name
        assert_close(a[name], r[name], rtol, name)


def assert_forward_close(out, ref, rtol):
    assert_close(out.output, ref.output, rtol, "output")
    assert_close(out.h_n, ref.h_n, rtol, "h_n")
    assert (out.c_n is None) == (ref.c_n is None)
    if ref.c_n is not None:
        assert_close(out.c_n, ref.c_n, rtol, "c_n")
