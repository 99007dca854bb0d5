"""Speed of rb.forward / rb.backward per kind and backend (pytest-benchmark).

Not part of the test suite (pytest's testpaths is tests/). Run:

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= pytest benchmarks --benchmark-group-by=param:kind \
        --benchmark-columns=median,iqr,min,rounds -k "numba-cpu or numpy"

Each backend runs in its own warm-up first; compile time is not timed.
Run one backend per process when comparing numpy with numba-cpu: NumPy and
SciPy (which Numba's np.dot uses) ship separate OpenBLAS builds whose idle
threads spin for a while after each call and slow the other pool down.
"""
import numpy as np
import pytest

import rnnbench as rb

T, B, H = 100, 32, 256
BACKENDS = [name for name, ok in rb.backends().items() if ok is True]


@pytest.fixture(scope="module", params=rb.KINDS)
def problem(request):
    kind = request.param
    net = rb.RNN(kind, H, H)
    rng = np.random.default_rng(0)
    return (net, net.init_params(0, np.float32), rng.standard_normal((T, B, H)).astype(np.float32),
            rng.standard_normal((T, B, H)).astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward(benchmark, problem, backend):
    net, params, x, _ = problem
    rb.forward(net, params, x, backend=backend)  # warm-up (compilation or cache load)
    benchmark.extra_info.update(kind=net.kind, T=T, B=B, H=H, dtype="float32")
    out = benchmark(rb.forward, net, params, x, backend=backend)
    assert out.output.shape == (T, B, H)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_backward(benchmark, problem, backend):
    net, params, x, dy = problem
    rb.backward(net, params, x, dy, backend=backend)
    benchmark.extra_info.update(kind=net.kind, T=T, B=B, H=H, dtype="float32")
    g = benchmark(rb.backward, net, params, x, dy, backend=backend)
    assert g.x.shape == x.shape
