"""Suites, run folders and `rnnbench run`, end to end."""
import json
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import rnnbench.harness as harness
from rnnbench.cli import main
from rnnbench.runs import SCHEMA_VERSION, load_run
from rnnbench.suite import list_suites, load_suite

TINY = """
name = "tiny"
description = "two decay cases, one tbptt case, one broken case"
[defaults]
input_size = 3
hidden_size = 4
batch = 2
[[cases]]
measurement = "decay"
kind = "rnn_tanh"
init = ["orthogonal:0.9", "orthogonal:1.5"]
T = 12
[[cases]]
measurement = "tbptt"
kind = "gru"
T = 12
truncation = "kstep:2"
[[cases]]
measurement = "decay"
kind = "rnn_tanh"
init = "forget_bias:1"
T = 5
"""


def write_suite(tmp_path, text=TINY, name="tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_deepbench_suites_hold_every_problem_and_filter_by_size():
    from rnnbench.harness import apply_options
    train, infer = load_suite("deepbench-train"), load_suite("deepbench-infer")
    assert len(train.cases) == 2 * 53 and len(infer.cases) == 2 * (69 + 3)  # skip-input and full layer each
    for suite in (train, infer):
        assert len({c["id"] for c in suite.cases}) == len(suite.cases)
        assert all(c["measurement"] == "throughput" and c["input_size"] == c["hidden_size"] for c in suite.cases)
        skip = [c for c in suite.cases if c["input_mode"] == "skip"]
        assert len(skip) * 2 == len(suite.cases) and all(c["id"].count("skip-input") == 1 for c in skip)
    assert {c["kind"] for c in train.cases} == {"rnn_relu", "lstm", "gru"}  # DeepBench's vanilla is ReLU
    small = apply_options(load_suite("deepbench-train"), max_gflop=1.0)
    assert 0 < len(small.cases) < 2 * 53
    with pytest.raises(ValueError, match="within 1e-09 GFLOP"):
        apply_options(load_suite("deepbench-train"), max_gflop=1e-9)


def test_builtin_suites_are_listed_and_expand():
    names = [name for name, _ in list_suites()]
    assert names == ["deepbench-train", "deepbench-infer", "cpu-float64", "cpu", "decay", "scaling", "smoke",
                     "subnormal", "tbptt"]
    decay = load_suite("decay")
    assert len(decay.cases) == 4 * 7 * 5 + 5 + 5
    kinds_inits = {(c["kind"], c["init"]) for c in decay.cases}
    assert ("rnn_relu", "identity") in kinds_inits and ("lstm", "forget_bias:1") in kinds_inits
    assert {c["T"] for c in decay.cases} == {10, 30, 100, 300, 1000}
    tbptt = load_suite("tbptt")
    assert len(tbptt.cases) == 4 * 2 * 15 and {c["T"] for c in tbptt.cases} == {200}
    assert len(load_suite("decay", quick=True).cases) < len(decay.cases)
    assert len({c["id"] for c in decay.cases}) == len(decay.cases)
    result = CliRunner().invoke(main, ["suites"])
    assert result.exit_code == 0 and all(n in result.output for n in names)


@pytest.mark.parametrize("text,problem", [
    ("name = 'x'\ndescription = 'd'\n[[cases]]\nkind = 'lstm'\nbogus = 1\n", "unknown case field 'bogus'"),
    ("name = 'x'\ndescription = 'd'\n[[cases]]\nmeasurement = 'decay'\nkind = 'lstm'\n", "lacks"),
    ("name = 'x'\ndescription = 'd'\n[[cases]]\nhidden_size = 'big'\n", "expects int"),
    ("name = 'x'\n[[cases]]\nkind = 'lstm'\n", "description"),
    ("name = 'x'\ndescription = 'd'\n", "cases"),
    ("name = 'x'\ndescription = 'd'\nextra = 1\n[[cases]]\n", "unknown top-level"),
    ("name = [", "not valid TOML"),
])
def test_bad_suite_files_name_the_file_and_the_problem(tmp_path, text, problem):
    path = write_suite(tmp_path, text, "bad.toml")
    with pytest.raises(ValueError, match=problem) as info:
        load_suite(str(path))
    assert "bad.toml" in str(info.value)
    with pytest.raises(ValueError, match="suite: expected one of"):
        load_suite("no-such-suite")


def test_run_records_every_case_and_keeps_going_after_a_failure(tmp_path):
    suite = load_suite(str(write_suite(tmp_path)))
    run = harness.run_suite(suite, tmp_path / "run", {"quick": False}, progress=False)
    data = load_run(tmp_path / "run")
    assert data["status"] == "complete" and data["finished_utc"]
    assert [c["status"] for c in data["cases"]] == ["ok", "ok", "ok", "error"]
    broken = data["cases"][-1]
    assert "ValueError" in broken["error"] and "forget_bias" in broken["error"]
    ok = data["cases"][0]
    assert ok["values"]["rate"] < 0 and len(ok["series"]["jacobian_norm"]) == 12
    assert data["cases"][2]["values"]["mode"] == "kstep" and data["cases"][2]["values"]["K"] == 2
    env = data["environment"]
    assert env["cpu_count"] >= 1 and env["versions"]["numba"] and "numba" in env
    rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("id,measurement,status,error,seconds")
    assert run.cases == data["cases"]


def test_ctrl_c_mid_suite_leaves_the_finished_cases_in_a_valid_file(tmp_path, monkeypatch):
    suite = load_suite(str(write_suite(tmp_path)))
    real = harness.run_case
    calls = []

    def interrupt_third(case):
        calls.append(case["id"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(case)
    monkeypatch.setattr(harness, "run_case", interrupt_third)
    with pytest.raises(KeyboardInterrupt):
        harness.run_suite(suite, tmp_path / "run", {}, progress=False)
    data = load_run(tmp_path / "run")
    assert data["status"] == "interrupted" and len(data["cases"]) == 2
    assert all(c["status"] == "ok" for c in data["cases"])
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_sigterm_mid_suite_leaves_a_loadable_run(tmp_path):
    """A real process killed with SIGTERM while it works through the decay suite."""
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "rnnbench", "run", "decay", "-o", str(out), "--no-figures"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                if len(json.loads((out / "results.json").read_text())["cases"]) >= 3:
                    break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    data = load_run(out)
    assert code == 130
    assert data["status"] == "interrupted"
    assert 3 <= len(data["cases"]) < data["suite"]["cases_planned"]


def test_cli_run_smoke_end_to_end(tmp_path):
    out = tmp_path / "smoke"
    result = CliRunner().invoke(main, ["run", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = load_run(out)
    assert data["suite"]["name"] == "smoke" and data["status"] == "complete"
    assert len(data["cases"]) == data["suite"]["cases_planned"] == 28
    assert all(c["status"] == "ok" for c in data["cases"])
    assert "rate/step" in result.output and "cosine to full BPTT" in result.output
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "decay_rate_vs_gain.png" in pngs and "tbptt_vs_K.png" in pngs
    again = CliRunner().invoke(main, ["run", "-o", str(out)])
    assert again.exit_code == 2 and "already holds a run" in again.output


def test_cli_run_exits_1_when_a_case_fails(tmp_path):
    """Every case is still run and recorded, the summary printed, and then the exit status says so."""
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(write_suite(tmp_path)), "-o", str(out), "--no-figures"])
    assert result.exit_code == 1, result.output
    assert [c["status"] for c in load_run(out)["cases"]] == ["ok", "ok", "ok", "error"]
    assert "1 of 4 cases failed" in result.output and "results.json" in result.output
    assert "rate/step" in result.output  # the summary of the cases that worked


def test_cli_run_options(tmp_path):
    out = tmp_path / "opts"
    result = CliRunner().invoke(main, ["run", "smoke", "-o", str(out), "--filter", "tbptt", "--filter", "lstm",
                                       "--seed", "3", "--backend", "numpy", "--no-figures"])
    assert result.exit_code == 0, result.output
    data = load_run(out)
    assert len(data["cases"]) == 5
    assert all(c["params"]["backend"] == "numpy" and c["params"]["seed"] == 3 for c in data["cases"])
    assert data["options"]["filter"] == ["tbptt", "lstm"]
    assert not (out / "figures").exists()
    for args, message in ((["run", "nope"], "suite:"), (["run", "--filter", "zzz"], "filter:"),
                          (["run", "--backend", "gpu"], "backend:")):
        bad = CliRunner().invoke(main, args + ["-o", str(tmp_path / "never")])
        assert bad.exit_code == 2 and message in bad.output


def test_load_run_explains_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no results.json"):
        load_run(tmp_path / "empty")
    half = tmp_path / "half"
    half.mkdir()
    (half / "results.json").write_text('{"schema_version": 1, "cases": [{"id": ')
    with pytest.raises(ValueError, match="half.*not valid JSON"):
        load_run(half)
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "results.json").write_text('{"schema_version": 99, "cases": []}')
    with pytest.raises(ValueError, match="newer.*schema_version 99"):
        load_run(newer)


def test_a_version_1_run_says_its_throughput_cases_ran_on_the_default_data(tmp_path):
    """Version 1 ignored init and input_scale in throughput cases (the smoke
    suite's 0.1 was for its decay cases): loaded, they read as measured."""
    cases = [{"id": "t", "measurement": "throughput", "params": {"kind": "lstm", "init": "identity",
                                                                   "input_scale": 0.1}},
             {"id": "d", "measurement": "decay", "params": {"kind": "lstm", "init": "identity", "input_scale": 0.1}}]
    for version, expected in ((1, ("default", 1.0)), (SCHEMA_VERSION, ("identity", 0.1))):
        folder = tmp_path / f"v{version}"
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps({"schema_version": version, "cases": cases}))
        throughput, decay = load_run(folder)["cases"]
        assert (throughput["params"]["init"], throughput["params"]["input_scale"]) == expected
        assert (decay["params"]["init"], decay["params"]["input_scale"]) == ("identity", 0.1)
