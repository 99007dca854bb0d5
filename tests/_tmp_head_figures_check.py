"""PNG figures of a run: the expected files, valid and deterministic; none without data."""
import pytest

from rnnbench.figures import write_figures
from rnnbench.harness import run_suite
from rnnbench.suite import load_suite

SUITE = """
name = "figs"
description = "tiny decay and tbptt cases"
[defaults]
input_size = 3
hidden_size = 8
batch = 2
[[cases]]
measurement = "decay"
kind = ["rnn_tanh", "lstm"]
init = ["orthogonal:0.5", "orthogonal:1.5"]
T = [10, 20]
[[cases]]
measurement = "tbptt"
kind = ["rnn_tanh", "lstm"]
T = 20
truncation = ["kstep:1", "kstep:5", "chunk:5", "full"]
"""

EXPECTED = ["decay_grad_step0_vs_T.png", "decay_norm_vs_lag_lstm.png", "decay_norm_vs_lag_rnn_tanh.png",
            "decay_rate_vs_gain.png", "decay_temporal_lstm.png", "decay_temporal_rnn_tanh.png", "tbptt_vs_K.png"]


@pytest.fixture(scope="module")
def run_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figs")
    (folder / "figs.toml").write_text(SUITE)
    run = run_suite(load_suite(str(folder / "figs.toml")), folder / "run", {}, progress=False)
    return {**run.header, "cases": run.cases}


def test_expected_figures_are_valid_pngs_and_deterministic(run_data, tmp_path):
    first = write_figures(run_data, tmp_path / "a")
    assert sorted(p.name for p in first) == EXPECTED
    for path in first:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    second = write_figures(run_data, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_only_tbptt_cases_give_only_the_tbptt_figure(run_data, tmp_path):
    data = {**run_data, "cases": [c for c in run_data["cases"] if c["measurement"] == "tbptt"]}
    assert [p.name for p in write_figures(data, tmp_path)] == ["tbptt_vs_K.png"]


def test_failed_cases_give_no_figures(run_data, tmp_path):
    failed = [{**c, "status": "error", "error": "ValueError: x", "values": {}, "series": {}}
              for c in run_data["cases"]]
    assert write_figures({**run_data, "cases": failed}, tmp_path / "none") == []
    assert not list((tmp_path / "none").glob("*.png"))
