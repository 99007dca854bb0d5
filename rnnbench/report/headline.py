"""Short sentences on a run's headline numbers, written from its data for the report's first page."""
import statistics

from .. import rundata as rd
from .tables import correctness, num, ratios, rel_diff_limit, times

PAR = 1.05            # ratios within this factor of 1 are "on par"
COSINE_TARGET = 0.99  # truncated BPTT "good enough" cosine to the full gradient


def _init_text(init):
    g = rd.gain(init)
    return f"gain {g:g}" if g is not None else f"init {init}"


def throughput_sentences(run):
    """Per kind (with how its data were drawn, where not the defaults, and its dtype, where the run has
    several) and other backend: the median time ratio to the reference backend; then correctness.
    For a single-backend run: the best share of the GEMM peak."""
    cases = run.cases("throughput")
    if not cases:
        return []
    problems = rd.problems(cases)
    out = []
    if len(run.backends) >= 2:
        reference = run.backends[0]
        several_dtypes = rd.dtype_text(cases) is None
        by = {}  # (kind, kind_text: the kind and how its data were drawn, dtype) -> backend -> ratios: not pooled
        for base, row in ratios(run):
            q = base["params"]
            group = (q["kind"], rd.kind_text(q), str(q.get("dtype")) if several_dtypes else "")
            for backend, (_, fb) in row.items():
                if fb is not None:
                    by.setdefault(group, {}).setdefault(backend, []).append(fb)
        for kind in rd.kind_order({k for k, _, _ in by}):
            # the default data first: 'lstm', 'lstm [identity]', 'lstm [identity, x*1e-38]'; then by dtype
            for group in sorted((g for g in by if g[0] == kind), key=lambda g: (len(g[1]), g[1:])):
                label = " ".join(group[1:]).strip()
                for backend in run.backends[1:]:
                    values = by[group].get(backend)
                    if not values:
                        continue
                    m = statistics.median(values)
                    n = f"median of {len(values)} problem{'s' if len(values) > 1 else ''}, forward+backward"
                    if m > PAR:
                        out.append(f"{reference} is {times(m)} faster than {backend} on the {label} cases ({n}).")
                    elif m < 1 / PAR:
                        out.append(f"{backend} is {times(1 / m)} faster than {reference} on the {label} cases ({n}).")
                    else:
                        out.append(f"{reference} and {backend} are on par on the {label} cases (ratio {m:.2f}, {n}).")
    checked = [correctness(per) for per in problems.values()]
    bad = sorted({b for _, backends in checked for b in backends})
    worst = max((w for w, _ in checked if w is not None), default=None)
    limits = ", ".join(sorted({f"{rel_diff_limit(c['params'].get('dtype')):g} for {c['params'].get('dtype')}"
                               for c in cases if rel_diff_limit(c["params"].get("dtype"))}))
    if bad:
        out.append(f"{', '.join(bad)} exceed the correctness limit ({limits}) against the numpy float64 "
                   "reference on some problem; see the ratio table.")
    elif worst is not None:
        out.append(f"Every timed result agrees with the numpy float64 reference (largest relative difference "
                   f"{worst:.1e}; limit {limits}).")
    if len(run.backends) == 1:
        best = max(cases, key=lambda c: c["values"].get("forward_backward_percent_of_peak") or -1)
        pct = best["values"].get("forward_backward_percent_of_peak")
        if rd.finite(pct):
            out.append(f"{run.backends[0]} reaches at most {num(pct, 2)}% of the measured GEMM peak "
                       f"(forward+backward, full FLOP count, on {rd.problem_label(best)}).")
    return out


def scaling_sentences(run):
    """Per backend and kind: the fitted exponents of time against each size that varies alone."""
    groups = rd.scaling_groups(run.cases("throughput"))
    slopes = {}
    for dim, _, _ in rd.DIMS:
        for backend, kind, _, points in groups.get(dim, []):
            slopes.setdefault((backend, kind), {}).setdefault(
                dim, rd.loglog_slope([p[0] for p in points], [p[1] for p in points]))
    return [f"{backend} {kind}: forward+backward time grows as "
            + ", ".join(f"{dim}^{s:.2f}" for dim, s in per.items()) + " (fitted log-log slopes)."
            for (backend, kind), per in slopes.items()]


def decay_sentences(run):
    """Per kind: the slowest measured decay (steps per factor e) and where the rate crosses zero."""
    longest = rd.longest_T(run.cases("decay"))
    rates = rd.rate_vs_gain(longest)
    crossings = {kind: rd.zero_crossings([p[0] for p in points], [p[1] for p in points])
                 for kind, points in rates.items() if len(points) >= 2}
    out = []
    for kind in rd.kind_order({k for k, _ in longest}):
        rated = [c for (k, _), c in longest.items() if k == kind and rd.finite(c["values"].get("rate"))
                 and c["values"]["rate"] != 0]
        if not rated:
            continue
        decaying = [c for c in rated if c["values"]["rate"] < 0]
        if decaying:  # the slowest decay: rate closest to 0 from below
            c = max(decaying, key=lambda c: c["values"]["rate"])
            verb = "shrink"
        else:
            c = min(rated, key=lambda c: c["values"]["rate"])
            verb = "grow"
        rate = c["values"]["rate"]
        text = (f"{kind} gradients {verb} by a factor e every {num(1 / abs(rate), 2)} steps at "
                f"{_init_text(c['params']['init'])} (rate {rate:+.3f} per step, T={c['params']['T']}"
                f"{', the slowest decay measured' if decaying and len(decaying) > 1 else ''})")
        zeros = crossings.get(kind)
        if zeros:
            text += f"; the fitted rate crosses zero at gain g≈{', '.join(f'{z:.2f}' for z in zeros)}"
            if len(zeros) == 1 and rates[kind][0][1] < 0 < rates[kind][-1][1]:
                text += " (vanishing below, exploding above)"
        out.append(text + ".")
    return out


def _first_K(points, target):
    return next((K for K, cosine, _ in points if rd.finite(cosine) and cosine >= target), None)


def tbptt_sentences(run):
    """Per kind and init: the smallest K whose cosine to full BPTT reaches COSINE_TARGET, per mode."""
    out = []
    for init, per_kind in rd.tbptt_rows(run.cases("tbptt")).items():
        for kind, entry in per_kind.items():
            parts = []
            for mode, name in (("kstep", "k-step"), ("chunk", "chunked")):
                points = entry.get(mode)
                if points:
                    K = _first_K(points, COSINE_TARGET)
                    parts.append(f"K={K} with {name} truncation" if K is not None
                                 else f"no K up to {points[-1][0]} with {name} truncation")
            if parts:
                out.append(f"{kind} ({init}, T={entry['T']}): the truncated gradient reaches cosine "
                           f"{COSINE_TARGET} to full BPTT at {' and '.join(parts)}.")
    return out


def failure_sentence(run):
    failed = [c for c in run.data["cases"] if c["status"] != "ok"]
    if not failed:
        return []
    return [f"{len(failed)} of {len(run.data['cases'])} cases have no result "
            f"({', '.join(sorted({c['status'] for c in failed}))}); they are listed in the appendix."]


def run_sentences(run):
    """Every headline sentence of one run, throughput first."""
    return (throughput_sentences(run) + scaling_sentences(run) + decay_sentences(run) + tbptt_sentences(run)
            + failure_sentence(run))
