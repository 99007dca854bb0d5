"""Timing methodology, throughput cases and `rnnbench compare` (nothing here asserts a speed)."""
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import rnnbench as rb
from rnnbench.cli import main
from rnnbench.regression import regression_rows, worst_slowdown
from rnnbench.runs import load_run
from rnnbench.suite import load_suite
from rnnbench.throughput import measure_throughput, subnormal_share
from rnnbench.timing import time_interleaved

TINY = """
name = "tiny-throughput"
description = "two small throughput cases"
[defaults]
measurement = "throughput"
input_size = 6
hidden_size = 8
batch = 3
T = 5
dtype = "float64"
[[cases]]
kind = ["lstm", "gru"]
"""


def test_time_interleaved_alternates_and_keeps_every_sample():
    calls = []
    timings = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                               min_repeats=3, min_seconds=0.0)
    assert calls[:2] == ["a", "b"]  # the untimed first calls
    assert calls[2:8] == ["a", "b", "a", "b", "a", "b"]  # then interleaved rounds
    for t in timings.values():
        assert len(t.samples) == 3 and t.first_s >= 0
        s = t.summary()
        assert s["repeats"] == 3 and s["min"] <= s["median"] and s["mad"] >= 0 and s["iqr"] >= 0
    with pytest.raises(ValueError, match="min_repeats"):
        time_interleaved({"a": lambda: None}, min_repeats=0)


def test_time_interleaved_settles_between_backends_only():
    """Keys (backend, phase): a pause before each switch of backend, none within one."""
    events = []
    fns = {(b, p): (lambda b=b, p=p: events.append((b, p))) for b in ("x", "y") for p in ("f", "fb")}
    time_interleaved(fns, min_repeats=2, min_seconds=0.0, settle_s=0.5, sleep=lambda s: events.append("pause"))
    timed = events[4:]  # after the four untimed first calls
    # after each pause one untimed warm-up call of the function timed next
    assert timed == ["pause", ("x", "f"), ("x", "f"), ("x", "fb"),
                     "pause", ("y", "f"), ("y", "f"), ("y", "fb")] * 2


def test_time_interleaved_warms_up_for_warmup_s_after_each_pause():
    """After a pause, untimed calls of the function timed next until warmup_s
    has passed on the clock (at least one), then the timed call."""
    now = [0.0]
    events = []

    def call(name):
        now[0] += 0.02  # each call takes 20 ms on the fake clock
        events.append(name)
    fns = {("x", "f"): lambda: call("x"), ("y", "f"): lambda: call("y")}
    time_interleaved(fns, min_repeats=1, min_seconds=0.0, settle_s=0.5, warmup_s=0.05, clock=lambda: now[0],
                     sleep=lambda s: events.append("pause"))
    # two untimed first calls; then per backend a pause, 3 warm-up calls (0, 20, 40 ms < 50) and the timed one
    assert events == ["x", "y", "pause", "x", "x", "x", "x", "pause", "y", "y", "y", "y"]


def test_measure_throughput_reports_correctness_and_flops():
    net = rb.RNN("lstm", 6, 8)
    results = measure_throughput(net, 5, 3, np.float64, ["numpy", "numba-cpu"], min_repeats=2, min_seconds=0)
    for values in results.values():
        assert values["max_rel_diff"] < 1e-10
        assert values["forward_ms"] > 0 and values["forward_backward_ms"] > 0 and values["backward_is_derived"]
        assert values["backward_data_ms"] > 0 and values["backward_weights_ms"] > 0  # both split the backward
        assert values["forward_gflops_full"] >= values["forward_gflops_deepbench"] > 0
        for phase in ("forward", "backward_data", "backward_weights", "forward_backward"):
            assert len(values["timings"][phase]["samples"]) >= 2


def test_each_problem_gets_a_gemm_peak_measured_around_its_timings(monkeypatch):
    """The peak is measured again for every problem, just before and just
    after its timed calls (a shared machine's speed changes within a run),
    the better of the two kept, and its % of peak is against that problem's
    own peak."""
    import rnnbench.throughput as throughput
    events, peaks = [], iter([50.0, 80.0, 200.0, 120.0])
    real_time = throughput.time_interleaved

    def timed(*args, **kwargs):
        events.append("timings")
        return real_time(*args, **kwargs)

    def peak(dtype):
        events.append("peak")
        return next(peaks)
    monkeypatch.setattr(throughput, "time_interleaved", timed)
    monkeypatch.setattr(throughput, "gemm_peak_gflops", peak)
    net = rb.RNN("rnn_tanh", 6, 8)
    first, second = (measure_throughput(net, 5, 3, np.float64, ["numba-cpu"], min_repeats=2, min_seconds=0)
                     ["numba-cpu"] for _ in range(2))
    assert events == ["peak", "timings", "peak"] * 2
    for values, expected in ((first, 80.0), (second, 200.0)):
        assert values["gemm_peak_gflops"] == expected
        assert values["forward_backward_percent_of_peak"] == pytest.approx(
            100 * values["forward_backward_gflops_full"] / expected)


def test_gemm_peak_is_measured_at_every_call(monkeypatch):
    """No cached result: each call times the GEMM again (best of its calls)."""
    import rnnbench.kernels.blas as blas
    import rnnbench.throughput as throughput
    calls = []
    real_gemm = blas.gemm
    monkeypatch.setattr(blas, "gemm", lambda a, b: calls.append(1) or real_gemm(a, b))
    for _ in range(2):
        assert throughput.gemm_peak_gflops(np.float64, n=64, min_repeats=3, min_seconds=0) > 0
    assert len(calls) == 2 * (1 + 3)  # a warm-up call and 3 timed ones, each time


def test_measure_throughput_marks_what_a_backend_cannot_do():
    """torch: no backward split (its phases are None) and no skip-input mode (unsupported)."""
    net = rb.RNN("gru", 8, 8)
    values = measure_throughput(net, 4, 2, np.float64, ["numba-cpu", "torch"], min_repeats=2, min_seconds=0)["torch"]
    assert values["backward_data_ms"] is None and values["backward_weights_gflops_full"] is None
    assert values["forward_backward_ms"] > 0 and set(values["timings"]) == {"forward", "forward_backward"}
    skip = rb.RNN("gru", 8, 8, input_mode="skip")
    results = measure_throughput(skip, 4, 2, np.float64, ["numba-cpu", "torch"], min_repeats=2, min_seconds=0)
    assert "skip-input" in results["torch"]["unsupported"] or "input_mode" in results["torch"]["unsupported"]
    assert results["numba-cpu"]["max_rel_diff"] < 1e-10
    # skip-input: the input GEMM is gone from the full count, which equals DeepBench's for the GRU
    assert results["numba-cpu"]["forward_gflops_full"] == pytest.approx(results["numba-cpu"]["forward_gflops_deepbench"])


def test_compare_end_to_end_and_regression_mode(tmp_path):
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY)
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(suite), "--backends", "numba-cpu,numpy,torch",
                                       "-o", str(out), "--threads", "1", "--repeats", "3", "--min-time", "0"])
    assert result.exit_code == 0, result.output
    data = load_run(out)
    assert data["status"] == "complete"
    assert {c["params"]["backend"] for c in data["cases"]} == {"numba-cpu", "numpy", "torch"}
    assert len(data["cases"]) == data["suite"]["cases_planned"] == 2 * 3
    for c in data["cases"]:
        assert c["status"] == "ok" and c["values"]["max_rel_diff"] < 1e-10
    first = [c for c in data["cases"] if c["params"]["backend"] == "numba-cpu"]
    assert all(c["values"]["ratio_forward_backward"] == 1.0 for c in first)
    assert data["options"]["threads"] == 1 and data["options"]["threads_in_use"]["numba"] == 1
    assert data["options"]["torch"]["version"].startswith("2.13")
    assert "fwd+bwd ms" in result.output and "Type" in result.output
    assert "Type [init" not in result.output and "subnormal" not in result.output  # default data: no such note
    medians = result.output.split("median of the time ratios numba-cpu / other backend")[1].splitlines()[2:]
    assert [row.split()[:4] for row in medians[:4]] == [[kind, "float64", backend, "1"] for kind in ("lstm", "gru")
                                                     for backend in ("numpy", "torch")]
    assert (out / "figures" / "throughput_bars.png").is_file()

    same = CliRunner().invoke(main, ["compare", str(out), str(out), "--fail-above", "1.10"])
    assert same.exit_code == 0, same.output
    assert "worst slowdown beyond the runs' spread: 1.00x" in same.output

    # synthetic samples (measured ones are too noisy on a shared machine to assert on)
    base, slower = tmp_path / "base", tmp_path / "slower"
    for folder, factor in ((base, 1.0), (slower, 3.0)):
        shutil.copytree(out, folder)
        results = json.loads((folder / "results.json").read_text())
        for c in results["cases"]:
            for key in ("forward_samples_s", "forward_backward_samples_s"):
                c["series"][key] = [factor * v for v in (0.010, 0.0104, 0.0101, 0.0099, 0.0102)]
        (folder / "results.json").write_text(json.dumps(results))
    out = base
    regressed = CliRunner().invoke(main, ["compare", str(out), str(slower), "--fail-above", "1.10"])
    assert regressed.exit_code == 3, regressed.output
    rows = regression_rows(load_run(out), load_run(slower))
    assert all(r["verdict"] == "slower" and r["ratio"] == pytest.approx(3.0) for r in rows)
    assert worst_slowdown(rows) == pytest.approx(3.0)


def test_compare_rejects_bad_arguments(tmp_path):
    bad = CliRunner().invoke(main, ["compare", "--backends", "gpu", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "backends" in bad.output
    none = CliRunner().invoke(main, ["compare", "decay", "-o", str(tmp_path / "y")])
    assert none.exit_code == 2 and "no throughput cases" in none.output


def test_subnormal_share_counts_nonzero_entries_below_the_smallest_normal():
    tiny32 = np.finfo(np.float32).tiny
    a = np.array([0.0, -0.0, tiny32, tiny32 / 2, -tiny32 / 4, 1.0, np.nan, np.inf], np.float32)
    b = np.array([[tiny32 / 8, 2.0]], np.float32)
    assert subnormal_share([a, b]) == pytest.approx(3 / 10)
    assert subnormal_share([np.array([1e-310, 1e-300])]) == 0.5  # float64's own smallest normal


def test_throughput_draws_parameters_by_init_and_inputs_by_input_scale():
    """identity init (zero biases) and x ~ N(0, 1e-38^2) in float32: states and
    most gradients subnormal, every backend still within float32's tolerance of
    the float64 reference; the defaults give none."""
    net = rb.RNN("lstm", 6, 8)
    run = dict(min_repeats=1, min_seconds=0, max_repeats=1)
    tiny = measure_throughput(net, 5, 3, np.float32, ["numpy", "numba-cpu"], init="identity", input_scale=1e-38, **run)
    plain = measure_throughput(net, 5, 3, np.float32, ["numba-cpu"], **run)["numba-cpu"]
    for values in tiny.values():
        assert values["subnormal_share"] > 0.3 and values["max_rel_diff"] < 1e-4
    assert plain["subnormal_share"] == 0.0 and plain["max_rel_diff"] < 1e-4
    with pytest.raises(ValueError, match="forget_bias applies to lstm only"):
        measure_throughput(rb.RNN("gru", 6, 8), 5, 3, np.float32, ["numpy"], init="forget_bias:1", **run)


def test_throughput_ids_and_tables_name_the_init_and_input_scale(tmp_path):
    """Default cases keep their ids; the others name what differs, and the
    summary shows it, with the dtype and the subnormal share."""
    suite = tmp_path / "scales.toml"
    suite.write_text(TINY.replace('kind = ["lstm", "gru"]', 'kind = "rnn_tanh"\ninit = "identity"\n'
                                  'input_scale = [1.0, 1e-310]'))
    ids = [c["id"] for c in load_suite(str(suite)).cases]
    assert ids == ["throughput/rnn_tanh/H=8/B=3/T=5/float64/init=identity",
                   "throughput/rnn_tanh/H=8/B=3/T=5/float64/init=identity/input_scale=1e-310"]
    assert [c["id"] for c in load_suite("cpu").cases][0] == "throughput/lstm/H=256/B=1/T=200/float32"
    assert [c["id"] for c in load_suite("smoke").cases if c["measurement"] == "throughput"] == [
        "throughput/lstm/H=64/B=8/T=50/float32", "throughput/gru/H=64/B=8/T=50/float32"]  # N(0, 1) inputs, as before
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(suite), "--backends", "numba-cpu,numpy", "-o", str(out),
                                       "--threads", "1", "--repeats", "1", "--min-time", "0"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("rnn_tanh")]
    assert len(rows) == 4 and all(" float64 " in row for row in rows)
    assert all(row.startswith("rnn_tanh [identity] ") for row in rows[:2])
    assert all(row.startswith("rnn_tanh [identity, x*1e-310] ") for row in rows[2:])
    shares = [float(row.split()[-1].rstrip("%")) for row in rows]
    assert shares[:2] == [0.0, 0.0] and min(shares[2:]) > 30
    assert "subnormal: the share of the outputs and gradients that is subnormal" in result.output


def test_the_subnormal_suite_pairs_each_problem_with_tiny_inputs():
    cases = load_suite("subnormal").cases
    assert {c["measurement"] for c in cases} == {"throughput"} and {c["init"] for c in cases} == {"identity"}
    pairs = {}
    for c in cases:
        key = tuple((k, v) for k, v in c.items() if k not in ("input_scale", "id"))
        pairs.setdefault(key, []).append(c["input_scale"])
    assert {tuple(scales) for scales in pairs.values()} == {(1.0, 1e-38), (1.0, 1e-307)}
    # W_ih x, of typical size input_scale 1e-3 sqrt(I) (W_ih ~ N(0, 1e-6)), is subnormal, far from 0
    for key, (_, tiny) in pairs.items():
        q = dict(key)
        finfo = np.finfo(np.dtype(q["dtype"]))
        assert 1e3 * finfo.smallest_subnormal < tiny * 1e-3 * np.sqrt(q["input_size"]) < finfo.smallest_normal
