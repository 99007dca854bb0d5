"""rb.decay: Jacobian and adjoint norms, decay fits, Pascanu's bound, truncation bias."""
import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

import rnnbench as rb
from rnnbench.inits import init_params
from rnnbench.measure import run_case
from rnnbench.suite import load_suite
from rnnbench.torch_interop import to_torch

BACKENDS = ["numpy", "numba-cpu"]


def _case(kind, num_layers, T=6, B=2, I=3, H=4, scale=3.0, seed=0):
    net = rb.RNN(kind, I, H, num_layers)
    params = {k: v * scale for k, v in net.init_params(seed).items()}
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((num_layers, B, H))
    state0 = (h0, rng.standard_normal(h0.shape)) if kind == "lstm" else h0
    return net, params, x, state0


def _torch_state(state0, kind, b):
    if kind == "lstm":
        return tuple(torch.tensor(s[:, b:b + 1]) for s in state0)
    return torch.tensor(state0[:, b:b + 1])


def _flat(state, kind):
    """Markov state as one vector, ordered (h^0, c^0, h^1, c^1, ...) like rb.decay."""
    if kind == "lstm":
        return torch.stack(state, dim=1).reshape(-1)
    return state.reshape(-1)


def _unflat(vector, kind, L, H):
    if kind == "lstm":
        s = vector.reshape(L, 2, 1, H)
        return s[:, 0].contiguous(), s[:, 1].contiguous()
    return vector.reshape(L, 1, H)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_jacobian_norms_equal_products_of_step_jacobians(kind, num_layers):
    """Independent reference: torch's one-step map s_{t-1} -> s_t, its Jacobian by
    autograd, the product over steps, and its spectral norm."""
    net, params, x, state0 = _case(kind, num_layers)
    T, B, _ = x.shape
    module = to_torch(net, params)
    expected = np.empty((T, B))
    for b in range(B):
        states = [_torch_state(state0, kind, b)]
        for t in range(T):
            states.append(module(torch.tensor(x[t:t + 1, b:b + 1]), states[-1])[1])

        def step(vector, t):
            return _flat(module(torch.tensor(x[t:t + 1, b:b + 1]), _unflat(vector, kind, num_layers, 4))[1], kind)
        J = torch.eye(_flat(states[-1], kind).numel(), dtype=torch.float64)
        expected[0, b] = 1.0
        for lag in range(1, T):
            t = T - lag  # step t maps s_{t-1} to s_t
            J = J @ torch.autograd.functional.jacobian(lambda v: step(v, t), _flat(states[t], kind))
            expected[lag, b] = torch.linalg.matrix_norm(J, 2).item()
    for backend in BACKENDS:
        norms = rb.decay.jacobian_norms(net, params, x, state0, backend=backend)
        assert norms.shape == (T, B)
        np.testing.assert_array_equal(norms[0], 1.0)
        np.testing.assert_allclose(norms, expected, rtol=1e-12, atol=0)


def test_irnn_in_its_all_active_regime_keeps_norm_one():
    """relu with W_hh = I, zero biases and positive drive: every step's Jacobian is I."""
    net = rb.RNN("rnn_relu", 3, 8)
    params = init_params(net, "identity", seed=0)
    params["weight_ih_l0"] = np.abs(params["weight_ih_l0"]) + 0.01
    x = np.abs(np.random.default_rng(0).standard_normal((50, 3, 3)))
    for backend in BACKENDS:
        norms = rb.decay.jacobian_norms(net, params, x, backend=backend)
        np.testing.assert_array_equal(norms, 1.0)
        assert rb.decay.fit_rate(norms) == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_tanh_rnn_obeys_pascanus_bound(backend):
    net = rb.RNN("rnn_tanh", 4, 16)
    params = init_params(net, "orthogonal:0.9", seed=1)
    x = np.random.default_rng(1).standard_normal((40, 3, 4))
    norms = rb.decay.jacobian_norms(net, params, x, backend=backend)
    bound = rb.decay.pascanu_bound(net, params, 40)
    np.testing.assert_allclose(bound, 0.9 ** np.arange(40), rtol=1e-12)
    assert np.all(norms <= bound[:, None] * (1 + 1e-12))
    assert rb.decay.bound_violations(norms, bound) == 0
    assert np.all(norms[1:] < bound[1:, None])  # tanh' < 1 strictly when driven


def test_pascanu_bound_applies_to_single_layer_vanilla_rnns_only():
    for net in (rb.RNN("lstm", 2, 3), rb.RNN("gru", 2, 3), rb.RNN("rnn_tanh", 2, 3, num_layers=2)):
        assert rb.decay.pascanu_bound(net, net.init_params(0), 5) is None
    stats = rb.decay.spectral(rb.RNN("lstm", 2, 3, 2), rb.RNN("lstm", 2, 3, 2).init_params(0))
    assert len(stats) == 2 and stats[0]["rho"] is None and stats[0]["sigma_1"] > 0


def test_decay_suite_shows_the_transition_at_gain_one():
    """Random (orthogonal) tanh networks: vanishing below g ~ 1, exploding above."""
    suite = load_suite("decay")
    cases = {c["init"]: c for c in suite.cases
             if c["kind"] == "rnn_tanh" and c["init"].startswith("orthogonal") and c["T"] == 100}
    rates = {float(init.split(":")[1]): run_case(case)[0]["rate"] for init, case in cases.items()}
    assert set(rates) == {0.5, 0.9, 1.0, 1.1, 1.5, 2.0}
    assert rates[0.5] < rates[0.9] < 0
    assert 0 < rates[1.5] < rates[2.0]
    assert rates[0.5] == pytest.approx(math.log(0.5), abs=0.05)  # linear regime: rate = ln g


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_adjoint_norms_match_torch_autograd(kind, num_layers):
    """dL/ds_t with the state's coordinates independent: torch, one module call per
    step, gradient of each step's state tensor plus the step's own output loss."""
    net, params, x, state0 = _case(kind, num_layers, scale=1.0)
    T, B, _ = x.shape
    rng = np.random.default_rng(5)
    dy = rng.standard_normal((T, B, 4))
    module = to_torch(net, params)
    expected = np.empty((T, B))
    for b in range(B):
        state, states, loss = _torch_state(state0, kind, b), [], 0
        for t in range(T):
            out, state = module(torch.tensor(x[t:t + 1, b:b + 1]), state)
            for s in (state if kind == "lstm" else (state,)):
                s.retain_grad()
            states.append(state)
            loss = loss + (out * torch.tensor(dy[t:t + 1, b:b + 1])).sum()
        loss.backward()
        for t, s in enumerate(states):
            grads = [g.grad.clone() if g.grad is not None else torch.zeros_like(g)  # last step: no future
                     for g in (s if kind == "lstm" else (s,))]
            grads[0][-1] += torch.tensor(dy[t, b])  # the step's own loss, on the top layer's h
            expected[t, b] = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
    for backend in BACKENDS:
        got = rb.decay.adjoint_norms(net, params, x, d_output=dy, state0=state0, backend=backend)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("kind", rb.KINDS)
def test_temporal_contributions_match_per_step_parameter_copies(kind):
    """Pascanu's decomposition: the gradient with respect to step t's own copy of the parameters."""
    net, params, x, state0 = _case(kind, 1, T=5, scale=1.0)
    T, B, _ = x.shape
    module = to_torch(net, params)
    expected = np.empty((T, B))
    for b in range(B):
        copies = [{k: torch.tensor(v, requires_grad=True) for k, v in params.items()} for _ in range(T)]
        state = _torch_state(state0, kind, b)
        for t in range(T):
            out, state = functional_call(module, copies[t], (torch.tensor(x[t:t + 1, b:b + 1]), state))
        (out * (1 / math.sqrt(4))).sum().backward()
        for t in range(T):
            expected[T - 1 - t, b] = math.sqrt(sum(float((c.grad ** 2).sum()) for c in copies[t].values()))
    for backend in BACKENDS:
        got = rb.decay.temporal_contributions(net, params, x, state0=state0, backend=backend)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_fit_recovers_a_known_rate_and_ignores_bad_entries():
    lags = np.arange(30)
    norms = np.exp(-0.3 * lags)[:, None] * np.ones((1, 2))
    norms[5, 0], norms[7, 1], norms[9, :] = 0.0, np.inf, np.nan
    f = rb.decay.fit(norms)
    assert f.rate == pytest.approx(-0.3, rel=1e-12)
    assert f.e_folding == pytest.approx(1 / 0.3) and f.half_life == pytest.approx(math.log(2) / 0.3)
    assert f.points == 29
    assert rb.decay.fit_rate(np.exp(0.1 * lags)) == pytest.approx(0.1)
    assert math.isnan(rb.decay.fit_rate(np.zeros((4, 2))))


@pytest.mark.parametrize("kind", rb.KINDS)
def test_truncation_bias_is_zero_when_nothing_is_cut(kind):
    net, params, x, _ = _case(kind, 1, T=8, scale=1.0)
    dy = np.random.default_rng(2).standard_normal((8, 2, 4))
    df = rb.decay.truncation_bias(net, params, x, dy, ["full", "kstep:7", "chunk:8", "kstep:1", "chunk:2"])
    assert list(df["truncation"]) == ["full", "kstep:7", "chunk:8", "kstep:1", "chunk:2"]
    exact = df.iloc[:3]
    np.testing.assert_allclose(exact["cosine"], 1.0, rtol=0, atol=1e-14)
    assert (exact["rel_error"] == 0).all() and (exact["share_beyond_K"] == 0).all()
    cut = df.iloc[3:]
    assert (cut["cosine"] < 1).all() and (cut["rel_error"] > 0).all() and cut["finite"].all()
    kstep1 = df.iloc[3]
    assert kstep1["share_beyond_K"] == pytest.approx(kstep1["rel_error"], rel=1e-12)
    assert (df["seconds"] > 0).all()


def test_exploding_gradients_are_flagged_not_dropped():
    net = rb.RNN("rnn_relu", 3, 8)
    params = init_params(net, "orthogonal:40.0", seed=0)
    x = np.abs(np.random.default_rng(0).standard_normal((300, 2, 3)))
    dy = np.ones((300, 2, 8))
    df = rb.decay.truncation_bias(net, params, x, dy, ["kstep:1", "full"])
    assert len(df) == 2 and not df["finite"].any()
    assert all("non-finite" in note for note in df["note"])
    norms = rb.decay.jacobian_norms(net, params, x)
    # the forward state overflowed: the Jacobian at such a point is undefined, not 0
    assert norms.shape == (300, 2) and np.isnan(norms[1:]).all() and (norms[0] == 1).all()
    assert math.isnan(rb.decay.fit_rate(norms))  # nothing left to fit: NaN, not a number made up
    short = rb.decay.jacobian_norms(net, params, x[:20])  # before the overflow: all defined
    assert np.isfinite(short).all() and 0 < rb.decay.fit_rate(short) <= math.log(40)


def test_decay_functions_refuse_what_they_cannot_measure():
    net = rb.RNN("gru", 2, 3, bidirectional=True)
    x = np.zeros((4, 1, 2))
    with pytest.raises(ValueError, match="net:.*bidirectional"):
        rb.decay.jacobian_norms(net, net.init_params(0), x)
    net = rb.RNN("gru", 2, 3)
    with pytest.raises(ValueError, match="backend:"):
        rb.decay.adjoint_norms(net, net.init_params(0), x, backend="torch")
    with pytest.raises(ValueError, match="d_c_n"):
        rb.decay.adjoint_norms(net, net.init_params(0), x, d_c_n=np.zeros((1, 1, 3)))
