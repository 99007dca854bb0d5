"""Speed of rb.forward / rb.backward per backend (pytest-benchmark).

Not part of the test suite (pytest's testpaths is tests/), so the normal test
run times nothing. The cases are the throughput cases of the ``smoke`` suite
plus, for every kind, the reference problem of the README (T=100, B=32,
H=256) in float32 and float64, and batch-1 latency (T=200, B=1, H=256).

    pytest benchmarks --benchmark-columns=median,iqr,min,rounds --benchmark-json=bench.json

Each benchmark warms up first (Numba compilation or cache load is not timed).
Prefer ``rnnbench compare`` for comparisons across backends: it interleaves
them and lets each library's thread pool settle between calls, which
pytest-benchmark (one benchmark after another) does not.
"""
import numpy as np
import pytest

import rnnbench as rb
from rnnbench.suite import load_suite

BACKENDS = [name for name, ok in rb.backends().items() if ok is True]
PER_KIND = [(32, 100, "float32"), (32, 100, "float64"), (1, 200, "float32")]  # (batch, T, dtype)
CASES = [c for c in load_suite("smoke").cases if c["measurement"] == "throughput"] + [
    dict(id=f"throughput/{kind}/H=256/B={batch}/T={T}/{dtype}", kind=kind, hidden_size=256, input_size=256,
         batch=batch, T=T, dtype=dtype) for kind in rb.KINDS for batch, T, dtype in PER_KIND]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c['kind']}-H{c['hidden_size']}-B{c['batch']}-T{c['T']}-{c['dtype']}")
def problem(request):
    c = request.param
    net = rb.RNN(c["kind"], c["input_size"], c["hidden_size"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((c["T"], c["batch"], c["input_size"])).astype(c["dtype"])
    dy = rng.standard_normal((c["T"], c["batch"], c["hidden_size"])).astype(c["dtype"])
    return net, net.init_params(0, c["dtype"]), x, dy


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward(benchmark, problem, backend):
    net, params, x, _ = problem
    rb.forward(net, params, x, backend=backend)  # warm-up: compilation is not timed
    benchmark.extra_info.update(kind=net.kind, shape=list(x.shape), backend=backend)
    out = benchmark(rb.forward, net, params, x, backend=backend)
    assert out.output.shape == x.shape[:2] + (net.hidden_size,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_backward(benchmark, problem, backend):
    net, params, x, dy = problem
    rb.backward(net, params, x, dy, backend=backend)
    benchmark.extra_info.update(kind=net.kind, shape=list(x.shape), backend=backend)
    g = benchmark(rb.backward, net, params, x, dy, backend=backend)
    assert g.x.shape == x.shape
