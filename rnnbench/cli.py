"""The ``rnnbench`` command line."""
import click

from . import __version__


REPORT_OPTION = click.option("--report", is_flag=True,
                             help="Then build <run folder>/report.pdf (see `rnnbench report`).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnnbench")
def main():
    """rnnbench: exact, fast RNN/LSTM/GRU kernels and honest measurements."""


@main.command("run")
@click.argument("suite", default="smoke")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="Run folder to create (default: reports/runs/<UTC timestamp>-<suite>).")
@click.option("--backend", default=None, help="Run every case on this backend.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
              help="Override every case's dtype (decay measurements are meant for float64).")
@click.option("--quick", is_flag=True, help="Apply the suite's [quick] overrides (fewer, shorter cases).")
@click.option("--seed", type=int, default=None, help="Override every case's seed.")
@click.option("--filter", "filters", multiple=True, help="Keep cases whose id contains this text (repeatable).")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
@REPORT_OPTION
def run_cmd(suite, output, backend, dtype, quick, seed, filters, no_figures, report):
    """Run a suite (a name from `rnnbench suites`, or a .toml path) into a run folder."""
    from .backends import get_backend
    from .harness import apply_options, run_suite
    from .runs import default_run_dir
    from .suite import load_suite
    try:
        loaded = apply_options(load_suite(suite, quick=quick), backend, dtype, seed, filters)
        if backend is not None:
            get_backend(backend)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    out = output or default_run_dir(loaded.name)
    options = dict(backend=backend, dtype=dtype, quick=quick, seed=seed, filter=list(filters))
    click.echo(f"rnnbench run {loaded.name}: {len(loaded.cases)} cases -> {out}", err=True)
    _execute(lambda: run_suite(loaded, out, options), out, figures=not no_figures, report=report)


def _execute(start, out, figures=True, report=False):
    """Run ``start()`` (-> RunFolder), then figures, the summary and, with ``report``, the PDF report;
    Ctrl-C exits 130; exit 1, after all of that, when a case failed (its error is in the run folder)."""
    from .figures import write_figures
    from .summary import summary_lines
    try:
        run = start()
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished cases are in {out}", err=True)
        raise SystemExit(130)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    data = {**run.header, "cases": run.cases}
    if figures:
        for path in write_figures(data, run.path / "figures"):
            click.echo(f"figure {path}", err=True)
    click.echo("\n".join(summary_lines(data)))
    click.echo(f"\nrun folder: {run.path}")
    if report:
        try:
            _build_report([run.path], run.path / "report.pdf", "pdf")
        except click.UsageError as exc:
            click.echo(f"no report: {exc.message}", err=True)
            raise SystemExit(1)
    failed = sum(c["status"] == "error" for c in run.cases)
    if failed:
        click.echo(f"{failed} of {len(run.cases)} cases failed: their errors are in {run.path / 'results.json'}",
                   err=True)
        raise SystemExit(1)


def _build_report(run_dirs, output, fmt):
    """Build a report and say where; each run folder left out is named on stderr with why. UsageError
    when none is left."""
    from .report import build_report
    try:
        built = build_report(run_dirs, output, fmt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for problem in built.problems:
        click.echo(f"left out: {problem}", err=True)
    count = built.pages if fmt == "pdf" else len(built.figures)
    size = f"{count} {'page' if fmt == 'pdf' else 'figure'}{'' if count == 1 else 's'}"
    click.echo(f"report: {built.path} ({size}; runs {', '.join(built.runs)})")


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Report file to write (default: reports/report.pdf, or reports/report.md with --format md).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "md"]), default=None,
              help="pdf: a multi-page PDF; md: Markdown with its PNG figures in <name>_files/ beside it "
                   "(default: md when -o ends in .md, else pdf).")
def report_cmd(run_dirs, output, fmt):
    """Build a report from one or more run folders (of `rnnbench run` or `rnnbench compare`).

    Folders that are missing, empty, half-written (an interrupted run) or from a newer rnnbench are left
    out with a message; the report is built from the others, and fails only when none is left."""
    from pathlib import Path
    fmt = fmt or ("md" if output and Path(output).suffix.lower() == ".md" else "pdf")
    _build_report(run_dirs, output or f"reports/report.{fmt}", fmt)


@main.command("kernels")
@click.option("--cc", default="90", show_default=True,
              help="Compute capability to compile for: 80 (A100), 90 (H100), ...")
@click.option("--dtype", type=click.Choice(["float32", "float64", "both"]), default="both", show_default=True)
def kernels_cmd(cc, dtype):
    """Registers, spills and shared memory of every numba-cuda kernel, compiled
    to PTX and assembled by nvJitLink (no GPU needed; about a minute)."""
    try:
        from .kernels.cuda import resources
    except ImportError as exc:
        raise click.ClickException(f"numba-cuda is unavailable: {exc} (pip install 'rnnbench[cuda]')") from None
    try:
        text = resources.report(cc, ("float32", "float64") if dtype == "both" else (dtype,))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(text)


@main.command("compare")
@click.argument("targets", nargs=-1)
@click.option("--backends", default="numba-cpu,torch,numpy", show_default=True,
              help="Comma-separated backends; ratios are to the first. Unavailable ones are skipped.")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="Run folder to create (default: reports/runs/<UTC timestamp>-compare-<suite>).")
@click.option("--threads", type=int, default=None, help="Threads for Numba, BLAS and torch alike.")
@click.option("--quick", is_flag=True, help="Apply the suite's [quick] overrides.")
@click.option("--filter", "filters", multiple=True, help="Keep cases whose id contains this text (repeatable).")
@click.option("--max-gflop", type=float, default=None,
              help="Keep cases whose forward pass is at most this many GFLOP (DeepBench's count).")
@click.option("--repeats", default=5, show_default=True, help="Timed calls per backend and phase, at least.")
@click.option("--min-time", default=0.2, show_default=True,
              help="Seconds of timed calls per backend and phase, at least (50 calls at most).")
@click.option("--fail-above", type=float, default=None,
              help="With two run folders: exit 3 if any case got slower than this ratio (e.g. 1.10).")
@REPORT_OPTION
def compare_cmd(targets, backends, output, threads, quick, filters, max_gflop, repeats, min_time, fail_above,
                report):
    """Compare backends on a throughput suite (default: cpu), interleaved case by case;
    or, given two run folders RUN_A RUN_B, print a noise-aware regression table."""
    from pathlib import Path
    if len(targets) == 2 and all((Path(t) / "results.json").is_file() for t in targets):
        if report:
            raise click.UsageError("--report builds the report of a new run; for two run folders use "
                                   f"`rnnbench report {targets[0]} {targets[1]}`")
        _regression(targets, fail_above)
        return
    if len(targets) > 1:
        raise click.UsageError(f"expected a suite or two run folders, got {list(targets)}")
    from .backends import backends as available
    from .harness import apply_options, run_compare
    from .runs import default_run_dir
    from .suite import load_suite
    from .threads import set_threads, threads_in_use, torch_info
    status = available()
    names = [n.strip() for n in backends.split(",") if n.strip()]
    unknown = [n for n in names if n not in status]
    if unknown:
        raise click.UsageError(f"backends: unknown {unknown}; expected some of {list(status)}")
    for name in names:
        if status[name] is not True:
            click.echo(f"{name} is unavailable ({status[name]}): skipped", err=True)
    names = [n for n in names if status[n] is True]
    try:
        suite = apply_options(load_suite(targets[0] if targets else "cpu", quick=quick), filters=filters,
                              max_gflop=max_gflop)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if threads:
        set_threads(threads)  # threadpoolctl's limits stay in force for this process
    out = output or default_run_dir(f"compare-{suite.name}")
    options = dict(backends=names, threads=threads, threads_in_use=threads_in_use(), torch=torch_info(),
                   quick=quick, filter=list(filters), max_gflop=max_gflop, min_repeats=repeats,
                   min_seconds=min_time)
    click.echo(f"rnnbench compare {suite.name}: {', '.join(names)} -> {out}", err=True)
    _execute(lambda: run_compare(suite, names, out, options, min_repeats=repeats, min_seconds=min_time), out,
             report=report)


def _regression(targets, fail_above):
    from .regression import regression_rows, worst_slowdown
    from .runs import load_run
    try:
        run_a, run_b = (load_run(t) for t in targets)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    rows = regression_rows(run_a, run_b)
    if not rows:
        raise click.UsageError("the two runs share no successful throughput case")
    click.echo(f"{'case':60s} {'phase':17s} {'A ms':>9s} {'B ms':>9s} {'B/A':>6s}  verdict")
    for r in rows:
        click.echo(f"{r['id']:60s} {r['phase']:17s} {r['a_ms']:9.2f} {r['b_ms']:9.2f} {r['ratio']:6.2f}  "
                   f"{r['verdict']}")
    worst = worst_slowdown(rows)
    click.echo(f"worst slowdown beyond the runs' spread: {worst:.2f}x")
    if fail_above is not None and worst > fail_above:
        click.echo(f"FAIL: slower than {fail_above:.2f}x", err=True)
        raise SystemExit(3)


@main.command("suites")
def suites_cmd():
    """List the built-in suites."""
    from .suite import list_suites
    for name, description in list_suites():
        click.echo(f"{name:8s} {description}")


@main.command("backends")
def backends_cmd():
    """List the backends and why any is unavailable."""
    from .backends import backends
    for name, status in backends().items():
        click.echo(f"{name:10s} {'available' if status is True else 'unavailable: ' + status}")


@main.command("check")
@click.option("--steps", "-T", default=50, show_default=True, help="Sequence length T.")
@click.option("--batch", "-B", default=8, show_default=True, help="Batch size B.")
@click.option("--input-size", "-I", default=32, show_default=True, help="Input size I.")
@click.option("--hidden", "-H", default=64, show_default=True, help="Hidden size H.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--repeats", default=5, show_default=True, help="Timed calls per backend after the first.")
def check_cmd(steps, batch, input_size, hidden, dtype, repeats):
    """Forward and backward of every kind on every backend, checked against the
    numpy float64 reference, with median timings."""
    import numba

    from .check import REL_DIFF_LIMITS, run_check
    for name, value in (("T", steps), ("B", batch), ("I", input_size), ("H", hidden), ("repeats", repeats)):
        if value < 1:
            raise click.BadParameter(f"expected a positive integer, got {value}", param_hint=name)
    click.echo(f"rnnbench {__version__} check: T={steps} B={batch} I={input_size} H={hidden} {dtype}, "
               f"median of {repeats} interleaved calls; numba threads {numba.get_num_threads()}")
    rows = run_check(steps, batch, input_size, hidden, dtype, repeats)
    click.echo(f"{'kind':9s} {'backend':10s} {'first call s':>12s} {'forward ms':>11s} "
               f"{'fwd+bwd ms':>11s} {'max rel diff':>13s}")
    limit = REL_DIFF_LIMITS[dtype]
    failed = False
    for r in rows:
        ok = r.max_rel_diff <= limit
        failed |= not ok
        click.echo(f"{r.kind:9s} {r.backend:10s} {r.first_s:12.3f} {r.forward_ms:11.3f} "
                   f"{r.forward_backward_ms:11.3f} {r.max_rel_diff:13.2e}{'' if ok else '  MISMATCH'}")
    click.echo("fwd+bwd = rb.backward (it runs its own forward). max rel diff: against numpy float64, "
               f"relative to each array's largest entry; limit {limit:g}.")
    if failed:
        raise SystemExit(1)
