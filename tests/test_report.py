"""`rnnbench report`: PDF and Markdown reports built from small real runs."""
import copy
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from rnnbench import rundata as rd
from rnnbench.cli import main
from rnnbench.harness import run_compare, run_suite
from rnnbench.report import build_report
from rnnbench.report.blocks import Bullets, Paragraph, Preformatted, Section, Table, docstring_blocks
from rnnbench.report.headline import throughput_sentences
from rnnbench.report.inputs import Run
from rnnbench.report.pdf import layout
from rnnbench.report.tables import num, sci
from rnnbench.runs import load_run
from rnnbench.suite import load_suite

MIXED = """
name = "tiny-mixed"
description = "decay, tbptt and one throughput case, tiny"

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
kind = "rnn_tanh"
T = 20
input_scale = 1.0
truncation = ["kstep:1", "kstep:5", "chunk:5", "full"]

[[cases]]
measurement = "throughput"
kind = "gru"
T = 4
dtype = "float32"
"""

COMPARE = """
name = "tiny-compare"
description = "lstm and gru at three T, for the ratio table and the scaling page"

[[cases]]
measurement = "throughput"
kind = ["lstm", "gru"]
hidden_size = 8
input_size = 8
batch = 2
T = [4, 8, 12]
dtype = "float32"
"""

HEADINGS = ["1  Summary", "2  Throughput", "3  Scaling", "4  Gradient decay", "5  Truncated BPTT",
            "6  Environment and method", "What was run", "Machine and software", "Headline numbers",
            "Median times per phase, throughput and share of the GEMM peak",
            "Time relative to numba-cpu and correctness", "Fitted log-log slopes of forward+backward time",
            "Decay at the longest T of each kind and init", "Cosine similarity of truncated to full BPTT gradients",
            "Timing methodology", "FLOP conventions", "Recorded environment", "Full results"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two real run folders: a run of MIXED and a compare of COMPARE on numba-cpu, numpy, torch."""
    root = tmp_path_factory.mktemp("report-runs")
    for name, text in (("mixed.toml", MIXED), ("compare.toml", COMPARE)):
        (root / name).write_text(text)
    run_suite(load_suite(str(root / "mixed.toml")), root / "mixed", options={}, progress=False)
    run_compare(load_suite(str(root / "compare.toml")), ["numba-cpu", "numpy", "torch"], root / "compare",
                {"backends": ["numba-cpu", "numpy", "torch"]}, progress=False, min_repeats=2, min_seconds=0,
                settle_s=0)
    for folder in ("mixed", "compare"):
        data = load_run(root / folder)
        assert data["status"] == "complete"
        assert all(c["status"] == "ok" for c in data["cases"]), [c["error"] for c in data["cases"]]
    return root / "mixed", root / "compare"


def pdf_pages_text(path):
    return [page.extract_text() for page in PdfReader(path).pages]


def test_pdf_has_every_section_the_values_and_rebuilds_byte_identical(runs, tmp_path):
    mixed, compare = runs
    report = build_report([mixed, compare], tmp_path / "a.pdf")
    pages = pdf_pages_text(tmp_path / "a.pdf")
    assert report.pages == len(pages) >= 6
    assert report.runs == ("mixed", "compare") and report.problems == ()
    for n, text in enumerate(pages, 1):
        assert f"page {n} of {len(pages)}" in text
    text = "\n".join(pages)
    for heading in HEADINGS:
        assert heading in text, heading
    # table values, formatted as the report formats them, from the runs' own numbers
    for c in load_run(compare)["cases"]:
        assert num(c["values"]["forward_backward_ms"]) in text
    decay = [c for c in load_run(mixed)["cases"] if c["measurement"] == "decay" and c["params"]["T"] == 20]
    for c in decay:
        assert num(c["values"]["rate"], 3) in text and sci(c["values"]["grad_step0"]) in text
    env = load_run(mixed)["environment"]
    assert env["cpu_model"] in text
    assert "faster than" in text or "on par" in text  # the auto-written ratio sentences
    # deterministic: the same bytes in this process and from the command line in another one
    build_report([mixed, compare], tmp_path / "b.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    result = subprocess.run([sys.executable, "-m", "rnnbench", "report", str(mixed), str(compare), "-o", "c.pdf"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{len(pages)} pages" in result.stdout
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "c.pdf").read_bytes()
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()


def test_only_the_sections_a_run_has_data_for(runs, tmp_path):
    _, compare = runs
    build_report([compare], tmp_path / "r.pdf")
    text = "\n".join(pdf_pages_text(tmp_path / "r.pdf"))
    assert "2  Throughput" in text and "3  Scaling" in text and "4  Environment and method" in text
    assert "Gradient decay" not in text and "Truncated BPTT" not in text


def test_markdown_twin_with_png_figures(runs, tmp_path):
    mixed, compare = runs
    result = CliRunner().invoke(main, ["report", str(mixed), str(compare), "-o", str(tmp_path / "rep.md")])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "rep.md").read_text()
    for heading in ("# rnnbench report: mixed, compare", "## 1  Summary", "## 2  Throughput",
                    "## 4  Gradient decay", "## 6  Environment and method"):
        assert heading in md
    assert "| Type | Hidden | Batch | TimeSteps |" in md
    links = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert links and all(link.startswith("rep_files/") for link in links)
    pngs = sorted((tmp_path / "rep_files").iterdir())
    assert sorted(link.split("/")[1] for link in links) == [p.name for p in pngs]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    first = {p.name: p.read_bytes() for p in pngs}
    build_report([mixed, compare], tmp_path / "rep.md", fmt="md")
    assert (tmp_path / "rep.md").read_text() == md
    assert {p.name: p.read_bytes() for p in (tmp_path / "rep_files").iterdir()} == first


def _copy_with(src, dst, **changes):
    shutil.copytree(src, dst)
    data = json.loads((dst / "results.json").read_text())
    data.update(changes)
    (dst / "results.json").write_text(json.dumps(data))
    return dst


def _environment_with(run, **variables):
    environment = copy.deepcopy(load_run(run)["environment"])
    environment["env"].update(variables)
    return environment


@pytest.mark.parametrize("coretype, warned", [("Haswell", True), (None, False)])
def test_a_forced_openblas_kernel_is_flagged_in_the_report_and_the_summary(runs, tmp_path, coretype, warned):
    """The environment of the run, not of the reader: a run measured with OPENBLAS_CORETYPE set says so."""
    from rnnbench.summary import summary_lines
    _, compare = runs
    env = _environment_with(compare, OPENBLAS_CORETYPE=coretype, OPENBLAS_L2_SIZE=None)
    run = _copy_with(compare, tmp_path / "run", environment=env)
    build_report([run], tmp_path / "r.pdf")
    text = " ".join(" ".join(pdf_pages_text(tmp_path / "r.pdf")).split())
    assert ("Warning: OPENBLAS_CORETYPE=Haswell forced OpenBLAS's kernel choice" in text) is warned
    lines = summary_lines(load_run(run))
    assert any(line.startswith("WARNING: OPENBLAS_CORETYPE=Haswell forced") for line in lines) is warned


def test_bad_run_folders_are_named_and_the_report_built_from_the_rest(runs, tmp_path):
    mixed, compare = runs
    (tmp_path / "empty").mkdir()
    (tmp_path / "not-json").mkdir()
    (tmp_path / "not-json" / "results.json").write_text('{"schema_version": 1, "cases": [')
    bad = {
        tmp_path / "missing": "no such folder",
        tmp_path / "empty": "empty folder",
        tmp_path / "not-json": "not valid JSON",
        _copy_with(compare, tmp_path / "newer", schema_version=99): "schema_version 99 is newer",
        _copy_with(compare, tmp_path / "interrupted", status="interrupted"): "half-written: the run was interrupted",
        _copy_with(compare, tmp_path / "running", status="running"): "half-written: status 'running'",
    }
    failed = _copy_with(compare, tmp_path / "failed")
    data = json.loads((failed / "results.json").read_text())
    for c in data["cases"]:
        c.update(status="error", error="RuntimeError: boom")
    (failed / "results.json").write_text(json.dumps(data))
    bad[failed] = "no successful case"

    report = build_report([*bad, mixed], tmp_path / "r.pdf")
    assert report.runs == ("mixed",)
    assert len(report.problems) == len(bad)
    for (folder, problem), message in zip(bad.items(), report.problems):
        assert str(folder) in message and problem in message, message
    text = "\n".join(pdf_pages_text(tmp_path / "r.pdf"))
    assert "Run folders left out" in text and "no such folder" in text

    result = CliRunner().invoke(main, ["report", *map(str, bad), str(compare), "-o", str(tmp_path / "c.pdf")])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("left out: run folder") == len(bad)
    result = CliRunner().invoke(main, ["report", *map(str, bad), "-o", str(tmp_path / "none.pdf")])
    assert result.exit_code == 2
    assert "no run folder to report on" in result.output and str(tmp_path / "empty") in result.output
    assert not (tmp_path / "none.pdf").exists()
    with pytest.raises(ValueError, match="no run folder to report on"):
        build_report([tmp_path / "missing"], tmp_path / "none.pdf")


def test_run_with_report_builds_the_pdf_after_the_run(tmp_path):
    suite = tmp_path / "tiny.toml"
    suite.write_text(MIXED.split("[[cases]]\nmeasurement = \"tbptt\"")[0])  # the decay cases only
    result = subprocess.run([sys.executable, "-m", "rnnbench", "run", str(suite), "-o", "out", "--no-figures",
                             "--report"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "report: out/report.pdf" in result.stdout
    text = "\n".join(pdf_pages_text(tmp_path / "out" / "report.pdf"))
    assert "2  Gradient decay" in text and "Throughput" not in text.split("Environment and method")[0]


def test_compare_report_is_for_a_new_run(runs):
    mixed, compare = runs
    result = CliRunner().invoke(main, ["compare", str(mixed), str(compare), "--report"])
    assert result.exit_code == 2 and "rnnbench report" in result.output


def test_ratio_sentences_follow_the_data(runs):
    """The headline names the faster backend and the median ratio it computes from the times."""
    _, compare = runs
    data = copy.deepcopy(load_run(compare))
    for c in data["cases"]:
        c["values"]["forward_backward_ms"] = {"numba-cpu": 1.0, "numpy": 3.0, "torch": 0.5}[c["params"]["backend"]]
    sentences = throughput_sentences(Run(compare, "compare", data))
    for kind in ("lstm", "gru"):
        assert f"numba-cpu is 3x faster than numpy on the {kind} cases (median of 3 problems" in " ".join(sentences)
        assert f"torch is 2x faster than numba-cpu on the {kind} cases" in " ".join(sentences)


def test_ratio_sentences_keep_problems_on_other_data_apart(runs):
    """Problems whose data were drawn otherwise (init, input scale) get sentences of their own, named so."""
    _, compare = runs
    data = copy.deepcopy(load_run(compare))
    for c in data["cases"]:
        tiny = c["params"]["T"] == 12
        if tiny:
            c["params"].update(init="identity", input_scale=1e-38)
        c["values"]["forward_backward_ms"] = {"numba-cpu": 1.0, "numpy": 2.0 if tiny else 3.0,
                                              "torch": 0.5}[c["params"]["backend"]]
    text = " ".join(throughput_sentences(Run(compare, "compare", data)))
    for kind in ("lstm", "gru"):
        assert f"numba-cpu is 3x faster than numpy on the {kind} cases (median of 2 problems" in text
        assert f"numba-cpu is 2x faster than numpy on the {kind} [identity, x*1e-38] cases (median of 1 problem," \
            in text


def test_ratio_sentences_keep_dtypes_apart_where_a_run_has_several(runs):
    _, compare = runs
    data = copy.deepcopy(load_run(compare))
    for c in data["cases"]:
        wide = c["params"]["T"] == 12
        c["params"]["dtype"] = "float64" if wide else "float32"
        c["values"]["forward_backward_ms"] = {"numba-cpu": 1.0, "numpy": 2.0 if wide else 3.0,
                                              "torch": 0.5}[c["params"]["backend"]]
    text = " ".join(throughput_sentences(Run(compare, "compare", data)))
    for kind in ("lstm", "gru"):
        assert f"numba-cpu is 3x faster than numpy on the {kind} float32 cases (median of 2 problems" in text
        assert f"numba-cpu is 2x faster than numpy on the {kind} float64 cases (median of 1 problem," in text


def test_the_report_gives_each_kinds_median_time_ratio(runs, tmp_path):
    """The speed targets' measure, as the terminal summary gives it, in place of a median pooled over kinds."""
    _, compare = runs
    build_report([compare], tmp_path / "r.md", fmt="md")
    md = (tmp_path / "r.md").read_text()
    assert "**Median time ratio numba-cpu / other backend, per kind**" in md
    assert "| median |" not in md
    rows = rd.median_time_ratios(rd.ok_cases(load_run(compare), "throughput"), ["numba-cpu", "numpy", "torch"])
    assert [row[:4] for row in rows] == [(kind, "float32", backend, 3) for kind in ("lstm", "gru")
                                         for backend in ("numpy", "torch")]
    for label, dtype, backend, n, forward, forward_backward in rows:
        assert f"| {label} | {dtype} | {backend} | {n} | {num(forward)} | {num(forward_backward)} |" in md


def _page_lines(pages):
    return [[item.text for item in page.items if item.text] for page in pages]


def test_long_tables_continue_with_their_header_and_wide_ones_split_into_column_groups():
    rows = tuple((f"row{i:03d}", *(f"{i}.{j}" for j in range(3))) for i in range(300))
    long = Table("Long", ("key", "a", "b", "c"), rows, "lrrr")
    wide = Table("Wide", ("key", *(f"column_{j:02d}" for j in range(40))),
                 (("k1", *("x" * 9 for _ in range(40))),), "l" + "r" * 40)
    cell = "word " * 60
    wrapped = Table("Wrapped", ("key", "text"), (("k", cell.strip()),), "ll")
    pages = layout([Section("Tables", [long, wide, wrapped])], "test")
    lines = _page_lines(pages)
    row_lines = [line for page in lines for line in page if line.startswith("row")]
    assert [line.split()[0] for line in row_lines] == [r[0] for r in rows]  # every row once, in order
    long_pages = [page for page in lines if any(line.startswith("row") for line in page)]
    assert len(long_pages) > 3
    for page in long_pages[1:]:
        assert "Long (continued)" in page and any(line.split() == ["key", "a", "b", "c"] for line in page)
    text = "\n".join(line for page in lines for line in page)
    groups = text.count("Wide (columns, part")
    assert groups >= 2 and f"Wide (columns, part {groups} of {groups})" in text
    assert all(f"column_{j:02d}" in text for j in range(40))
    assert text.count("k1") == groups  # the key column repeated in each group
    assert text.count("word") == 60 and max(len(line) for page in lines for line in page) < 200  # wrapped, not cut


def test_docstring_blocks_keep_bullets_and_literal_blocks():
    blocks = docstring_blocks('''Title line.

- first ``x``
  continued
- second

Formula::

        a = b * c

Back to :func:`text` with **strong** words.
''')
    assert blocks == [Paragraph("Title line."), Bullets(("first x continued", "second")), Paragraph("Formula:"),
                      Preformatted(("a = b * c",)), Paragraph("Back to text with strong words.")]


def test_rundata_orders_and_groups():
    assert rd.kind_order({"gru", "zz", "rnn_tanh"}) == ["rnn_tanh", "gru", "zz"]
    assert rd.backend_order({"numpy", "torch", "x"}) == ["torch", "numpy", "x"]
    assert sorted(["orthogonal:1.5", "default", "identity", "orthogonal:0.5"], key=rd.init_sort_key) == [
        "default", "orthogonal:0.5", "orthogonal:1.5", "identity"]
    assert rd.zero_crossings([0.5, 1.0, 1.5], [-1.0, -0.5, 0.5]) == [1.25]


def test_throughput_problems_differ_by_init_and_input_scale_and_their_labels_say_so():
    def case(**q):
        return {"params": {"kind": "lstm", "hidden_size": 8, "batch": 2, "T": 3, "dtype": "float32", **q}}
    plain, tiny = case(), case(init="identity", input_scale=1e-38)
    assert rd.data_text(plain["params"]) == "" and rd.kind_text(plain["params"]) == "lstm"
    assert rd.kind_text(tiny["params"]) == "lstm [identity, x*1e-38]"
    assert rd.kind_text(case(input_scale=0.5)["params"]) == "lstm [x*0.5]"
    assert rd.problem_key(plain) != rd.problem_key(tiny) != rd.problem_key(case(init="identity"))
    assert rd.problem_label(tiny) == "lstm [identity, x*1e-38] H=8 B=2 T=3"


def test_median_time_ratios_pool_the_vanilla_rnn_and_keep_other_data_dtypes_and_modes_apart():
    """The speed targets' measure: per kind, the median of reference time / other time over its problems;
    an even count takes the mean of the middle two (of the ratios, not of their inverses)."""
    from rnnbench.summary import summary_lines

    def pair(kind, H, forward, forward_backward, b="torch", **q):
        """A problem timed on numba-cpu (10 ms forward, 30 ms fwd+bwd) and on b."""
        params = {"kind": kind, "hidden_size": H, "batch": 2, "T": 3, "dtype": "float32", **q}
        key = f"{kind}/{H}/{sorted(q.items())}"
        return [{"measurement": "throughput", "status": "ok", "id": f"{key}/{backend}",
                 "params": {**params, "backend": backend, "case": key},
                 "values": {"forward_ms": f, "forward_backward_ms": fb}}
                for backend, f, fb in (("numba-cpu", 10.0, 30.0), (b, forward, forward_backward))]

    cases = (pair("rnn_tanh", 8, 20.0, 30.0) + pair("rnn_relu", 8, 10.0, 60.0) + pair("rnn_relu", 16, 40.0, 15.0)
             + pair("rnn_tanh", 16, 8.0, 20.0)  # ratios 0.5 1 0.25 1.25 (forward), 1 0.5 2 1.5 (fwd+bwd)
             + pair("lstm", 8, 5.0, 60.0) + pair("lstm", 8, 20.0, 30.0, init="identity", input_scale=1e-38)
             + pair("lstm", 8, 10.0, 10.0, dtype="float64") + pair("lstm", 8, 10.0, 10.0, input_mode="skip")
             + pair("gru", 8, 20.0, 60.0, b="numpy"))
    cases[-1]["values"]["forward_ms"] = None  # a missing phase: no forward median
    assert rd.median_time_ratios(cases, ["numba-cpu", "torch", "numpy"]) == [
        ("lstm", "float32", "torch", 1, 2.0, 0.5),
        ("lstm", "float64", "torch", 1, 1.0, 3.0),
        ("lstm skip", "float32", "torch", 1, 1.0, 3.0),
        ("lstm [identity, x*1e-38]", "float32", "torch", 1, 0.5, 1.0),
        ("gru", "float32", "numpy", 1, None, 0.5),
        ("rnn", "float32", "torch", 4, 0.75, 1.25)]
    # the other way round: the median of the inverses, 5/6 where the inverse of the median is 0.8
    assert rd.median_time_ratios(cases, ["torch", "numba-cpu"])[-1] == (
        "rnn", "float32", "numba-cpu", 4, 1.5, pytest.approx(5 / 6))
    data = {"suite": {"name": "s", "cases_planned": len(cases)}, "status": "complete", "cases": cases,
            "options": {"backends": ["numba-cpu", "torch", "numpy"]}}
    lines = summary_lines(data)
    start = lines.index("median of the time ratios numba-cpu / other backend over each kind's problems (below 1: "
                        "numba-cpu faster; rnn: rnn_tanh and rnn_relu):")
    assert lines[start + 1].split() == ["kind", "dtype", "backend", "problems", "forward", "fwd+bwd"]
    assert lines[start + 2].split() == ["lstm", "float32", "torch", "1", "2.00", "0.50"]
    assert lines[start + 4].split() == ["lstm", "skip", "float32", "torch", "1", "1.00", "3.00"]
    assert lines[start + 6].split() == ["gru", "float32", "numpy", "1", "-", "0.50"]
    assert lines[start + 7].split() == ["rnn", "float32", "torch", "4", "0.75", "1.25"]
    single = dict(data, options={"backends": ["numba-cpu"]},
                  cases=[c for c in cases if c["params"]["backend"] == "numba-cpu"])
    assert not any(line.startswith("median of the time ratios") for line in summary_lines(single))
