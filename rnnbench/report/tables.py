"""The report's tables (rnnbench.report.blocks.Table) built from run folders, and number formatting.

Missing values (None, non-finite, a key the run does not have) show as "-".
"""
import math

from .. import rundata as rd
from ..check import REL_DIFF_LIMITS
from ..environment import blas_kernel_warning, threads_summary
from .blocks import Table

DASH = "-"
PHASE_COLUMNS = (("forward", "fwd ms"), ("backward_data", "bwd-data ms"), ("backward_weights", "bwd-weights ms"),
                 ("backward", "bwd ms"), ("forward_backward", "fwd+bwd ms"))
SKIPPED_PARAMS = {"measurement", "case", "id"}
PARAM_ORDER = ("kind", "init", "hidden_size", "input_size", "batch", "T", "truncation", "input_mode", "backend",
               "dtype", "num_layers")  # then any other, in the run's order


# ---- formatting -----------------------------------------------------------------------------------------

def num(value, digits=3):
    """``digits`` significant digits, plainly from 0.001 to 1e6 and in e-notation beyond; '-' when missing."""
    if not rd.finite(value):
        return DASH
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if -3 <= magnitude < 6:
        return f"{value:.{max(0, digits - 1 - magnitude)}f}"
    return f"{value:.{digits - 1}e}"


def sci(value, digits=2):
    """e-notation ('6.7e-07'), for values spanning many decades; '-' when missing."""
    return f"{value:.{digits - 1}e}" if rd.finite(value) else DASH


def cell(value):
    """Any JSON scalar as a table cell: yes/no, integers as they are, floats by :func:`num`."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return num(value, 4)
    return str(value) or DASH


def times(ratio):
    """A speed ratio as '1.4x' / '26x'."""
    return f"{ratio:.2g}x" if ratio < 10 else f"{ratio:.0f}x"


def rel_diff_limit(dtype):
    return REL_DIFF_LIMITS.get(str(dtype))


# ---- what was run ---------------------------------------------------------------------------------------

def measurement_counts(run):
    """'16 decay, 10 tbptt, 2 throughput' over all of a run's cases."""
    counts = {}
    for c in run.data["cases"]:
        counts[c["measurement"]] = counts.get(c["measurement"], 0) + 1
    return ", ".join(f"{n} {m}" for m, n in counts.items())


def utc_text(stamp):
    """'2026-11-22T02:24:40+00:00' as '2026-11-22 02:24:40'."""
    return str(stamp).replace("T", " ").removesuffix("+00:00") if stamp else DASH


def runs_table(runs):
    rows = []
    for run in runs:
        d = run.data
        ok = sum(c["status"] == "ok" for c in d["cases"])
        rows.append((run.label, d["suite"]["name"], measurement_counts(run), ", ".join(run.backends) or DASH,
                     f"{ok} of {len(d['cases'])}", utc_text(d.get("started_utc")), utc_text(d.get("finished_utc")),
                     str(run.path)))
    return Table("Run folders", ("run", "suite", "cases", "timed backends", "ok", "started (UTC)",
                                 "finished (UTC)", "folder"), tuple(rows), "lllllll" + "l",
                 notes=("cases: every case of the run by measurement; ok: cases with a result.",))


# ---- throughput -----------------------------------------------------------------------------------------

def _input_cell(q):
    return "skip" if q.get("input_mode") == "skip" else str(q.get("input_size", DASH))


def _peak_range(values):
    """'188' for one peak value, '172-188' for several."""
    low, high = num(min(values)), num(max(values))
    return low if low == high else f"{low}-{high}"


def throughput_table(run):
    """DeepBench-style: one row per problem and backend."""
    problems = rd.problems(run.cases("throughput"))
    rows = []
    for per in problems.values():
        for backend in run.backends:
            c = per.get(backend)
            if c is None:
                continue
            q, v = c["params"], c["values"]
            rows.append((rd.kind_text(q), str(q["hidden_size"]), str(q["batch"]), str(q["T"]), _input_cell(q),
                         str(q.get("dtype", DASH)), backend,
                         *(num(v.get(f"{phase}_ms")) for phase, _ in PHASE_COLUMNS),
                         num(v.get("forward_backward_gflops_deepbench")), num(v.get("forward_backward_gflops_full")),
                         num(v.get("forward_backward_percent_of_peak"), 2)))
    if not rows:
        return None
    peaks = {}
    for per in problems.values():
        for c in per.values():
            if rd.finite(c["values"].get("gemm_peak_gflops")):
                peaks.setdefault(str(c["params"].get("dtype")), set()).add(c["values"]["gemm_peak_gflops"])
    peak_text = ", ".join(_peak_range(values) + f" GFLOP/s ({dtype})"
                          for dtype, values in sorted(peaks.items())) or "not recorded"
    drawn = any(rd.data_text(c["params"]) for per in problems.values() for c in per.values())
    return Table(
        "Median times per phase, throughput and share of the GEMM peak",
        ("Type", "Hidden", "Batch", "TimeSteps", "Input", "dtype", "backend",
         *(name for _, name in PHASE_COLUMNS), "GFLOP/s DB", "GFLOP/s full", "% peak"),
        tuple(rows), "lrrrrll" + "r" * 8, key_columns=7,
        notes=("Times: median ms of the timed calls. bwd-data / bwd-weights: DeepBench's backward phases "
               "(gradient of the inputs and states / of the weights), '-' where the backend runs them as one "
               "pass (torch). bwd: fwd+bwd minus fwd (derived), comparable across backends. Input: input size, "
               "or 'skip' for DeepBench's skip-input mode." + (
                   " Type [init, x*s]: parameters by that init scheme, inputs scaled by s (PyTorch's init and "
                   "x ~ N(0, 1) where not given)." if drawn else ""),
               "GFLOP/s of the forward+backward step under DeepBench's count (DB: recurrent GEMM only) and the "
               "full count (input GEMM included); % peak: full count against the square-GEMM peak measured "
               f"just before and after each problem's timings (the better of the two), {peak_text}."))


def ratios(run):
    """[(problem case, {backend: fwd ratio, fwd+bwd ratio})] of each problem timed on the reference
    backend (the first of run.backends) and another: time / the reference's time."""
    reference = run.backends[0] if run.backends else None
    out = []
    for per in rd.problems(run.cases("throughput")).values():
        base = per.get(reference)
        if base is None:
            continue
        row = {}
        for backend, c in per.items():
            if backend != reference:
                row[backend] = tuple(_ratio(c, base, phase) for phase in ("forward_ms", "forward_backward_ms"))
        out.append((base, row))
    return out


def _ratio(c, base, phase):
    mine, ref = c["values"].get(phase), base["values"].get(phase)
    return mine / ref if rd.finite(mine) and rd.finite(ref) and ref > 0 else None


def correctness(per):
    """(worst max_rel_diff, [backends beyond their dtype's limit]) of one problem's cases."""
    diffs = {b: c["values"].get("max_rel_diff") for b, c in per.items()}
    worst = max((d for d in diffs.values() if rd.finite(d)), default=None)
    bad = [b for b, c in per.items()
           if not rd.finite(diffs[b]) or (rel_diff_limit(c["params"].get("dtype")) or math.inf) < diffs[b]]
    return worst, bad


def ratio_table(run):
    """One row per problem: every other backend's time as a multiple of the reference's, and correctness."""
    if len(run.backends) < 2:
        return None
    reference, others = run.backends[0], run.backends[1:]
    problems = rd.problems(run.cases("throughput"))
    rows = []
    for base, row in ratios(run):
        worst, bad = correctness(problems[rd.problem_key(base)])
        q = base["params"]
        cells = [num(row.get(b, (None, None))[i], 3) for b in others for i in (0, 1)]
        rows.append((rd.kind_text(q), str(q["hidden_size"]), str(q["batch"]), str(q["T"]), str(q.get("dtype", DASH)),
                     *cells, sci(worst), "yes" if not bad else "NO: " + ", ".join(bad)))
    if not rows:
        return None
    limits = ", ".join(f"{limit:g} ({dtype})" for dtype, limit in REL_DIFF_LIMITS.items())
    return Table(
        f"Time relative to {reference} and correctness",
        ("Type", "Hidden", "Batch", "TimeSteps", "dtype", *(f"{b} {p} ×" for b in others for p in ("fwd", "fwd+bwd")),
         "max rel diff", "correct"),
        tuple(rows), "lrrrl" + "r" * (2 * len(others)) + "rl", key_columns=5,
        notes=(f"×: the backend's median time divided by {reference}'s on the same problem, timed interleaved "
               f"(above 1: slower than {reference}). max rel diff: the largest difference of any output or "
               "gradient from the numpy float64 reference, relative to that array's largest entry, worst "
               f"backend; correct: every backend within {limits}.",))


def median_ratio_table(run):
    """Per kind and other backend: the median over the kind's problems of the reference's time / the
    other's, forward and forward+backward (:func:`rnnbench.rundata.median_time_ratios`, the speed targets'
    measure; the terminal summary of a compare prints the same)."""
    if len(run.backends) < 2:
        return None
    reference = run.backends[0]
    rows = tuple((label, dtype, backend, str(n), num(forward, 3), num(forward_backward, 3))
                 for label, dtype, backend, n, forward, forward_backward
                 in rd.median_time_ratios(run.cases("throughput"), run.backends))
    if not rows:
        return None
    return Table(
        f"Median time ratio {reference} / other backend, per kind",
        ("kind", "dtype", "backend", "problems", "fwd", "fwd+bwd"), rows, "lllrrr", key_columns=3,
        notes=(f"The median over a kind's problems of {reference}'s median time divided by the backend's on the "
               f"same problem (below 1: {reference} faster). rnn: rnn_tanh and rnn_relu together; problems on "
               "other data (bracketed), in another dtype or input mode are not pooled with the others.",))


def slopes_table(run):
    groups = rd.scaling_groups(run.cases("throughput"))
    rows = []
    for dim, _, _ in rd.DIMS:
        for backend, kind, fixed, points in groups.get(dim, []):
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            rows.append((backend, kind, dim, fixed, f"{xs[0]}..{xs[-1]} ({len(xs)})",
                         f"{num(ys[0])}..{num(ys[-1])}", f"{rd.loglog_slope(xs, ys):.2f}"))
    if not rows:
        return None
    return Table("Fitted log-log slopes of forward+backward time", ("backend", "kind", "varies", "fixed",
                                                                     "sizes (count)", "ms", "slope"),
                 tuple(rows), "lllllrr", key_columns=3,
                 notes=("slope: least-squares p of time ~ size^p over the sizes: 1 is linear, 2 quadratic, "
                        "near 0 flat (latency-bound).",))


# ---- decay and truncated BPTT ---------------------------------------------------------------------------

def decay_table(run):
    longest = rd.longest_T(run.cases("decay"))
    if not longest:
        return None
    rows = []
    order = sorted(longest, key=lambda k: (rd.kind_order({k for k, _ in longest}).index(k[0]),
                                           rd.init_sort_key(k[1])))
    for key in order:
        c = longest[key]
        v = c["values"]
        violations = v.get("pascanu_violations") if v.get("pascanu_applies") else None
        rows.append((*key, str(c["params"]["T"]), num(v.get("rate"), 3), num(v.get("e_folding"), 3),
                     num(v.get("half_life"), 3), sci(v.get("grad_step0")),
                     DASH if not rd.finite(v.get("steps_in_past")) else f"{100 * v['steps_in_past']:.0f}%",
                     num(v.get("sigma_1"), 3), cell(violations)))
    return Table("Decay at the longest T of each kind and init",
                 ("kind", "init", "T", "rate/step", "e-fold steps", "half-life steps", "grad@0", "in past",
                  "sigma_1", "bound violations"),
                 tuple(rows), "llrrrrrrrr", key_columns=3,
                 notes=("rate/step: least-squares slope of ln||ds_{T-1}/ds_{T-1-l}|| per step of lag l (negative: "
                        "vanishing); e-fold: steps per factor e (1/|rate|); grad@0: ||dL/ds_0|| for a unit loss "
                        "gradient at step T-1; in past: share of steps whose Jacobian norm is above 1e-20; "
                        "sigma_1: largest singular value of W_hh; bound violations: lags where Pascanu's bound "
                        "sigma_1^l is exceeded (single-layer tanh/ReLU RNNs; should be 0).",))


def tbptt_tables(run):
    """Two pivot tables, cosine and relative error: rows (kind, init, T, mode), columns K."""
    rows = rd.tbptt_rows(run.cases("tbptt"))
    Ks = sorted({p[0] for per_kind in rows.values() for e in per_kind.values() for m in rd.TBPTT_MODES
                 for p in e.get(m, [])})
    if not Ks:
        return []
    tables = []
    for index, title, fmt, note in (
            (1, "Cosine similarity of truncated to full BPTT gradients", lambda x: num(x, 4),
             "1 means the truncated gradient points exactly along the full one."),
            (2, "Relative error of truncated BPTT gradients", sci, "||g_K - g|| / ||g||, g the full-BPTT gradient.")):
        body = []
        for init, per_kind in rows.items():
            for kind, entry in per_kind.items():
                for mode in rd.TBPTT_MODES:
                    if mode in entry:
                        by_K = {p[0]: p[index] for p in entry[mode]}
                        body.append((kind, init, str(entry["T"]), mode, *(fmt(by_K.get(K)) for K in Ks)))
        tables.append(Table(title, ("kind", "init", "T", "mode", *(f"K={K}" for K in Ks)), tuple(body),
                            "llrl" + "r" * len(Ks), key_columns=4,
                            notes=(note + " k-step: each step's loss reaches K steps back; chunk: the gradient "
                                          "stops at boundaries every K steps.",)))
    return tables


# ---- environment ----------------------------------------------------------------------------------------

def _blas_text(lib):
    return (f"{lib.get('internal_api') or '?'} {lib.get('version') or '?'} ({lib.get('architecture') or '?'}), "
            f"{lib.get('num_threads', '?')} threads ({lib.get('threading_layer') or '?'}), "
            f"{lib.get('filepath') or '?'}")


def machine_lines(env):
    """Short lines on the machine and software of an environment dict (rnnbench.environment), and a
    warning where that environment forced OpenBLAS's kernels."""
    versions = env.get("versions") or {}
    git = env.get("git") or {}
    avx = {True: "yes", False: "no"}.get(env.get("cpu_flags_avx512"), "?")
    source = "not a git checkout (commit unknown)"
    if git.get("commit"):
        source = f"git commit {git['commit'][:12]}" + (" with uncommitted changes" if git.get("dirty") else "")
    warning = blas_kernel_warning(env)
    return [f"CPU: {env.get('cpu_model') or '?'}; {env.get('cpu_count') or '?'} logical CPUs, "
            f"{env.get('cpu_affinity') or '?'} usable; AVX-512 {avx}; {env.get('memory_gib') or '?'} GiB memory; "
            f"{env.get('os') or '?'}",
            f"Threads: {threads_summary(env)}",
            "Software: Python " + (env.get("python") or "?") + "; "
            + ", ".join(f"{name} {ver}" for name, ver in versions.items() if ver),
            f"Source: {source}"] + ([f"Warning: {warning}"] if warning else [])


def _environment_rows(env):
    rows = [("CPU model", env.get("cpu_model")), ("logical CPUs", env.get("cpu_count")),
            ("usable CPUs (affinity)", env.get("cpu_affinity")), ("AVX-512", env.get("cpu_flags_avx512")),
            ("memory (GiB)", env.get("memory_gib")), ("OS", env.get("os")), ("host", env.get("hostname")),
            ("Python", env.get("python"))]
    rows += [(f"version: {name}", ver) for name, ver in (env.get("versions") or {}).items()]
    rows += [(f"BLAS {i}", _blas_text(lib)) for i, lib in enumerate(env.get("blas") or [], 1)]
    rows += [(f"numba: {key}", value) for key, value in (env.get("numba") or {}).items()]
    rows += [(f"env: {name}", value) for name, value in (env.get("env") or {}).items() if value is not None]
    rows += [(f"git: {key}", value) for key, value in (env.get("git") or {}).items()]
    return {item: cell(value) for item, value in rows}


def environment_table(groups):
    """Every recorded item of each distinct environment: groups is [(environment dict, [run labels])];
    one value column per environment."""
    per_env = [_environment_rows(env) for env, _ in groups]
    items = []
    for rows in per_env:
        items += [item for item in rows if item not in items]
    columns = ["value"] if len(groups) == 1 else [f"runs {', '.join(labels)}" for _, labels in groups]
    return Table("Recorded environment", ("item", *columns),
                 tuple((item, *(rows.get(item, DASH) for rows in per_env)) for item in items),
                 "l" * (1 + len(columns)),
                 notes=("env: thread and CPU variables that were set; numba threading_layer: None until the "
                        "run started Numba's thread pool.",))


# ---- full results ---------------------------------------------------------------------------------------

def results_table(run, measurement):
    """Every successful case of one measurement: the parameters that vary, then every scalar value."""
    cases = run.cases(measurement)
    if not cases:
        return None
    params = [k for k in PARAM_ORDER if any(k in c["params"] for c in cases)]
    for c in cases:
        params += [k for k in c["params"] if k not in params and k not in SKIPPED_PARAMS]
    varying = [k for k in params if len({str(c["params"].get(k)) for c in cases}) > 1 or k == "kind"]
    values = []
    for c in cases:
        values += [k for k, v in c["values"].items() if k not in values and not isinstance(v, (dict, list))]
    rows = tuple((*(cell(c["params"].get(k)) for k in varying), *(cell(c["values"].get(k)) for k in values),
                  num(c.get("seconds"), 3)) for c in cases)
    fixed = [f"{k}={c}" for k in params if k not in varying
             for c in [cell(cases[0]["params"].get(k))]]
    return Table(f"{run.label}: {measurement} ({len(cases)} cases)", (*varying, *values, "seconds"), rows,
                 "l" * len(varying) + "r" * (len(values) + 1), key_columns=len(varying),
                 notes=(f"Same in every row: {', '.join(fixed)}.",) if fixed else ())


def failures_table(runs):
    rows = tuple((run.label, c["id"], c["status"], (c.get("error") or DASH).splitlines()[0] if c.get("error") else DASH)
                 for run in runs for c in run.data["cases"] if c["status"] != "ok")
    if not rows:
        return None
    return Table("Cases without a result", ("run", "case", "status", "reason (first line)"), rows, "llll",
                 key_columns=2)
