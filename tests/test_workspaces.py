"""The numba-cpu backend's array pool hands an array out again only when nothing uses it."""
import numpy as np
import pytest

import rnnbench as rb
from cases import assert_gradients_close, gradient_arrays, make_case, run_backward
from rnnbench.backends import numba_cpu
from rnnbench.backends.workspaces import ALIGNMENT, Workspaces


def test_a_free_array_is_handed_out_again():
    ws = Workspaces(min_bytes=0)
    a = ws.empty((3, 4), np.float32)
    memory = a.ctypes.data
    del a
    b = ws.empty((3, 4), np.float32)
    assert b.ctypes.data == memory and b.shape == (3, 4) and b.dtype == np.float32


def test_an_array_in_use_is_not_handed_out():
    ws = Workspaces(min_bytes=0)
    a = ws.empty((3, 4), np.float64)
    assert not np.shares_memory(ws.empty((3, 4), np.float64), a)


@pytest.mark.parametrize("held", [lambda a: a[1:], lambda a: a.T, lambda a: a.reshape(-1)[3:7], lambda a: a[::2, 1]])
def test_a_view_keeps_its_array_in_use(held):
    ws = Workspaces(min_bytes=0)
    a = ws.empty((5, 2), np.float64)
    view = held(a)
    del a
    assert not np.shares_memory(ws.empty((5, 2), np.float64), view)


@pytest.mark.parametrize("shape, dtype", [((3, 4), np.float32), ((7,), np.float64), ((2, 3, 5), np.float32),
                                          ((1 << 18,), np.float32)])
def test_pooled_arrays_start_on_a_cache_line(shape, dtype):
    """New and reused arrays alike: C-contiguous, writeable, ALIGNMENT-byte aligned."""
    ws = Workspaces(min_bytes=0)
    for _ in range(2):  # the second is the first one's memory handed out again
        a = ws.empty(shape, dtype)
        assert a.ctypes.data % ALIGNMENT == 0
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        a[...] = 1.0
        del a


def test_shape_and_dtype_must_match():
    ws = Workspaces(min_bytes=0)
    ws.empty((3, 4), np.float32)
    assert ws.empty((4, 3), np.float32).shape == (4, 3)
    assert ws.empty((3, 4), np.float64).dtype == np.float64


def test_zeros_clears_a_reused_array():
    ws = Workspaces(min_bytes=0)
    a = ws.empty((6,), np.float64)
    a[:] = 7.0
    del a
    z = ws.zeros((6,), np.float64)
    assert np.array_equal(z, np.zeros(6))


def test_the_pool_keeps_at_most_max_bytes():
    ws = Workspaces(max_bytes=1000, min_bytes=0)
    for n in range(1, 20):
        ws.empty((n, 8), np.float64)  # n * 64 bytes each, none kept by the caller
    assert sum(b.nbytes for b in ws._buffers) <= 1000 or len(ws._buffers) == 1


def test_small_arrays_are_not_pooled():
    ws = Workspaces(min_bytes=1024)
    small = ws.empty((10,), np.float64)  # 80 bytes
    assert ws._buffers == []
    assert np.shares_memory(ws.empty((200,), np.float64), ws._buffers[0])
    assert small.shape == (10,)


def test_repeated_calls_reuse_and_stay_exact(monkeypatch):
    """The same problem twice through the backend's pool gives identical results, and a
    result held from the first call is not overwritten by the second."""
    monkeypatch.setattr(numba_cpu.BACKEND.kernels, "workspaces", Workspaces(min_bytes=0))
    case = make_case("lstm", 2, True, np.float64, T=5, B=3, I=4, H=6)
    c = case
    first = rb.forward(c["net"], c["params"], c["x"], c["state0"], backend="numba-cpu")
    kept = first.output.copy()
    other = make_case("lstm", 2, True, np.float64, seed=1, T=5, B=3, I=4, H=6)
    rb.forward(other["net"], other["params"], other["x"], other["state0"], backend="numba-cpu")
    assert np.array_equal(first.output, kept)
    g1 = run_backward(case, "numba-cpu")
    a1 = {name: value.copy() for name, value in gradient_arrays(g1).items()}
    g2 = run_backward(case, "numba-cpu")
    a2 = gradient_arrays(g2)
    assert a1.keys() == a2.keys()
    assert all(np.array_equal(a1[name], a2[name]) for name in a1)
    assert all(np.array_equal(a1[name], value) for name, value in gradient_arrays(g1).items())
    assert_gradients_close(g1, run_backward(case, "numpy"), 1e-12)
    assert len(numba_cpu.BACKEND.kernels.workspaces._buffers) > 0


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_padded_batch_after_a_full_one_reads_no_stale_gradients(monkeypatch, kind):
    """The pre-activation gradient workspaces are zero-filled only when some
    sample is padded: a padded backward that reuses the arrays of an unpadded
    one (every row written) must still match numpy."""
    monkeypatch.setattr(numba_cpu.BACKEND.kernels, "workspaces", Workspaces(min_bytes=0))
    case = make_case(kind, 2, True, np.float64, T=6, B=3, I=4, H=5)
    run_backward(case, "numba-cpu")  # fills the pooled arrays with non-zero gradients
    lengths = np.array([6, 2, 4])
    assert_gradients_close(run_backward(case, "numba-cpu", lengths=lengths),
                           run_backward(case, "numpy", lengths=lengths), 1e-12)
