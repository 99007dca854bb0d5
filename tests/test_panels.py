"""The packed-panel products (kernels/panels.py, kernels/transpose.py) and the
team of threads (kernels/team.py) that the numba-cpu time loops run on."""
import importlib
import threading

import numpy as np
import pytest
from numba import njit

import rnnbench as rb
from cases import LENGTHS, assert_forward_close, assert_gradients_close, make_case, run_backward
from rnnbench.kernels.panels import (ROWS, pack_columns, pack_rows, packed_size, panel_is_finite, panel_rows,
                                     panel_width, panels_product, panels_product_onto, unit_panels)
from rnnbench.kernels.simd import VECTOR_BYTES
from rnnbench.kernels.team import share
from rnnbench.kernels.transpose import store_transposed_block

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 2e-6, np.float64: 1e-14}  # against a float64 product, relative to the largest term sum


def _units(panels, dtype, last=5):
    """A hidden size of ``panels`` unit panels of this dtype, the last one
    holding ``last`` units (P = 32 float32 or 16 float64 with AVX-512, 16 or 8
    with AVX2): the teams below split whole panels."""
    return (panels - 1) * panel_rows(dtype) + last


def _reference_panels(w):
    """w: [N, K] -> its rows packed in panels of P, zero-padded: panels[p, k, r] = w[p P + r, k]."""
    P = panel_rows(w.dtype)
    n = -(-w.shape[0] // P)
    padded = np.zeros((n * P, w.shape[1]), w.dtype)
    padded[:w.shape[0]] = w
    return padded.reshape(n, P, -1).transpose(0, 2, 1).ravel()


@njit(cache=False)
def _pack_all_rows(w, packed):
    P = panel_width(w)
    for p in range((w.shape[0] + P - 1) // P):
        pack_rows(w, p * P, min(P, w.shape[0] - p * P), packed, p)


MODES = ["accumulate", "onto-bias", "panels-accumulate", "panels-onto-bias"]


@njit(cache=False)
def _products(packed, K, b, c, bias, mode):
    """c[:, :N] (+)= b @ w.T (N = the packed rows), one panel a call (modes
    0, 1) or the whole run at once (2, 3: two panels a call where
    PANEL_PAIRS); 1 and 3 onto the bias."""
    P = panel_width(b)
    N = c.shape[1]
    if mode == 2:
        panels_product(packed, 0, K, b, c, 0, N)
    elif mode == 3:
        panels_product_onto(packed, K, b, bias, c, 0, N)
    else:
        for p in range((N + P - 1) // P):
            if mode == 1:
                panels_product_onto(packed, K, b, bias, c, p * P, min(N, (p + 1) * P))
            else:
                panels_product(packed, p, K, b, c, p * P, min(P, N - p * P))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("N,K", [(1, 1), (5, 3), (8, 8), (16, 16), (17, 9), (33, 100), (64, 256), (40, 513)])
def test_packing_rows_and_columns_is_exact(dtype, N, K):
    """pack_rows (transposed square blocks and scalar edges) and
    pack_columns (of w.T) give exactly the reference panels, zero padding
    included, whatever the packed buffer held before."""
    w = np.random.default_rng(N * K).standard_normal((N, K)).astype(dtype)
    expected = _reference_panels(w)
    assert expected.size == packed_size(N, K, dtype) == unit_panels(N, dtype) * panel_rows(dtype) * K
    rows = np.full(expected.size, np.nan, dtype)
    _pack_all_rows(w, rows)
    np.testing.assert_array_equal(rows, expected)
    columns = np.full(expected.size, np.nan, dtype)
    pack_columns(np.ascontiguousarray(w.T), 0, N, columns, 0)
    np.testing.assert_array_equal(columns, expected)


def test_pack_columns_of_a_range_fills_only_its_panels():
    P = panel_rows(np.float32)
    n = 2 * P + P // 2
    w = np.arange(n * 7, dtype=np.float32).reshape(7, n)
    packed = np.full(3 * P * 7, -1.0, np.float32)
    pack_columns(w, P, n, packed, 1)  # columns P..n: panels 1 and 2 (the second P / 2 wide)
    np.testing.assert_array_equal(packed[:P * 7], -1.0)
    np.testing.assert_array_equal(packed[P * 7:], _reference_panels(np.ascontiguousarray(w.T))[P * 7:])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rows", [1, 2, 3, ROWS - 1, ROWS, ROWS + 1, 4 * ROWS + 3])
@pytest.mark.parametrize("N,K", [(9, 3), (16, 16), (37, 5), (8, 256), (20, 257), (48, 519), (64, 7), (101, 1031)])
@pytest.mark.parametrize("mode", range(len(MODES)), ids=MODES)
def test_panel_products_match_a_float64_product(dtype, rows, N, K, mode):
    """Every row-group size of the micro-kernel (1..ROWS; under 4 rows k is
    dealt to several sets of accumulators: K below, at and past a multiple of
    their number), whole and partial panels, pairs of whole panels and a
    single panel after them, K from 3 to 1031; accumulating into c, or
    writing bias + b w^T over c's old content. Columns outside the product
    are never touched."""
    rng = np.random.default_rng(rows * 1000 + N + K)
    w = rng.standard_normal((N, K)).astype(dtype)
    b = rng.standard_normal((rows, K)).astype(dtype)
    bias = rng.standard_normal(N).astype(dtype)
    big = rng.standard_normal((rows, N + 5)).astype(dtype)
    before = big.copy()
    packed = _reference_panels(w)
    _products(packed, K, b, big[:, 2:N + 2], bias, mode)
    onto = mode in (1, 3)
    start = bias[None, :].astype(np.float64) if onto else before[:, 2:N + 2].astype(np.float64)
    expected = start + b.astype(np.float64) @ w.T.astype(np.float64)
    scale = np.abs(start).max() + np.abs(b).astype(np.float64) @ np.abs(w.T).astype(np.float64)
    assert np.all(np.abs(big[:, 2:N + 2] - expected) <= RTOL[dtype] * scale)
    np.testing.assert_array_equal(big[:, :2], before[:, :2])
    np.testing.assert_array_equal(big[:, N + 2:], before[:, N + 2:])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_panel_is_finite_finds_one_nonfinite_element_anywhere(dtype, value):
    """Only the panel asked about counts: a non-finite element in its first,
    a middle or its last position, or in a neighbouring panel."""
    K, P = 37, panel_rows(dtype)
    packed = np.random.default_rng(0).standard_normal(3 * K * P).astype(dtype)
    packed[K * P - 1] = np.finfo(dtype).max  # large but finite: the panel still counts as finite
    assert [panel_is_finite(packed, p, K) for p in range(3)] == [True] * 3
    for at in (K * P, K * P + 5 * P + 3, 2 * K * P - 1):
        bad = packed.copy()
        bad[at] = value
        assert [panel_is_finite(bad, p, K) for p in range(3)] == [True, False, True]


@njit(cache=False)
def _transpose_at(src, i, j, dst, p, q):
    store_transposed_block(src, i, j, dst, p, q)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_store_transposed_block_writes_one_block(dtype):
    n = VECTOR_BYTES // np.dtype(dtype).itemsize
    src = np.arange(40 * 50, dtype=dtype).reshape(40, 50)
    dst = np.full((45, 60), -1.0, dtype)
    _transpose_at(src, 3, 5, dst, 7, 11)
    expected = np.full_like(dst, -1.0)
    expected[7:7 + n, 11:11 + n] = src[3:3 + n, 5:5 + n].T
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.parametrize("n,block,team", [(256, 16, 2), (37, 16, 2), (37, 16, 3), (10, 16, 2), (100, 8, 3), (5, 1, 5)])
def test_share_splits_into_whole_blocks(n, block, team):
    parts = [share(n, block, team, m) for m in range(team)]
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    assert all(i0 % block == 0 and i0 <= i1 for i0, i1 in parts)
    sizes = [-(-(i1 - i0) // block) for i0, i1 in parts]  # blocks each
    assert max(sizes) - min(sizes) <= 1


@pytest.fixture
def team_of(monkeypatch):
    """Run every numba-cpu layer call on a team of the given size, whatever the work."""
    numba_cpu = importlib.import_module("rnnbench.backends.numba_cpu")

    def use(n):
        monkeypatch.setattr(numba_cpu, "team_size", lambda steps, B, GH, H, dtype: n)
        monkeypatch.setattr(numba_cpu, "gradient_team_size", lambda work, H, dtype: n)
    return use


def _assert_agrees_with_numpy(case, lengths, rtol, truncations=("full",)):
    """numba-cpu's forward and its backward under each truncation match numpy's."""
    c = case
    out = rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numba-cpu")
    assert_forward_close(out, rb.forward(c["net"], c["params"], c["x"], c["state0"], lengths, backend="numpy"), rtol)
    for mode in truncations:
        assert_gradients_close(run_backward(case, "numba-cpu", mode, lengths),
                               run_backward(case, "numpy", mode, lengths), rtol)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("team", [2, 3])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_a_team_agrees_with_numpy(team_of, kind, team, dtype, rtol):
    """Teams of 2 and 3 threads (three unit panels, the last one short, so
    a team of 3 holds one each and a team of 2 splits them 1 + 2),
    with padded samples, full BPTT, k-step truncation and chunks, one and
    two bidirectional layers."""
    team_of(team)
    lengths = np.array([6, 2, 5, 6, 1, 4, 3])
    for num_layers, bidirectional in [(1, False), (2, True)]:
        case = make_case(kind, num_layers, bidirectional, dtype, T=6, B=7, I=11, H=_units(3, dtype),
                         weight_scale=None)
        _assert_agrees_with_numpy(case, lengths, rtol, ["full"] if bidirectional else ["full", "kstep:2", "chunk:3"])


def _zero_state(case, sign):
    """The case with its initial state set to +0 or -0 (both skip step 0's product)."""
    c = dict(case)
    c["state0"] = tuple(sign * np.zeros_like(s) for s in c["state0"]) if isinstance(c["state0"], tuple) \
        else sign * np.zeros_like(c["state0"])
    return c


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("team", [1, 2, 3])
@pytest.mark.parametrize("state0", ["none", "+0", "-0"])
def test_zero_initial_state_skips_no_term(team_of, kind, team, state0):
    """h0 = 0 (none given, or zeros of either sign): each member leaves out
    step 0's product W_hh h0, exactly 0; forward and backward still match
    numpy, padded samples and two bidirectional layers included."""
    team_of(team)
    lengths = np.array([6, 2, 5, 6, 1, 4, 3])
    for num_layers, bidirectional in [(1, False), (2, True)]:
        case = make_case(kind, num_layers, bidirectional, np.float64, T=6, B=7, I=11, H=_units(3, np.float64),
                         weight_scale=None)
        case = _zero_state(case, -1.0 if state0 == "-0" else 1.0)
        if state0 == "none":
            case["state0"] = None
        _assert_agrees_with_numpy(case, lengths, 1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("team", [1, 2])
@pytest.mark.parametrize("value", [np.inf, np.nan])
@pytest.mark.parametrize("unit", [3, 36])
def test_zero_initial_state_with_a_nonfinite_recurrent_weight(team_of, kind, team, value, unit):
    """h0 = 0 but an inf or a NaN in W_hh: step 0's product is 0 inf = NaN
    there, as in numpy, so the member whose panels hold it computes it (unit 3
    is member 0's on a team of two, unit 36 member 1's). The non-finite values
    of every output and gradient sit where numpy's do."""
    team_of(team)
    case = make_case(kind, 1, False, np.float64, T=4, B=3, I=5, H=37, weight_scale=None)
    case = _zero_state(case, 1.0)
    params = dict(case["params"])
    w_hh = params["weight_hh_l0"].copy()
    w_hh[unit, 7] = value  # the first gate block's row of this unit
    params["weight_hh_l0"] = w_hh
    case["params"] = params
    c = case
    out = rb.forward(c["net"], params, c["x"], c["state0"], backend="numba-cpu")
    ref = rb.forward(c["net"], params, c["x"], c["state0"], backend="numpy")
    assert np.isnan(ref.output[0, :, unit]).all() and np.isfinite(ref.output[0, :, :unit]).all()
    for a, r in [(out.output, ref.output), (out.h_n, ref.h_n)]:
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(r))
        np.testing.assert_array_equal(np.isnan(a), np.isnan(r))
    got, expected = run_backward(case, "numba-cpu"), run_backward(case, "numpy")
    for name in expected.params:
        np.testing.assert_array_equal(np.isnan(got.params[name]), np.isnan(expected.params[name]), err_msg=name)


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_a_team_of_two_takes_a_weight_each_when_input_and_hidden_sizes_match(team_of, kind, dtype, rtol):
    """I = H: the weight gradients go one weight to each member (W_ih to
    member 0, W_hh to member 1), chunks accumulating into both."""
    team_of(2)
    lengths = np.array([6, 2, 5, 6, 1])
    case = make_case(kind, 1, False, dtype, T=6, B=5, I=37, H=37, weight_scale=None)
    for mode in ("full", "chunk:4"):
        assert_gradients_close(run_backward(case, "numba-cpu", mode, lengths),
                               run_backward(case, "numpy", mode, lengths), rtol)


@pytest.mark.parametrize("kind", rb.KINDS)
def test_a_team_with_a_member_that_owns_nothing(team_of, kind):
    """More threads than unit panels (two panels, team of 3): the
    third member owns no units and no features but still meets the others at
    every barrier."""
    team_of(3)
    case = make_case(kind, 1, False, np.float64, T=5, B=3, I=2, H=_units(2, np.float64, 4), weight_scale=None)
    _assert_agrees_with_numpy(case, LENGTHS, 1e-12, ["chunk:2"])


@pytest.mark.parametrize("kind", rb.KINDS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_skip_input_on_a_team(team_of, kind, dtype, rtol):
    team_of(2)
    net = rb.RNN(kind, 40, 40, input_mode="skip")
    params = net.init_params(0, dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 40)).astype(dtype)
    dy = rng.standard_normal((5, 4, 40)).astype(dtype)
    got = rb.backward(net, params, x, dy, backend="numba-cpu")
    ref = rb.backward(net, params, x, dy, backend="numpy")
    assert_gradients_close(got, ref, rtol)


def test_teams_from_two_caller_threads_at_once(team_of):
    """Two Python threads running numba-cpu layers on teams of 2 at the same
    time (teams take turns for the pool's threads): no deadlock, and each
    gets its own problem's gradients."""
    team_of(2)
    cases = [make_case(kind, 1, False, np.float64, seed=s, T=6, B=5, I=7, H=37, weight_scale=None)
             for s, kind in enumerate(["lstm", "gru"])]
    expected = [run_backward(c, "numpy") for c in cases]
    got = [None, None]

    def work(i):
        for _ in range(5):
            got[i] = run_backward(cases[i], "numba-cpu")
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    for g, ref in zip(got, expected):
        assert_gradients_close(g, ref, 1e-12)
