"""Against torch.nn and autograd (torch is in the test extra: these always run in CI)."""
import importlib

import numpy as np
import pytest
import torch

import rnnbench as rb
from cases import LENGTHS, assert_forward_close, assert_gradients_close, make_case, run_backward
from rnnbench.phases import phase_functions
from rnnbench.torch_interop import from_torch, to_torch

STRUCTURES = [(1, False), (1, True), (2, False), (2, True)]


def test_torch_backend_is_available():
    assert rb.backends()["torch"] is True


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", STRUCTURES)
def test_param_names_and_shapes_are_torchs(kind, num_layers, bidirectional):
    net = rb.RNN(kind, 5, 7, num_layers, bidirectional)
    module = to_torch(net, net.init_params(0))
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == net.param_shapes()
    assert list(module.state_dict()) == list(net.param_shapes())


@pytest.mark.parametrize("kind", rb.KINDS)
def test_params_load_both_ways(kind):
    torch.manual_seed(0)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind, torch.nn.RNN)
    extra = {} if kind in ("lstm", "gru") else {"nonlinearity": kind[4:]}
    module = cls(3, 4, num_layers=2, bidirectional=True, **extra).double()
    net, params = from_torch(module)
    assert net == rb.RNN(kind, 3, 4, 2, True)
    back = to_torch(net, params)
    for name, value in module.state_dict().items():
        assert torch.equal(back.state_dict()[name], value)


def test_default_init_matches_torchs_distribution():
    """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, like torch's reset_parameters."""
    net = rb.RNN("lstm", 10, 64)
    values = np.concatenate([v.ravel() for v in net.init_params(seed=3).values()])
    bound = 1 / np.sqrt(64)
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound
    assert abs(values.mean()) < 0.1 * bound


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", STRUCTURES)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full-length", "packed"])
def test_forward_and_full_backward_match_torch(dtype, kind, num_layers, bidirectional, lengths):
    case = make_case(kind, num_layers, bidirectional, dtype)
    c = case
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    ref = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="torch")
    ref_g = run_backward(case, "torch", lengths=lengths)
    for backend in ("numpy", "numba-cpu"):
        out = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend=backend)
        assert_forward_close(out, ref, rtol)
        assert_gradients_close(run_backward(case, backend, lengths=lengths), ref_g, rtol)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full-length", "packed"])
@pytest.mark.parametrize("truncation", ["kstep:0", "kstep:2", "chunk:1", "chunk:2", "chunk:3"])
def test_truncated_backward_matches_torch_detached_windows(kind, num_layers, lengths, truncation):
    case = make_case(kind, num_layers)
    ref = run_backward(case, "torch", truncation, lengths)
    for backend in ("numpy", "numba-cpu"):
        assert_gradients_close(run_backward(case, backend, truncation, lengths), ref, 1e-12)


def test_torch_module_autograd_directly():
    """The peer backend is itself checked against a hand-written torch loss."""
    case = make_case("lstm", 2, True)
    module = to_torch(case["net"], case["params"])
    x = torch.from_numpy(case["x"]).requires_grad_()
    h0, c0 = (torch.from_numpy(s).requires_grad_() for s in case["state0"])
    out, (h_n, c_n) = module(x, (h0, c0))
    loss = ((out * torch.from_numpy(case["d_output"])).sum() + (h_n * torch.from_numpy(case["d_h_n"])).sum()
            + (c_n * torch.from_numpy(case["d_c_n"])).sum())
    loss.backward()
    g = run_backward(case, "numba-cpu")
    np.testing.assert_allclose(g.x, x.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g.c0, c0.grad.numpy(), rtol=1e-12, atol=1e-13)
    for name, prm in module.named_parameters():
        np.testing.assert_allclose(g.params[name], prm.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_timed_phases_compute_what_the_api_computes(kind, num_layers, bidirectional):
    """torch's timed phases (module and tensors made once) give the API's
    forward output and its gradients of x and of every weight."""
    c = make_case(kind, num_layers, bidirectional)
    net, params, x, dy = c["net"], c["params"], c["x"], c["d_output"]
    phases = phase_functions(net, params, x, dy, "torch")
    assert set(phases) == {"forward", "forward_backward"}
    out, _ = phases["forward"]()
    np.testing.assert_array_equal(out.numpy(), rb.forward(net, params, x, backend="torch").output)
    ref = rb.backward(net, params, x, dy, backend="torch")
    for _ in range(2):  # repeated calls do not accumulate gradients
        grads, dx = phases["forward_backward"]()
        np.testing.assert_allclose(dx.numpy(), ref.x, rtol=1e-13, atol=1e-15)
        assert grads.keys() == ref.params.keys()
        for name, g in grads.items():
            np.testing.assert_allclose(g.numpy(), ref.params[name], rtol=1e-13, atol=1e-15, err_msg=name)


def test_timed_phases_build_no_module_per_call(monkeypatch):
    """What the clock sees is the module call: to_torch and the host copies run
    once, when the phases are made."""
    peer = importlib.import_module("rnnbench.backends.torch_peer")  # rnnbench.backends is rb.backends()
    c = make_case("lstm")
    phases = phase_functions(c["net"], c["params"], c["x"], c["d_output"], "torch")

    def refuse(*args):
        raise AssertionError("a timed torch call built a module or copied an input")
    monkeypatch.setattr(peer, "to_torch", refuse)
    monkeypatch.setattr(peer.TorchBackend, "_tensor", refuse)
    for fn in phases.values():
        fn()
