"""Skip-input mode (cuDNN's CUDNN_SKIP_INPUT, DeepBench's layer) and the
backward split into backward-data and backward-weights."""
import importlib

import numpy as np
import pytest
from click.testing import CliRunner

import rnnbench as rb
from cases import LENGTHS, assert_close, assert_gradients_close, make_case, run_backward
from rnnbench.api import validated_problem
from rnnbench.backends import get_backend
from rnnbench.cli import main
from rnnbench.phases import PHASES, phase_functions, splits_backward
from rnnbench.runs import load_run
from rnnbench.torch_interop import to_torch

LAYOUTS = [(1, False), (2, False), (2, True)]
LENGTH_IDS = ["full-length", "lengths"]


def skip_case(kind, num_layers=1, bidirectional=False, dtype=np.float64):
    return make_case(kind, num_layers, bidirectional, dtype, I=3, H=3, input_mode="skip")


def as_linear(case):
    """The same network in linear mode, with weight_ih_l0 = [I; ...; I] (one identity per gate)."""
    net = case["net"]
    linear = rb.RNN(net.kind, net.input_size, net.hidden_size, net.num_layers, net.bidirectional)
    params = dict(case["params"])
    eye = np.concatenate([np.eye(net.hidden_size)] * net.gates).astype(next(iter(params.values())).dtype)
    for d in range(net.num_directions):
        params[linear.param_name("weight_ih", 0, d)] = eye
    return {**case, "net": linear, "params": params}


def test_skip_input_network_has_no_layer0_input_weights():
    net = rb.RNN("lstm", 4, 4, num_layers=2, bidirectional=True, input_mode="skip")
    shapes = net.param_shapes()
    assert "weight_ih_l0" not in shapes and "weight_ih_l0_reverse" not in shapes
    assert shapes["weight_ih_l1"] == (16, 8) and shapes["bias_ih_l0"] == (16,)
    assert set(net.init_params()) == set(shapes)


@pytest.mark.parametrize("make, match", [
    (lambda: rb.RNN("gru", 3, 4, input_mode="skip"), "input_size: input_mode 'skip' needs input_size == hidden_size"),
    (lambda: rb.RNN("gru", 4, 4, input_mode="cudnn"), "input_mode: expected one of linear, skip, got 'cudnn'"),
])
def test_skip_input_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_torch_refuses_skip_input():
    c = skip_case("lstm")
    with pytest.raises(ValueError, match="input_mode: torch.nn has only 'linear'"):
        rb.forward(c["net"], c["params"], c["x"], backend="torch")
    with pytest.raises(ValueError, match="input_mode"):
        to_torch(c["net"], c["params"])


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", LAYOUTS)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=LENGTH_IDS)
@pytest.mark.parametrize("backend", ["numpy", "numba-cpu"])
def test_skip_input_equals_identity_input_weights(backend, kind, num_layers, bidirectional, lengths):
    """Skip-input is the linear layer with W_ih = stacked identities: same outputs
    and the same gradients of everything the skip network has."""
    c = skip_case(kind, num_layers, bidirectional)
    lin = as_linear(c)
    out = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend=backend)
    ref = rb.forward(lin["net"], lin["params"], lin["x"], lin["state0"], lengths, backend="numpy")
    assert_close(out.output, ref.output, 1e-13, "output")
    assert_close(out.h_n, ref.h_n, 1e-13, "h_n")
    g = run_backward(c, backend, lengths=lengths)
    g_ref = run_backward(lin, "numpy", lengths=lengths)
    assert set(g.params) == set(c["params"])
    for name in g.params:
        assert_close(g.params[name], g_ref.params[name], 1e-12, name)
    assert_close(g.x, g_ref.x, 1e-12, "x")
    assert_close(g.h0, g_ref.h0, 1e-12, "h0")


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("truncation", ["kstep:1", "chunk:2"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_skip_input_numba_matches_numpy_under_truncation(kind, truncation, dtype, rtol):
    c = skip_case(kind, dtype=dtype)
    assert_gradients_close(run_backward(c, "numba-cpu", truncation, LENGTHS),
                           run_backward(c, "numpy", truncation, LENGTHS), rtol)


def split_gradients(case, backend, lengths=None):
    """(x, h0, c0, params) gradients through train_forward, backward_data, backward_weights."""
    impl = get_backend(backend)
    p = validated_problem(case["net"], case["params"], case["x"], case["state0"], lengths)
    d_c_n = case["d_c_n"] if case["d_c_n"] is not None else np.zeros_like(case["d_h_n"])
    trace = impl.train_forward(p)
    g_x, g_h0, g_c0 = impl.backward_data(p, trace, case["d_output"], case["d_h_n"], d_c_n)
    return g_x, g_h0, g_c0, impl.backward_weights(p, trace)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", LAYOUTS)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=LENGTH_IDS)
@pytest.mark.parametrize("input_mode", ["linear", "skip"])
@pytest.mark.parametrize("backend", ["numpy", "numba-cpu"])
def test_backward_data_then_weights_equals_backward(backend, input_mode, kind, num_layers, bidirectional, lengths):
    """The two phases, run apart, give exactly what rb.backward gives."""
    c = skip_case(kind, num_layers, bidirectional) if input_mode == "skip" else make_case(kind, num_layers,
                                                                                          bidirectional)
    g = run_backward(c, backend, lengths=lengths)
    g_x, g_h0, g_c0, g_params = split_gradients(c, backend, lengths)
    np.testing.assert_array_equal(g_x, g.x)
    np.testing.assert_array_equal(g_h0, g.h0)
    if kind == "lstm":
        np.testing.assert_array_equal(g_c0, g.c0)
    assert g_params.keys() == g.params.keys()
    for name in g.params:
        np.testing.assert_array_equal(g_params[name], g.params[name], err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "numba-cpu"])
def test_phase_functions_repeat_to_the_same_result(backend):
    c = make_case("gru", 2)
    fns = phase_functions(c["net"], c["params"], c["x"], c["d_output"], backend)
    assert tuple(fns) == PHASES and splits_backward(backend)
    first = {phase: fn() for phase, fn in fns.items()}
    again = {phase: fn() for phase, fn in fns.items()}
    for name, array in first["backward_weights"].items():
        np.testing.assert_array_equal(again["backward_weights"][name], array)
    for a, b in zip(first["backward_data"], again["backward_data"]):
        np.testing.assert_array_equal(a, b)
    g = first["forward_backward"]
    np.testing.assert_array_equal(first["backward_data"][0], g.x)
    for name in g.params:
        np.testing.assert_array_equal(first["backward_weights"][name], g.params[name])


def test_every_backward_data_call_pays_what_a_training_step_does(monkeypatch):
    """numba-cpu packs W_hh and W_ih on a tape's first sweep and reuses the
    packing on later sweeps of that tape; the backward-data phase, repeated
    on one trace, must still pack on every call, as each training step
    (a new forward, so a new tape) does."""
    numba_cpu = importlib.import_module("rnnbench.backends.numba_cpu")
    packs = []
    kernel = numba_cpu.backward_layer

    def recording(*args):
        packs.append(args[-5:-3])  # (pack, pack_ih)
        return kernel(*args)
    monkeypatch.setattr(numba_cpu, "backward_layer", recording)
    c = make_case("lstm", 1)
    fns = phase_functions(c["net"], c["params"], c["x"], c["d_output"], "numba-cpu")
    packs.clear()
    for _ in range(3):
        fns["backward_data"]()
    assert packs == [(True, True)] * 3
    packs.clear()
    fns["forward_backward"]()
    assert packs == [(True, True)]


def test_torch_offers_forward_and_forward_backward_only():
    c = make_case("lstm")
    assert not splits_backward("torch")
    assert tuple(phase_functions(c["net"], c["params"], c["x"], c["d_output"], "torch")) == (
        "forward", "forward_backward")


def test_phase_functions_check_d_output():
    c = make_case("lstm")
    with pytest.raises(ValueError, match="d_output"):
        phase_functions(c["net"], c["params"], c["x"], c["d_output"][:, :1], "numba-cpu")


def test_compare_marks_torch_unsupported_in_skip_input_mode(tmp_path):
    suite = tmp_path / "skip.toml"
    suite.write_text('name = "skip"\ndescription = "d"\n[[cases]]\nmeasurement = "throughput"\nkind = "lstm"\n'
                     'input_size = 8\nhidden_size = 8\nT = 4\nbatch = 2\ndtype = "float64"\n'
                     'input_mode = ["skip", "linear"]\n')
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(suite), "--backends", "numba-cpu,torch", "-o", str(out),
                                       "--repeats", "2", "--min-time", "0"])
    assert result.exit_code == 0, result.output
    cases = {c["id"]: c for c in load_run(out)["cases"]}
    skip_torch = cases["throughput/lstm/H=8/B=2/T=4/float64/skip-input/torch"]
    assert skip_torch["status"] == "unsupported" and "input_mode" in skip_torch["error"]
    skip_numba = cases["throughput/lstm/H=8/B=2/T=4/float64/skip-input/numba-cpu"]
    assert skip_numba["status"] == "ok" and skip_numba["values"]["backward_data_ms"] > 0
    linear_torch = cases["throughput/lstm/H=8/B=2/T=4/float64/torch"]
    assert linear_torch["status"] == "ok" and linear_torch["values"]["ratio_backward_data"] is None
    assert linear_torch["values"]["ratio_forward_backward"] > 0
    assert "unsupported: torch" in result.output and "0 failed" in result.output
