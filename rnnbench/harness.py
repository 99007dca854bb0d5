"""Run a suite case by case into a run folder."""
import signal
import sys
import time
import traceback

import click

from .environment import capture_environment
from .measure import measure_throughput_case, run_case
from .phases import PHASES
from .runs import RunFolder


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the run folder is closed as 'interrupted'."""


def _raise_interrupted(signum, frame):
    raise Interrupted(f"signal {signum}")


def apply_options(suite, backend=None, dtype=None, seed=None, filters=(), max_gflop=None):
    """Override case fields from the command line; keep cases whose id contains every
    filter and, for throughput cases, whose forward pass is at most max_gflop GFLOP
    (DeepBench's count)."""
    from .flops import deepbench_flops
    cases = []
    for case in suite.cases:
        if not all(f in case["id"] for f in filters):
            continue
        if (max_gflop is not None and case["measurement"] == "throughput"
                and deepbench_flops(case["kind"], case["T"], case["batch"], case["hidden_size"]) > max_gflop * 1e9):
            continue
        case = dict(case)
        for key, value in (("backend", backend), ("dtype", dtype), ("seed", seed)):
            if value is not None:
                case[key] = value
        cases.append(case)
    if not cases:
        raise ValueError(f"filter: no case of suite {suite.name!r} matches {list(filters)}"
                         + (f" within {max_gflop} GFLOP" if max_gflop is not None else ""))
    suite.cases = cases
    return suite


def run_suite(suite, out_dir, options, progress=True):
    """Measure every case of ``suite`` into a RunFolder at ``out_dir``.

    A failing case is recorded with its error and the run goes on. Ctrl-C or
    SIGTERM stops it with status 'interrupted' (the cases done so far stay).
    Returns the RunFolder."""
    run = RunFolder(out_dir, suite, options, capture_environment())
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    status = "interrupted"
    try:
        with click.progressbar(suite.cases, label=f"{suite.name}", file=sys.stderr,
                               item_show_func=lambda c: c["id"] if c else "",
                               hidden=not progress) as bar:
            for case in bar:
                start = time.perf_counter()
                try:
                    values, series = run_case(case)
                    error = None
                except Exception as exc:  # recorded with the case; the run goes on
                    values, series = {}, {}
                    error = f"{type(exc).__name__}: {exc}"
                    if not isinstance(exc, ValueError):
                        error += "\n" + traceback.format_exc(limit=3)
                run.add_case({"id": case["id"], "measurement": case["measurement"],
                              "params": {k: v for k, v in case.items() if k != "id"},
                              "status": "ok" if error is None else "error", "error": error,
                              "seconds": time.perf_counter() - start, "values": values, "series": series})
        status = "complete"
    finally:
        signal.signal(signal.SIGTERM, previous)
        run.finish(status)
    return run


def run_compare(suite, backends, out_dir, options, progress=True, **timing):
    """Time every throughput case of ``suite`` on all ``backends``, interleaved
    within each case; one record per case and backend (id: case id/backend),
    with the ratio of each phase's time to the first backend's (None where
    either lacks the phase). A backend that cannot run a case (torch in
    skip-input mode) gets status "unsupported" and the reason."""
    cases = [c for c in suite.cases if c["measurement"] == "throughput"]
    if not cases:
        raise ValueError(f"suite: {suite.name!r} has no throughput cases to compare")
    suite.cases = cases
    run = RunFolder(out_dir, suite, options, capture_environment(), planned=len(cases) * len(backends))
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    status = "interrupted"
    try:
        with click.progressbar(cases, label=f"compare {suite.name}", file=sys.stderr,
                               item_show_func=lambda c: c["id"] if c else "", hidden=not progress) as bar:
            for case in bar:
                start = time.perf_counter()
                try:
                    results, error = measure_throughput_case(case, backends, **timing), None
                except Exception as exc:  # recorded; the run goes on
                    results, error = {name: ({}, {}) for name in backends}, f"{type(exc).__name__}: {exc}"
                seconds = time.perf_counter() - start
                first = results[backends[0]][0]
                for name in backends:
                    values, series = results[name]
                    status, reason = "ok" if error is None else "error", error
                    if "unsupported" in values:
                        status, reason, values = "unsupported", values["unsupported"], {}
                    elif status == "ok":
                        for phase in PHASES:
                            mine, base = values.get(f"{phase}_ms"), first.get(f"{phase}_ms")
                            values[f"ratio_{phase}"] = mine / base if mine is not None and base else None
                    run.add_case({"id": f"{case['id']}/{name}", "measurement": "throughput",
                                  "params": {**{k: v for k, v in case.items() if k != "id"}, "backend": name,
                                             "case": case["id"]},
                                  "status": status, "error": reason,
                                  "seconds": seconds, "values": values, "series": series})
        status = "complete"
    finally:
        signal.signal(signal.SIGTERM, previous)
        run.finish(status)
    return run
