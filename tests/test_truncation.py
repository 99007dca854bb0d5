"""Truncated BPTT against its definition, recomputed the slow, obvious way.

For every loss step t, run the network from the constant state entering
f(t) over steps f(t)..t and take the full-BPTT gradient of that step's loss
alone; the truncated gradient is the sum over t. The state entering f(t)
reaches the gradient only when f(t) = 0 (then it is state0 itself).
"""
import numpy as np
import pytest

import rnnbench as rb
from cases import LENGTHS, T, assert_gradients_close, make_case, run_backward
from rnnbench.truncation import Truncation, parse_truncation

MODES = ["kstep:0", "kstep:1", "kstep:2", "kstep:3", "chunk:1", "chunk:2", "chunk:3", "chunk:4"]
BACKENDS = ["numpy", "numba-cpu"]


def select_state(state0, live):
    if isinstance(state0, tuple):
        return tuple(s[:, live] for s in state0)
    return state0[:, live]


def truncated_by_recomputation(case, truncation, lengths):
    net, params, x, state0 = case["net"], case["params"], case["x"], case["state0"]
    trunc = parse_truncation(truncation)
    Tn, Bn = x.shape[:2]
    lengths = np.full(Bn, Tn) if lengths is None else lengths
    g_params = {k: np.zeros_like(v) for k, v in params.items()}
    g_x = np.zeros_like(x)
    g_h0 = np.zeros_like(case["d_h_n"])
    g_c0 = np.zeros_like(g_h0)
    for t in range(Tn):
        a = trunc.window_start(t)
        live = np.flatnonzero(lengths > t)  # samples with a loss at step t; active on 0..t
        state = select_state(state0, live)
        if a > 0:  # the state entering step a, a constant
            out = rb.forward(net, params, x[:a, live], state, backend="numpy")
            state = (out.h_n, out.c_n) if net.kind == "lstm" else out.h_n
        d_output = np.zeros((t + 1 - a, len(live), case["d_output"].shape[2]))
        d_output[-1] = case["d_output"][t, live]
        ends = (lengths[live] == t + 1)[None, :, None]
        g = rb.backward(net, params, x[a:t + 1, live], d_output, case["d_h_n"][:, live] * ends,
                        case["d_c_n"][:, live] * ends if net.kind == "lstm" else None,
                        state, truncation="full", backend="numpy")
        for k in g_params:
            g_params[k] += g.params[k]
        g_x[a:t + 1, live] += g.x
        if a == 0:
            g_h0[:, live] += g.h0
            if g.c0 is not None:
                g_c0[:, live] += g.c0
    return rb.Gradients(g_params, g_x, g_h0, g_c0 if net.kind == "lstm" else None)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full-length", "lengths"])
@pytest.mark.parametrize("truncation", MODES)
def test_truncation_matches_its_definition(kind, num_layers, lengths, truncation):
    case = make_case(kind, num_layers)
    expected = truncated_by_recomputation(case, truncation, lengths)
    for backend in BACKENDS:
        assert_gradients_close(run_backward(case, backend, truncation, lengths), expected, 1e-12)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full-length", "lengths"])
def test_no_truncation_at_full_length_equals_full(kind, backend, lengths):
    case = make_case(kind, 2)
    full = run_backward(case, backend, "full", lengths)
    for same in (f"kstep:{T - 1}", f"chunk:{T}", f"kstep:{T + 5}", f"chunk:{T + 5}"):
        g = run_backward(case, backend, same, lengths)
        for name, value in g.params.items():
            np.testing.assert_array_equal(value, full.params[name], err_msg=f"{same} {name}")
        np.testing.assert_array_equal(g.x, full.x)
        np.testing.assert_array_equal(g.h0, full.h0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncation_changes_the_gradient(backend):
    """Guards against a truncation mode that silently runs full BPTT."""
    case = make_case("rnn_tanh", 1)
    full = run_backward(case, backend, "full").params["weight_hh_l0"]
    for mode in ("kstep:1", "chunk:2"):
        assert not np.allclose(run_backward(case, backend, mode).params["weight_hh_l0"], full)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kstep_zero_sends_no_gradient_through_time(backend):
    """kstep:0: each loss reaches only its own step, so dL/dh0 comes from step 0 alone
    and the recurrent weights see only one step of history per loss."""
    case = make_case("rnn_tanh", 1)
    case["d_output"][1:] = 0
    case["d_h_n"][:] = 0
    g0 = run_backward(case, backend, "kstep:0")
    full = run_backward(case, backend, "full")
    assert_gradients_close(g0, full, 1e-12)  # only step 0 has a loss: nothing to truncate
    case = make_case("rnn_tanh", 1)
    case["d_output"][:-1] = 0
    case["d_h_n"][:] = 0
    g = run_backward(case, backend, "kstep:0")
    assert np.all(g.h0 == 0) and np.all(g.x[:-1] == 0) and np.any(g.x[-1] != 0)


def test_parse_truncation():
    assert parse_truncation("full") == Truncation("full")
    assert parse_truncation("kstep:0") == Truncation("kstep", 0)
    assert parse_truncation("chunk:7") == Truncation("chunk", 7)
    assert [Truncation("kstep", 2).window_start(t) for t in range(5)] == [0, 0, 0, 1, 2]
    assert [Truncation("chunk", 2).window_start(t) for t in range(5)] == [0, 0, 2, 2, 4]
    assert str(parse_truncation("chunk:3")) == "chunk:3"
