"""Bad input raises ValueError naming the argument, for rb.RNN, rb.forward and rb.backward.

Every case is checked on both the reference ``numpy`` backend and ``numba-cpu``
(validation runs before any backend code, so both must reject identically).
"""
import re

import numpy as np
import pytest

import rnnbench as rb

BACKENDS = ["numpy", "numba-cpu"]
T, B, I, H = 3, 2, 4, 5


def run(which, net, params, x, backend, **kw):
    """Call rb.forward or rb.backward; forward only takes a subset of keywords."""
    if which == "forward":
        return rb.forward(net, params, x, backend=backend, **kw)
    return rb.backward(net, params, x, backend=backend, **kw)


def setup(kind="gru", dtype=np.float64, num_layers=1, bidirectional=False):
    net = rb.RNN(kind, I, H, num_layers=num_layers, bidirectional=bidirectional)
    params = net.init_params(seed=1, dtype=dtype)
    x = np.random.default_rng(0).standard_normal((T, B, I)).astype(dtype)
    return net, params, x


def state_shape(net):
    return (net.num_layers * net.num_directions, B, net.hidden_size)


def shapes_in_message(excinfo, *shapes):
    msg = str(excinfo.value)
    for shape in shapes:
        assert str(tuple(shape)) in msg, f"{tuple(shape)} not in {msg!r}"


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=["forward", "backward"])
def which(request):
    return request.param


# --------------------------------------------------------------------------- rb.RNN

@pytest.mark.parametrize("kind", ["lstmx", "LSTM", "rnn", "", None, 3])
def test_unknown_kind(kind):
    with pytest.raises(ValueError, match="kind"):
        rb.RNN(kind, 2, 3)


@pytest.mark.parametrize("name", ["input_size", "hidden_size", "num_layers"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, "3", None, True, False, np.bool_(True)])
def test_bad_sizes(name, bad):
    kwargs = dict(input_size=2, hidden_size=3, num_layers=1)
    kwargs[name] = bad
    with pytest.raises(ValueError, match=f"{name}:"):
        rb.RNN("lstm", **kwargs)


def test_numpy_integer_sizes_accepted():
    net = rb.RNN("lstm", np.int64(2), np.int32(3), num_layers=np.int16(2))
    assert (net.input_size, net.hidden_size, net.num_layers) == (2, 3, 2)
    assert all(type(v) is int for v in (net.input_size, net.hidden_size, net.num_layers))


@pytest.mark.parametrize("bad", [1, 0, "yes", "True", None, 1.0])
def test_bidirectional_not_bool(bad):
    with pytest.raises(ValueError, match="bidirectional:"):
        rb.RNN("gru", 2, 3, bidirectional=bad)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, np.complex128, "int64"])
def test_init_params_bad_dtype(dtype):
    with pytest.raises(ValueError, match="dtype"):
        rb.RNN("gru", 2, 3).init_params(dtype=dtype)


# --------------------------------------------------------------------------- backend, net

@pytest.mark.parametrize("name", ["cuda", "Numpy", "numba", "", None])
def test_unknown_backend(which, name):
    net, params, x = setup()
    with pytest.raises(ValueError, match="backend:"):
        run(which, net, params, x, name)


def test_net_not_rnn(which, backend):
    _, params, x = setup()
    with pytest.raises(ValueError, match="net:"):
        run(which, "gru", params, x, backend)


# --------------------------------------------------------------------------- x

@pytest.mark.parametrize("shape", [(T, I), (I,), (), (T, B, I, 1), (1, T, B, I)])
def test_x_not_3d(which, backend, shape):
    net, params, _ = setup()
    x = np.zeros(shape)
    with pytest.raises(ValueError, match="x:") as excinfo:
        run(which, net, params, x, backend)
    shapes_in_message(excinfo, shape)


@pytest.mark.parametrize("features", [I - 1, I + 1, 1])
def test_x_wrong_feature_size(which, backend, features):
    net, params, _ = setup()
    x = np.zeros((T, B, features))
    with pytest.raises(ValueError, match="x:") as excinfo:
        run(which, net, params, x, backend)
    shapes_in_message(excinfo, x.shape)
    assert f"input_size={I}" in str(excinfo.value)


@pytest.mark.parametrize("shape", [(0, B, I), (T, 0, I), (0, 0, I)])
def test_x_empty(which, backend, shape):
    net, params, _ = setup()
    with pytest.raises(ValueError, match="x:") as excinfo:
        run(which, net, params, np.zeros(shape), backend)
    shapes_in_message(excinfo, shape)


def test_x_not_an_array(which, backend):
    net, params, x = setup()
    with pytest.raises(ValueError, match="x:"):
        run(which, net, params, x.tolist(), backend)


@pytest.mark.parametrize("param_dtype, x_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                                  (np.float64, np.int64), (np.float32, np.float16)])
def test_x_dtype_mismatch(which, backend, param_dtype, x_dtype):
    net, params, x = setup(dtype=param_dtype)
    with pytest.raises(ValueError, match="x:") as excinfo:
        run(which, net, params, x.astype(x_dtype), backend)
    msg = str(excinfo.value)
    assert str(np.dtype(param_dtype)) in msg and str(np.dtype(x_dtype)) in msg


# --------------------------------------------------------------------------- params

@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm"])
@pytest.mark.parametrize("odd", ["weight_ih_l0", "bias_hh_l0"])
@pytest.mark.parametrize("first_dtype", [np.float32, np.float64])
def test_params_mixed_dtypes(which, backend, kind, odd, first_dtype):
    other = np.float64 if first_dtype == np.float32 else np.float32
    net, params, x = setup(kind, dtype=first_dtype)
    params = dict(params, **{odd: params[odd].astype(other)})
    for x_dtype in (first_dtype, other):
        with pytest.raises(ValueError, match=r"params\['"):
            run(which, net, params, x.astype(x_dtype), backend)


@pytest.mark.parametrize("bad_dtype", [np.int64, np.int32, np.float16, bool])
@pytest.mark.parametrize("which_param", ["all", "weight_hh_l0", "bias_ih_l0"])
def test_params_bad_dtype(which, backend, bad_dtype, which_param):
    net, params, x = setup()
    if which_param == "all":
        params = {k: v.astype(bad_dtype) for k, v in params.items()}
    else:
        params = dict(params, **{which_param: params[which_param].astype(bad_dtype)})
    with pytest.raises(ValueError, match=r"params\['"):
        run(which, net, params, x, backend)


@pytest.mark.parametrize("missing", ["weight_ih_l0", "bias_hh_l0", "weight_hh_l1_reverse"])
def test_params_missing(which, backend, missing):
    net, params, x = setup("lstm", num_layers=2, bidirectional=True)
    del params[missing]
    with pytest.raises(ValueError, match="params") as excinfo:
        run(which, net, params, x, backend)
    assert missing in str(excinfo.value)


@pytest.mark.parametrize("extra", ["weight_ih_l1", "bias_hh_l0_reverse", "foo", 7])
def test_params_unexpected(which, backend, extra):
    net, params, x = setup("gru")
    params[extra] = np.zeros(3)
    with pytest.raises(ValueError, match="params") as excinfo:
        run(which, net, params, x, backend)
    assert str(extra) in str(excinfo.value)


def test_params_from_other_layer_count(which, backend):
    net, _, x = setup("gru", num_layers=1)
    params = rb.RNN("gru", I, H, num_layers=2).init_params()
    with pytest.raises(ValueError, match="params"):
        run(which, net, params, x, backend)


@pytest.mark.parametrize("kind", ["rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("name, bad_shape", [
    ("weight_ih_l0", lambda G: (G * H, I + 1)),
    ("weight_ih_l0", lambda G: (I, G * H)),          # transposed
    ("weight_hh_l0", lambda G: ((G + 1) * H, H)),    # one gate too many
    ("bias_ih_l0", lambda G: (G * H, 1)),
    ("bias_hh_l0", lambda G: (G * H + 1,)),
])
def test_params_misshapen(which, backend, kind, name, bad_shape):
    net, params, x = setup(kind)
    expected = params[name].shape
    shape = bad_shape(net.gates)
    params[name] = np.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(f"params['{name}']")) as excinfo:
        run(which, net, params, x, backend)
    shapes_in_message(excinfo, expected, shape)


@pytest.mark.parametrize("make", [lambda p: list(p.values()), lambda p: list(p.items()),
                                  lambda p: None, lambda p: tuple(p.values()),
                                  lambda p: np.zeros(3)])
def test_params_not_a_dict(which, backend, make):
    net, params, x = setup()
    with pytest.raises(ValueError, match="params:"):
        run(which, net, make(params), x, backend)


def test_param_not_an_array(which, backend):
    net, params, x = setup()
    params["bias_ih_l0"] = params["bias_ih_l0"].tolist()
    with pytest.raises(ValueError, match=re.escape("params['bias_ih_l0']")):
        run(which, net, params, x, backend)


# --------------------------------------------------------------------------- state0

@pytest.mark.parametrize("kind", ["rnn_tanh", "gru"])
@pytest.mark.parametrize("shape", [(1, B + 1, H), (2, B, H), (1, B, H + 1), (B, H), (1, 1, B, H)])
def test_state0_wrong_shape(which, backend, kind, shape):
    net, params, x = setup(kind)
    with pytest.raises(ValueError, match="state0") as excinfo:
        run(which, net, params, x, backend, state0=np.zeros(shape))
    shapes_in_message(excinfo, state_shape(net), shape)


def test_state0_wrong_shape_bidirectional_stacked(which, backend):
    net, params, x = setup("gru", num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match="state0") as excinfo:
        run(which, net, params, x, backend, state0=np.zeros((2, B, H)))
    shapes_in_message(excinfo, (4, B, H), (2, B, H))


@pytest.mark.parametrize("bad", ["h0", "c0"])
def test_lstm_state0_part_wrong_shape(which, backend, bad):
    net, params, x = setup("lstm")
    good = np.zeros(state_shape(net))
    wrong = np.zeros((1, B, H + 2))
    state0 = (wrong, good) if bad == "h0" else (good, wrong)
    with pytest.raises(ValueError, match=re.escape(f"({bad})")) as excinfo:
        run(which, net, params, x, backend, state0=state0)
    shapes_in_message(excinfo, state_shape(net), wrong.shape)


def test_lstm_state0_bare_array(which, backend):
    net, params, x = setup("lstm")
    with pytest.raises(ValueError, match="state0"):
        run(which, net, params, x, backend, state0=np.zeros(state_shape(net)))


@pytest.mark.parametrize("make", [lambda s: [np.zeros(s), np.zeros(s)],
                                  lambda s: (np.zeros(s),),
                                  lambda s: (np.zeros(s),) * 3,
                                  lambda s: np.zeros((2,) + s)])
def test_lstm_state0_not_a_pair(which, backend, make):
    net, params, x = setup("lstm")
    with pytest.raises(ValueError, match="state0"):
        run(which, net, params, x, backend, state0=make(state_shape(net)))


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru"])
def test_non_lstm_state0_tuple(which, backend, kind):
    net, params, x = setup(kind)
    s = state_shape(net)
    for state0 in [(np.zeros(s), np.zeros(s)), (np.zeros(s),)]:
        with pytest.raises(ValueError, match="state0"):
            run(which, net, params, x, backend, state0=state0)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("param_dtype, state_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_state0_dtype_mismatch(which, backend, kind, param_dtype, state_dtype):
    net, params, x = setup(kind, dtype=param_dtype)
    s = np.zeros(state_shape(net), dtype=state_dtype)
    ok = np.zeros(state_shape(net), dtype=param_dtype)
    cases = [(s, ok), (ok, s), (s, s)] if kind == "lstm" else [s]
    for state0 in cases:
        with pytest.raises(ValueError, match="state0") as excinfo:
            run(which, net, params, x, backend, state0=state0)
        assert str(np.dtype(state_dtype)) in str(excinfo.value)


def test_state0_not_an_array(which, backend):
    net, params, x = setup("gru")
    with pytest.raises(ValueError, match="state0"):
        run(which, net, params, x, backend, state0=np.zeros(state_shape(net)).tolist())


# --------------------------------------------------------------------------- lengths

@pytest.mark.parametrize("lengths", [np.array([T] * (B + 1)), np.array([T] * (B - 1)),
                                     np.array([[T] * B]), np.array(T), [T] * (B + 1)])
def test_lengths_wrong_shape(which, backend, lengths):
    net, params, x = setup()
    with pytest.raises(ValueError, match="lengths") as excinfo:
        run(which, net, params, x, backend, lengths=lengths)
    shapes_in_message(excinfo, (B,), np.asarray(lengths).shape)


@pytest.mark.parametrize("lengths", [np.array([T, T], dtype=np.float64), np.array([2.0, 3.0]),
                                     [2.5, 3.0], np.array([True, True]), np.array(["3", "3"])])
def test_lengths_not_integer(which, backend, lengths):
    net, params, x = setup()
    with pytest.raises(ValueError, match="lengths"):
        run(which, net, params, x, backend, lengths=lengths)


@pytest.mark.parametrize("lengths", [[0, T], [T, 0], [-1, T], [T + 1, T], [1, T + 5],
                                     np.array([T, T + 1], dtype=np.uint8)])
def test_lengths_out_of_range(which, backend, lengths):
    net, params, x = setup()
    with pytest.raises(ValueError, match="lengths") as excinfo:
        run(which, net, params, x, backend, lengths=lengths)
    assert f"T={T}" in str(excinfo.value)


# --------------------------------------------------------------------------- truncation

@pytest.mark.parametrize("spec", ["kstep", "kstep:-1", "chunk:0", "chunk:x", "foo", 3, None,
                                  "FULL", "full:1", "chunk:", "kstep:1.5", "chunk:-2", " full",
                                  ("kstep", 1)])
def test_truncation_malformed(backend, spec):
    net, params, x = setup()
    with pytest.raises(ValueError, match="truncation") as excinfo:
        rb.backward(net, params, x, truncation=spec, backend=backend)
    assert repr(spec) in str(excinfo.value)


@pytest.mark.parametrize("spec", ["kstep", "kstep:-1", "chunk:0", "chunk:x", "foo", 3])
def test_parse_truncation_malformed(spec):
    with pytest.raises(ValueError, match="truncation"):
        rb.parse_truncation(spec)


@pytest.mark.parametrize("spec", ["kstep:0", "kstep:1", "kstep:100", "chunk:1", "chunk:2", "chunk:100"])
def test_truncation_bidirectional(backend, spec):
    net, params, x = setup("lstm", bidirectional=True)
    with pytest.raises(ValueError, match="truncation") as excinfo:
        rb.backward(net, params, x, truncation=spec, backend=backend)
    assert "bidirectional" in str(excinfo.value)


def test_truncation_full_bidirectional_ok(backend):
    net, params, x = setup("lstm", bidirectional=True)
    g = rb.backward(net, params, x, truncation="full", backend=backend)
    assert g.x.shape == x.shape


# --------------------------------------------------------------------------- gradients in

@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_d_output_wrong_shape(backend, kind, bidirectional):
    net, params, x = setup(kind, bidirectional=bidirectional)
    D = net.num_directions
    expected = (T, B, D * H)
    for shape in [(T, B, H + 1), (T, B, 3 * H), (T + 1, B, D * H), (T, B + 1, D * H), (T, D * H),
                  (B, T, D * H)]:
        if shape == expected:
            continue
        with pytest.raises(ValueError, match="d_output") as excinfo:
            rb.backward(net, params, x, d_output=np.zeros(shape), backend=backend)
        shapes_in_message(excinfo, expected, shape)


@pytest.mark.parametrize("param_dtype, grad_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_d_output_dtype_mismatch(backend, param_dtype, grad_dtype):
    net, params, x = setup("gru", dtype=param_dtype)
    with pytest.raises(ValueError, match="d_output") as excinfo:
        rb.backward(net, params, x, d_output=np.zeros((T, B, H), dtype=grad_dtype), backend=backend)
    assert str(np.dtype(grad_dtype)) in str(excinfo.value)


def test_d_output_not_an_array(backend):
    net, params, x = setup("gru")
    with pytest.raises(ValueError, match="d_output"):
        rb.backward(net, params, x, d_output=np.zeros((T, B, H)).tolist(), backend=backend)


@pytest.mark.parametrize("kind", ["rnn_relu", "lstm", "gru"])
def test_d_h_n_wrong_shape(backend, kind):
    net, params, x = setup(kind, num_layers=2)
    expected = state_shape(net)
    for shape in [(1, B, H), (2, B, H + 1), (2, B + 1, H), (B, H), (T, B, H)]:
        with pytest.raises(ValueError, match="d_h_n") as excinfo:
            rb.backward(net, params, x, d_h_n=np.zeros(shape), backend=backend)
        shapes_in_message(excinfo, expected, shape)


@pytest.mark.parametrize("param_dtype, grad_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_d_h_n_and_d_c_n_dtype_mismatch(backend, param_dtype, grad_dtype):
    net, params, x = setup("lstm", dtype=param_dtype)
    bad = np.zeros(state_shape(net), dtype=grad_dtype)
    for name in ("d_h_n", "d_c_n"):
        with pytest.raises(ValueError, match=name):
            rb.backward(net, params, x, backend=backend, **{name: bad})


def test_d_c_n_wrong_shape_lstm(backend):
    net, params, x = setup("lstm")
    with pytest.raises(ValueError, match="d_c_n") as excinfo:
        rb.backward(net, params, x, d_c_n=np.zeros((1, B, H + 1)), backend=backend)
    shapes_in_message(excinfo, state_shape(net), (1, B, H + 1))


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru"])
def test_d_c_n_for_non_lstm(backend, kind):
    net, params, x = setup(kind)
    for d_c_n in (np.zeros(state_shape(net)), np.ones(state_shape(net))):
        with pytest.raises(ValueError, match="d_c_n"):
            rb.backward(net, params, x, d_c_n=d_c_n, backend=backend)


# --------------------------------------------------------------------------- sanity: the setup itself is valid

@pytest.mark.parametrize("kind", rb.KINDS)
def test_valid_inputs_are_accepted(which, backend, kind):
    """Guards the tests above: they fail only because of the one bad argument."""
    net, params, x = setup(kind)
    s = np.zeros(state_shape(net))
    state0 = (s, s) if kind == "lstm" else s
    kw = dict(state0=state0, lengths=np.array([T, 1]))
    if which == "backward":
        kw.update(d_output=np.ones((T, B, H)), d_h_n=np.ones(state_shape(net)),
                  truncation="kstep:1")
        if kind == "lstm":
            kw["d_c_n"] = np.ones(state_shape(net))
    result = run(which, net, params, x, backend, **kw)
    assert isinstance(result, rb.ForwardResult if which == "forward" else rb.Gradients)
