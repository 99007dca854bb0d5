"""PNG figures of a run: the files written, their validity and determinism."""
import copy

import numpy as np

import pytest

from rnnbench import rundata as rd
from rnnbench.figures import (BACKEND_COLORS, KIND_COLORS, LAYOUT_DECIMALS, freeze_layout, new_figure, run_plots,
                              style, throughput_plots, write_figures)
from rnnbench.harness import run_compare, run_suite
from rnnbench.runs import load_run
from rnnbench.suite import load_suite

TINY_SUITE = """
name = "tiny-figures"
description = "a tiny decay and tbptt suite for the figures tests"

[defaults]
input_size = 4
hidden_size = 8
batch = 1
input_scale = 0.1

[[cases]]
measurement = "decay"
kind = ["rnn_tanh", "lstm"]
init = ["orthogonal:0.5", "orthogonal:1.5"]
T = [10, 20]

[[cases]]
measurement = "tbptt"
kind = ["rnn_tanh", "lstm"]
T = 20
input_scale = 1.0
truncation = ["kstep:1", "kstep:5", "chunk:5", "full"]
"""

EXPECTED = [
    "decay_norm_vs_lag_rnn_tanh.png", "decay_norm_vs_lag_lstm.png", "decay_rate_vs_gain.png",
    "decay_grad_step0_vs_T.png", "decay_temporal_rnn_tanh.png", "decay_temporal_lstm.png", "tbptt_vs_K.png",
]


@pytest.fixture(scope="module")
def run_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    suite_file = root / "tiny.toml"
    suite_file.write_text(TINY_SUITE)
    run = run_suite(load_suite(str(suite_file)), root / "run", options={}, progress=False)
    data = load_run(run.path)
    assert data["status"] == "complete"
    assert all(c["status"] == "ok" for c in data["cases"]), [c["error"] for c in data["cases"]]
    return data


def assert_pngs_written_deterministically(data, tmp_path, expected):
    """write_figures gives exactly `expected`, valid PNGs without a Software tag, byte-identical twice."""
    paths = write_figures(data, tmp_path / "a")
    assert [p.name for p in paths] == expected
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(expected)
    for p in paths:
        png = p.read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), p.name
        assert len(png) > 10_000, p.name
        assert b"Software" not in png, p.name
    again = write_figures(data, tmp_path / "b")
    assert [p.name for p in again] == expected
    for first, second in zip(paths, again):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_writes_the_expected_pngs_deterministically(run_data, tmp_path):
    assert_pngs_written_deterministically(run_data, tmp_path, EXPECTED)


def test_only_failed_cases_write_nothing(run_data, tmp_path):
    data = copy.deepcopy(run_data)
    for c in data["cases"]:
        c.update(status="error", error="RuntimeError: boom", values={}, series={})
    assert write_figures(data, tmp_path / "figs") == []
    assert not (tmp_path / "figs").exists() or not any((tmp_path / "figs").iterdir())
    assert write_figures({"cases": []}, tmp_path / "none") == []


def test_only_tbptt_cases_give_only_the_tbptt_figure(run_data, tmp_path):
    data = {**run_data, "cases": [c for c in run_data["cases"] if c["measurement"] == "tbptt"]}
    assert [p.name for p in write_figures(data, tmp_path)] == ["tbptt_vs_K.png"]


def test_missing_values_are_skipped_not_plotted_as_empty(run_data, tmp_path):
    """Nulls and non-positive values drop points; a figure with no point left is not written;
    one gain per kind gives no rate-vs-gain figure."""
    data = copy.deepcopy(run_data)
    data["cases"] = [c for c in data["cases"] if c["measurement"] == "decay"
                     and c["params"]["init"] == "orthogonal:0.5"]
    for c in data["cases"]:
        c["series"]["jacobian_norm"][1:4] = [None, 0.0, -1.0]
        if c["params"]["kind"] == "lstm":
            c["series"]["temporal"] = [None] * len(c["series"]["temporal"])
    names = [p.name for p in write_figures(data, tmp_path)]
    assert names == ["decay_norm_vs_lag_rnn_tanh.png", "decay_norm_vs_lag_lstm.png",
                     "decay_grad_step0_vs_T.png", "decay_temporal_rnn_tanh.png"]


def test_frozen_layouts_stay_rounded_when_drawn(run_data):
    """freeze_layout rounds every Axes box, the original one too: each draw resets the active box from the
    original (Axes.apply_aspect), and the layout engine's last bits, which differ from run to run, then
    reached the PDF's coordinates (the example report came out in two versions at random)."""
    for plot in run_plots(run_data):
        with style():
            fig = new_figure(plot.size)
            plot.draw(fig)
            freeze_layout(fig)
            frozen = [ax.get_position().get_points().copy() for ax in fig.axes]
            fig.draw_without_rendering()
        for ax, points in zip(fig.axes, frozen):
            np.testing.assert_array_equal(ax.get_position().get_points(), points, err_msg=plot.name)
            np.testing.assert_allclose(points, np.round(points, LAYOUT_DECIMALS), rtol=0, atol=1e-15)


def test_kind_colours_are_fixed():
    assert set(KIND_COLORS) == {"rnn_tanh", "rnn_relu", "lstm", "gru"}
    assert len(set(KIND_COLORS.values())) == 4


THROUGHPUT_SUITE = """
name = "tiny-throughput"
description = "a tiny throughput suite for the figures tests"

[[cases]]
measurement = "throughput"
kind = ["lstm", "gru"]
hidden_size = [8, 16]
input_size = 8
batch = 2
T = [4, 8, 12]
dtype = "float64"
"""

THROUGHPUT_EXPECTED = ["throughput_bars.png", "throughput_gflops_vs_H.png", "throughput_scaling.png"]


@pytest.fixture(scope="module")
def throughput_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("throughput")
    suite_file = root / "tiny.toml"
    suite_file.write_text(THROUGHPUT_SUITE)
    run = run_compare(load_suite(str(suite_file)), ["numpy", "numba-cpu"], root / "run", {}, progress=False,
                      min_repeats=2, min_seconds=0, settle_s=0)
    data = load_run(run.path)
    assert all(c["status"] == "ok" for c in data["cases"]), [c["error"] for c in data["cases"]]
    assert len(data["cases"]) == 24
    return data


def test_throughput_figures_are_written_deterministically(throughput_data, tmp_path):
    assert_pngs_written_deterministically(throughput_data, tmp_path, THROUGHPUT_EXPECTED)


def test_throughput_bars_split_past_20_problems(throughput_data, tmp_path):
    """25 problems give two bar files (20 + 5); one H gives no GFLOP/s-vs-H figure, no size varying alone no scaling."""
    cases = []
    for i in range(25):
        for c in throughput_data["cases"][:2]:  # one problem on both backends
            c = copy.deepcopy(c)
            c["params"].update(T=100 + i, batch=1 + i, case=f"problem-{i}")
            cases.append(c)
    names = [p.name for p in write_figures({"cases": cases}, tmp_path)]
    assert names == ["throughput_bars_1.png", "throughput_bars_2.png"]


def test_throughput_bars_axis_starts_a_decade_below_the_shortest_bar(throughput_data):
    """The bars' log axis starts a decade below the shortest bar (not at the power of ten just below it,
    which made a bar 1.65 times that power look 0.7 times as long as one twice it)."""
    plot = next(p for p in throughput_plots(rd.ok_cases(throughput_data, "throughput")) if p.name == "throughput_bars")
    with style():
        fig = new_figure(plot.size)
        plot.draw(fig)
    ax = fig.axes[0]
    widths = [patch.get_width() for patch in ax.patches]
    assert len(widths) == 24 and ax.get_xscale() == "log"
    assert ax.get_xlim()[0] == pytest.approx(min(widths) / 10)


def test_throughput_scaling_needs_three_sizes(throughput_data, tmp_path):
    data = {"cases": [c for c in throughput_data["cases"] if c["params"]["T"] != 12]}
    assert [p.name for p in write_figures(data, tmp_path)] == THROUGHPUT_EXPECTED[:2]


def test_backend_colours_are_fixed_and_distinct_from_kinds():
    assert set(BACKEND_COLORS) == {"numba-cpu", "torch", "numpy", "numba-cuda"}
    assert len(set(BACKEND_COLORS.values())) == 4
    assert not set(BACKEND_COLORS.values()) & set(KIND_COLORS.values())
