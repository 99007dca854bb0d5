"""Edge cases of rb.forward / rb.backward on the numpy and numba-cpu backends:
degenerate sizes, strided inputs, non-finite values, padding, dtypes and the
documented shapes of every result."""
import numpy as np
import pytest

import rnnbench as rb

BACKENDS = ["numpy", "numba-cpu"]
KINDS = list(rb.KINDS)


# --------------------------------------------------------------------------- helpers

def state_shape(net, B):
    return (net.num_layers * net.num_directions, B, net.hidden_size)


def make_inputs(net, T, B, dtype=np.float64, seed=0, lengths=None):
    """Random params, x, state0 and every output gradient (all non-zero)."""
    rng = np.random.default_rng(seed)
    params = net.init_params(seed=seed, dtype=dtype)
    s = state_shape(net, B)
    h0 = (0.5 * rng.standard_normal(s)).astype(dtype)
    c0 = (0.5 * rng.standard_normal(s)).astype(dtype)
    kw = dict(
        x=rng.standard_normal((T, B, net.input_size)).astype(dtype),
        state0=(h0, c0) if net.kind == "lstm" else h0,
        lengths=lengths,
    )
    grads = dict(
        d_output=rng.standard_normal((T, B, net.num_directions * net.hidden_size)).astype(dtype),
        d_h_n=rng.standard_normal(s).astype(dtype),
        d_c_n=rng.standard_normal(s).astype(dtype) if net.kind == "lstm" else None,
    )
    return params, kw, grads


def run_both(net, params, kw, grads, backend, truncation="full"):
    out = rb.forward(net, params, kw["x"], state0=kw["state0"], lengths=kw["lengths"], backend=backend)
    g = rb.backward(net, params, kw["x"], state0=kw["state0"], lengths=kw["lengths"],
                    truncation=truncation, backend=backend, **grads)
    return out, g


def flatten(out, g):
    """name -> array for every array in a (ForwardResult, Gradients) pair."""
    arrays = {"output": out.output, "h_n": out.h_n, "g.x": g.x, "g.h0": g.h0}
    if out.c_n is not None:
        arrays["c_n"] = out.c_n
    if g.c0 is not None:
        arrays["g.c0"] = g.c0
    arrays.update({f"g.params[{k}]": v for k, v in g.params.items()})
    return arrays


def assert_close(actual, reference, what):
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    np.testing.assert_allclose(actual, reference, rtol=1e-12, atol=1e-12 * scale, err_msg=what)


def assert_all_equal(a, b):
    fa, fb = flatten(*a), flatten(*b)
    assert fa.keys() == fb.keys()
    for name in fa:
        np.testing.assert_array_equal(fa[name], fb[name], err_msg=name)


def assert_documented_shapes(net, params, T, B, out, g, dtype):
    D, H, L, I = net.num_directions, net.hidden_size, net.num_layers, net.input_size
    assert isinstance(out, rb.ForwardResult) and isinstance(g, rb.Gradients)
    assert out.output.shape == (T, B, D * H)
    assert out.h_n.shape == (L * D, B, H)
    assert g.x.shape == (T, B, I)
    assert g.h0.shape == (L * D, B, H)
    if net.kind == "lstm":
        assert out.c_n.shape == (L * D, B, H)
        assert g.c0.shape == (L * D, B, H)
    else:
        assert out.c_n is None and g.c0 is None
    assert set(g.params) == set(params)
    assert set(g.params) == set(net.param_shapes())
    for name, value in params.items():
        assert g.params[name].shape == value.shape == net.param_shapes()[name], name
    for name, arr in flatten(out, g).items():
        assert isinstance(arr, np.ndarray), name
        assert arr.dtype == dtype, name


# --------------------------------------------------------------------------- edge sizes, numba == numpy

EDGE_SIZES = [
    # T, B, I, H, num_layers, bidirectional
    (1, 1, 1, 1, 1, False),
    (1, 1, 1, 1, 2, True),
    (1, 3, 2, 3, 1, False),
    (4, 1, 2, 3, 1, False),
    (4, 3, 1, 1, 1, False),
    (3, 2, 1, 1, 2, True),
    (1, 2, 3, 2, 2, False),
    (3, 1, 1, 2, 1, True),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T, B, I, H, L, bidir", EDGE_SIZES)
def test_edge_sizes_numba_matches_numpy(kind, T, B, I, H, L, bidir):
    net = rb.RNN(kind, I, H, num_layers=L, bidirectional=bidir)
    lengths = None if B == 1 else np.array([T] + [max(1, T - b) for b in range(1, B)])
    params, kw, grads = make_inputs(net, T, B, lengths=lengths)
    ref = run_both(net, params, kw, grads, "numpy")
    got = run_both(net, params, kw, grads, "numba-cpu")
    for res in (ref, got):
        assert_documented_shapes(net, params, T, B, *res, np.float64)
    fr, fg = flatten(*ref), flatten(*got)
    assert fr.keys() == fg.keys()
    for name in fr:
        assert np.all(np.isfinite(fr[name])), name
        assert_close(fg[name], fr[name], name)
    # the gradients are not trivially zero (a relu unit of H=1 may be dead)
    if kind != "rnn_relu":
        assert np.any(fr["g.x"] != 0) and np.any(fr["g.h0"] != 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("truncation", ["kstep:0", "kstep:1", "chunk:1", "chunk:2"])
def test_edge_truncation_numba_matches_numpy(kind, truncation):
    net = rb.RNN(kind, 1, 1)
    params, kw, grads = make_inputs(net, 3, 2, lengths=np.array([3, 1]))
    ref = run_both(net, params, kw, grads, "numpy", truncation)
    got = run_both(net, params, kw, grads, "numba-cpu", truncation)
    fr, fg = flatten(*ref), flatten(*got)
    for name in fr:
        assert_close(fg[name], fr[name], name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_t1_single_step_h_n_is_output(backend, kind):
    """T=1, one layer, one direction: h_n[0] is the one output step."""
    net = rb.RNN(kind, 1, 1)
    params, kw, grads = make_inputs(net, 1, 1)
    out, g = run_both(net, params, kw, grads, backend)
    np.testing.assert_array_equal(out.output[0], out.h_n[0])
    assert_documented_shapes(net, params, 1, 1, out, g, np.float64)


# --------------------------------------------------------------------------- non-contiguous views

def strided_view(a, rng, transpose):
    """A non-C-contiguous view holding exactly a's values."""
    if transpose and a.ndim >= 2:
        v = np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1)
    else:
        big = rng.standard_normal(tuple(2 * n for n in a.shape)).astype(a.dtype)
        v = big[tuple(slice(None, None, 2) for _ in a.shape)]
        v[...] = a
    assert not v.flags.c_contiguous or a.size <= 1
    np.testing.assert_array_equal(v, a)
    return v


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("bidir", [False, True])
def test_non_contiguous_inputs(backend, kind, transpose, bidir):
    T, B, I, H = 4, 3, 3, 2
    net = rb.RNN(kind, I, H, num_layers=2, bidirectional=bidir)
    params, kw, grads = make_inputs(net, T, B, lengths=np.array([4, 2, 3]))
    rng = np.random.default_rng(7)

    # x as a strided slice like big[::2, :, ::2], or as a transposed array
    if transpose:
        x_v = rng.standard_normal((B, T, I)).transpose(1, 0, 2)
    else:
        x_v = rng.standard_normal((2 * T, B, 2 * I))[::2, :, ::2]
    assert not x_v.flags.c_contiguous
    params_v = {k: strided_view(v, rng, transpose) for k, v in params.items()}
    if kind == "lstm":
        state_v = tuple(strided_view(s, rng, transpose) for s in kw["state0"])
    else:
        state_v = strided_view(kw["state0"], rng, transpose)
    grads_v = {k: (None if v is None else strided_view(v, rng, transpose)) for k, v in grads.items()}
    lengths_v = np.array([4, 0, 2, 0, 3, 0])[::2]
    kw_v = dict(x=x_v, state0=state_v, lengths=lengths_v)

    def copy(a):
        if a is None:
            return None
        if isinstance(a, tuple):
            return tuple(np.ascontiguousarray(v) for v in a)
        return np.ascontiguousarray(a)

    params_c = {k: copy(v) for k, v in params_v.items()}
    kw_c = {k: copy(v) for k, v in kw_v.items()}
    grads_c = {k: copy(v) for k, v in grads_v.items()}
    assert kw_c["x"].flags.c_contiguous

    got = run_both(net, params_v, kw_v, grads_v, backend)
    ref = run_both(net, params_c, kw_c, grads_c, backend)
    assert_all_equal(got, ref)
    assert_documented_shapes(net, params, T, B, *got, np.float64)
    # the caller's views are untouched
    np.testing.assert_array_equal(x_v, kw_c["x"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_fortran_order_inputs(backend, kind):
    net = rb.RNN(kind, 3, 2)
    params, kw, grads = make_inputs(net, 4, 3)
    params_f = {k: np.asfortranarray(v) for k, v in params.items()}
    kw_f = dict(kw, x=np.asfortranarray(kw["x"]))
    grads_f = {k: (None if v is None else np.asfortranarray(v)) for k, v in grads.items()}
    assert not kw_f["x"].flags.c_contiguous
    assert_all_equal(run_both(net, params_f, kw_f, grads_f, backend),
                     run_both(net, params, kw, grads, backend))


# --------------------------------------------------------------------------- NaN / inf

def nonfinite_masks(out, g):
    return {name: ~np.isfinite(a) for name, a in flatten(out, g).items()}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidir", [False, True])
def test_nan_in_x_propagates(kind, bidir):
    net = rb.RNN(kind, 2, 3, bidirectional=bidir)
    params, kw, grads = make_inputs(net, 4, 2)
    kw["x"][1, 0, 1] = np.nan
    results = {}
    for backend in BACKENDS:
        out, g = run_both(net, params, kw, grads, backend)
        results[backend] = (out, g)
        # sample 0 is NaN from step 1 on (forward direction); sample 1 is untouched
        assert np.isnan(out.output[1:, 0, :net.hidden_size]).all(), backend
        assert np.isnan(out.h_n[0, 0]).all(), backend
        assert np.isfinite(out.output[:, 1]).all() and np.isfinite(out.h_n[:, 1]).all(), backend
        if kind == "lstm":
            assert np.isnan(out.c_n[0, 0]).all(), backend
        # backward: the NaN reaches the shared weights' gradients and, except through
        # relu (whose derivative at NaN is 0, as in torch), those of sample 0
        if kind != "rnn_relu":
            assert np.isnan(g.x[:2, 0]).any(), backend
            assert np.isnan(g.h0[:, 0]).any(), backend
        assert np.isnan(g.params["weight_ih_l0"]).any(), backend
        assert np.isnan(g.params["weight_hh_l0"]).any(), backend
        assert np.isfinite(g.x[:, 1]).all(), backend
    masks = {b: nonfinite_masks(*r) for b, r in results.items()}
    for name, m in masks["numpy"].items():
        np.testing.assert_array_equal(masks["numba-cpu"][name], m, err_msg=name)


def positive_params(net, params):
    """|W_ih| so that a +inf input drives every pre-activation to +inf."""
    params = dict(params)
    for name in params:
        if name.startswith("weight_ih"):
            params[name] = np.abs(params[name]) + 0.01
    return params


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("kind", KINDS)
def test_inf_minus_inf_in_x_gives_nan(kind):
    """+inf and -inf in one input step with positive W_ih: every pre-activation is
    inf - inf = NaN, and the NaN propagates through forward and backward."""
    net = rb.RNN(kind, 2, 3)
    params, kw, grads = make_inputs(net, 3, 2)
    params = positive_params(net, params)
    kw["x"][0, 0] = [np.inf, -np.inf]
    results = {}
    for backend in BACKENDS:
        out, g = run_both(net, params, kw, grads, backend)
        results[backend] = (out, g)
        assert np.isnan(out.output[:, 0]).all(), backend
        assert np.isnan(out.h_n[0, 0]).all(), backend
        assert np.isfinite(out.output[:, 1]).all(), backend
        if kind != "rnn_relu":  # relu's derivative at NaN is 0, as in torch
            assert np.isnan(g.x[0, 0]).any(), backend
        assert np.isnan(g.params["weight_ih_l0"]).any(), backend
        assert np.isnan(g.params["weight_hh_l0"]).any(), backend
    masks = {b: nonfinite_masks(*r) for b, r in results.items()}
    for name, m in masks["numpy"].items():
        np.testing.assert_array_equal(masks["numba-cpu"][name], m, err_msg=name)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("kind", KINDS)
def test_inf_in_x(kind):
    """+inf with positive W_ih: rnn_relu outputs +inf; the saturating kinds give
    finite outputs (tanh, sigmoid of +inf), but W_ih's gradient meets inf * 0 or
    inf * g and is non-finite. Both backends agree on every value and position."""
    net = rb.RNN(kind, 2, 3)
    params, kw, grads = make_inputs(net, 3, 2)
    params = positive_params(net, params)
    kw["x"][1, 0, 0] = np.inf
    results = {}
    for backend in BACKENDS:
        out, g = run_both(net, params, kw, grads, backend)
        results[backend] = (out, g)
        if kind == "rnn_relu":
            assert np.isposinf(out.output[1, 0]).all(), backend
            assert not np.isfinite(out.h_n[0, 0]).all(), backend
        else:
            assert np.isfinite(out.output).all(), backend
        assert np.isfinite(out.output[:, 1]).all(), backend
        assert not np.isfinite(g.params["weight_ih_l0"]).all(), backend
    masks = {b: nonfinite_masks(*r) for b, r in results.items()}
    for name, m in masks["numpy"].items():
        np.testing.assert_array_equal(masks["numba-cpu"][name], m, err_msg=name)
    fr, fg = flatten(*results["numpy"]), flatten(*results["numba-cpu"])
    for name in fr:
        finite = ~masks["numpy"][name]
        assert_close(fg[name][finite], fr[name][finite], name)


# --------------------------------------------------------------------------- NaN in padding

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L, bidir", [(1, False), (2, True)])
@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_nonfinite_in_padding_is_ignored(backend, kind, L, bidir, poison):
    T, B = 4, 3
    lengths = np.array([4, 1, 2])
    net = rb.RNN(kind, 2, 3, num_layers=L, bidirectional=bidir)
    params, kw, grads = make_inputs(net, T, B, lengths=lengths)
    padded = np.arange(T)[:, None] >= lengths[None, :]
    assert padded.any()
    kw["x"][padded] = 0.0
    clean = run_both(net, params, kw, grads, backend)
    dirty_x = kw["x"].copy()
    dirty_x[padded] = poison
    dirty = run_both(net, params, dict(kw, x=dirty_x), grads, backend)
    for name, a in flatten(*dirty).items():
        assert np.isfinite(a).all(), name
    assert_all_equal(dirty, clean)
    out, g = dirty
    # documented: output and g.x are zero at padded steps
    assert (out.output[padded] == 0).all()
    assert (g.x[padded] == 0).all()
    # the caller's x is not modified
    assert np.isnan(dirty_x[padded]).all() if np.isnan(poison) else np.isinf(dirty_x[padded]).all()


# --------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L, bidir", [(1, False), (2, True)])
def test_float32_in_float32_out(backend, kind, L, bidir):
    T, B = 3, 2
    net = rb.RNN(kind, 2, 3, num_layers=L, bidirectional=bidir)
    params32, kw32, grads32 = make_inputs(net, T, B, dtype=np.float32, lengths=np.array([3, 2]))
    out, g = run_both(net, params32, kw32, grads32, backend)
    assert_documented_shapes(net, params32, T, B, out, g, np.float32)
    # and it is float32 arithmetic on the same problem as float64
    up = lambda a: None if a is None else (tuple(v.astype(np.float64) for v in a)
                                           if isinstance(a, tuple) else a.astype(np.float64))
    params64 = {k: up(v) for k, v in params32.items()}
    kw64 = {k: (v if k == "lengths" else up(v)) for k, v in kw32.items()}
    grads64 = {k: up(v) for k, v in grads32.items()}
    f32, f64 = flatten(out, g), flatten(*run_both(net, params64, kw64, grads64, backend))
    for name in f64:
        scale = float(np.max(np.abs(f64[name])))
        np.testing.assert_allclose(f32[name], f64[name], rtol=1e-4, atol=1e-5 * scale, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_float32_default_state_and_grads(backend, kind):
    """state0, d_output, d_h_n, d_c_n left as None: their zeros are float32 too."""
    net = rb.RNN(kind, 2, 3)
    params = net.init_params(dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((3, 2, 2)).astype(np.float32)
    out = rb.forward(net, params, x, backend=backend)
    g = rb.backward(net, params, x, d_h_n=np.ones(state_shape(net, 2), np.float32), backend=backend)
    assert_documented_shapes(net, params, 3, 2, out, g, np.float32)
    assert np.any(g.params["weight_hh_l0"] != 0)


# --------------------------------------------------------------------------- result objects and shapes

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("bidir", [False, True])
def test_result_objects_and_shapes(backend, kind, L, bidir):
    T, B, I, H = 3, 2, 4, 5
    net = rb.RNN(kind, I, H, num_layers=L, bidirectional=bidir)
    params, kw, grads = make_inputs(net, T, B)
    out, g = run_both(net, params, kw, grads, backend)
    assert_documented_shapes(net, params, T, B, out, g, np.float64)
    D = 2 if bidir else 1
    assert out.output.shape == (T, B, D * H) and out.h_n.shape == (L * D, B, H)
    assert g.x.shape == (T, B, I)
    if kind == "lstm":
        assert isinstance(out.c_n, np.ndarray) and isinstance(g.c0, np.ndarray)
    else:
        assert out.c_n is None
        assert g.c0 is None
    # PyTorch convention: the last layer's forward-direction h_n is its output at step T-1
    top = (L - 1) * D
    np.testing.assert_array_equal(out.h_n[top], out.output[-1, :, :H])
    if bidir:  # ... and its reverse-direction h_n is the output at step 0
        np.testing.assert_array_equal(out.h_n[top + 1], out.output[0, :, H:])
    # results are frozen dataclasses
    with pytest.raises(Exception):
        out.output = None
    with pytest.raises(Exception):
        g.x = None


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_default_arguments_shapes(backend, kind):
    """Only net, params, x: defaults fill in state0, lengths and every gradient."""
    net = rb.RNN(kind, 2, 3, num_layers=2, bidirectional=True)
    params = net.init_params()
    x = np.random.default_rng(1).standard_normal((2, 1, 2))
    out = rb.forward(net, params, x, backend=backend)
    g = rb.backward(net, params, x, backend=backend)
    assert_documented_shapes(net, params, 2, 1, out, g, np.float64)
    # all-zero loss: all-zero gradients
    for name, a in flatten(out, g).items():
        if name.startswith("g."):
            assert not a.any(), name
