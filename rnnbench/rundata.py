"""Selecting and grouping the cases of a loaded run (rnnbench.runs.load_run).

Pure data, no drawing: shared by the PNG figures (rnnbench.figures) and the
report (rnnbench.report), so a figure and the table or sentence beside it
always come from the same numbers. Only cases with status "ok" are used.
"""
import math

import numpy as np

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
BACKENDS = ("numba-cpu", "torch", "numpy", "numba-cuda")
# (short name, case field, axis label) of the sizes a throughput scaling sweep varies
DIMS = (("T", "T", "sequence length T (steps, log)"), ("H", "hidden_size", "hidden size H (log)"),
        ("B", "batch", "batch size B (log)"))
TBPTT_MODES = ("kstep", "chunk")


# ---- values ---------------------------------------------------------------------------------------------

def finite(value):
    """True for a finite int or float (not a bool, str or None)."""
    return value is not None and not isinstance(value, (bool, str)) and math.isfinite(value)


def positive(values):
    """Floats with None, non-finite and non-positive entries as NaN (gaps on a log axis)."""
    out = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


def has_points(array):
    return bool(np.isfinite(array).any())


def loglog_slope(xs, ys):
    """Least-squares slope of ln y against ln x."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


# ---- cases, kinds, backends, inits ----------------------------------------------------------------------

def ok_cases(data, measurement):
    """The run's cases of ``measurement`` with status "ok", in run order."""
    return [c for c in data.get("cases", []) if c.get("status") == "ok" and c.get("measurement") == measurement]


def longest_T(cases):
    """{(kind, init): the case with the longest T} (the first such case on ties)."""
    longest = {}
    for c in cases:
        key = (c["params"]["kind"], c["params"]["init"])
        if key not in longest or c["params"]["T"] > longest[key]["params"]["T"]:
            longest[key] = c
    return longest


def _known_first(names, known):
    return [n for n in known if n in names] + sorted(set(names) - set(known))


def kind_order(kinds):
    """rnn_tanh, rnn_relu, lstm, gru (those present), then any other kind alphabetically."""
    return _known_first(set(kinds), KINDS)


def backend_order(backends):
    """numba-cpu, torch, numpy, numba-cuda (those present), then any other alphabetically."""
    return _known_first(set(backends), BACKENDS)


def parse_init(init):
    """'orthogonal:1.5' -> ('orthogonal', 1.5); 'orthogonal' -> ('orthogonal', 1.0); unknown values -> None."""
    name, sep, value = str(init).partition(":")
    if not sep:
        return name, 1.0 if name == "orthogonal" else None
    try:
        return name, float(value)
    except ValueError:
        return name, None


def gain(init):
    """The orthogonal gain g of an init string, or None when it is not orthogonal."""
    name, value = parse_init(init)
    return value if name == "orthogonal" and value is not None else None


INIT_FAMILIES = ("default", "orthogonal", "identity", "forget_bias")


def init_sort_key(init):
    """default, orthogonal by gain, identity, forget_bias by value, then others."""
    name, value = parse_init(init)
    family = INIT_FAMILIES.index(name) if name in INIT_FAMILIES else len(INIT_FAMILIES)
    return (family, name, -math.inf if value is None else value, str(init))


def T_text(Ts, longest=False):
    """'T=100' for one T, else 'T=10..100' ('longest T of each, T=10..100' with ``longest``)."""
    Ts = sorted(set(Ts))
    if len(Ts) == 1:
        return f"T={Ts[0]}"
    return f"{'longest T of each, ' if longest else ''}T={Ts[0]}..{Ts[-1]}"


# ---- decay ----------------------------------------------------------------------------------------------

def zero_crossings(gains, rates):
    """Gains where the piecewise-linear rate(g) crosses 0 (linear interpolation)."""
    out = []
    for (g0, r0), (g1, r1) in zip(zip(gains, rates), zip(gains[1:], rates[1:])):
        if r0 == 0 and (not out or out[-1] != g0):
            out.append(g0)
        elif r0 * r1 < 0:
            out.append(g0 + (0 - r0) * (g1 - g0) / (r1 - r0))
    if rates and rates[-1] == 0 and len(rates) > 1:
        out.append(gains[-1])
    return out


def rate_vs_gain(longest):
    """{kind: [(gain, rate, T)] sorted by gain} of the orthogonal inits with a finite fitted rate, in kind order."""
    by_kind = {}
    for (kind, init), c in longest.items():
        g, rate = gain(init), c["values"].get("rate")
        if g is not None and finite(rate):
            by_kind.setdefault(kind, {})[g] = (rate, c["params"]["T"])
    return {kind: [(g, *by_kind[kind][g]) for g in sorted(by_kind[kind])]
            for kind in kind_order(by_kind)}


def grad_step0_lines(cases):
    """{kind: {init: [(T, grad_step0)] sorted by T}} of the positive finite values, kinds and inits in order."""
    lines = {}
    for c in cases:
        value = c["values"].get("grad_step0")
        if finite(value) and value > 0:
            lines.setdefault(c["params"]["kind"], {}).setdefault(c["params"]["init"], []).append(
                (c["params"]["T"], value))
    return {kind: {init: sorted(lines[kind][init]) for init in sorted(lines[kind], key=init_sort_key)}
            for kind in kind_order(lines)}


# ---- truncated BPTT -------------------------------------------------------------------------------------

def tbptt_rows(cases):
    """{init: {kind: {'T', 'full', mode: [(K, cosine, rel_error)] sorted by K}}} at the longest T of each
    (kind, init); 'full' says whether the run has the full-BPTT case. Inits and kinds in order."""
    longest = {key: c["params"]["T"] for key, c in longest_T(cases).items()}
    rows = {}
    for c in cases:
        kind, init, T = c["params"]["kind"], c["params"]["init"], c["params"]["T"]
        if T != longest[(kind, init)]:
            continue
        v = c["values"]
        mode = v.get("mode") or str(c["params"].get("truncation", "")).partition(":")[0]
        entry = rows.setdefault(init, {}).setdefault(kind, {"T": T, "full": False})
        if mode == "full":
            entry["full"] = True
        elif mode in TBPTT_MODES and finite(v.get("K")):
            entry.setdefault(mode, []).append((v["K"], v.get("cosine"), v.get("rel_error")))
    for per_kind in rows.values():
        for entry in per_kind.values():
            for mode in TBPTT_MODES:
                if mode in entry:
                    entry[mode].sort(key=lambda p: p[0])
    return {init: {kind: rows[init][kind] for kind in kind_order(rows[init])}
            for init in sorted(rows, key=init_sort_key)}


# ---- throughput -----------------------------------------------------------------------------------------

def problem_key(c):
    """The problem a throughput case times: params['case'] (shared by all backends of a compare), else its sizes
    and data."""
    q = c["params"]
    return q.get("case") or (q["kind"], q["hidden_size"], q["batch"], q["T"], q.get("dtype"), q.get("num_layers", 1),
                             q.get("init", "default"), q.get("input_scale", 1.0))


def data_text(q):
    """How a throughput case's parameters and input were drawn, where not the
    defaults (PyTorch's init, x ~ N(0, 1)): 'identity, x*1e-38'; else ''."""
    parts = [q["init"]] if q.get("init", "default") != "default" else []
    scale = q.get("input_scale", 1.0)
    return ", ".join(parts + ([f"x*{scale:g}"] if scale != 1.0 else []))


def kind_text(q):
    """The kind, with :func:`data_text` in brackets where there is one: 'lstm [identity, x*1e-38]'."""
    data = data_text(q)
    return f"{q['kind']} [{data}]" if data else q["kind"]


def problem_label(c, with_dtype=False):
    """'lstm H=256 B=32 T=100' (plus ' L=2' for stacks, the dtype on request, and how the data were drawn
    where not the defaults)."""
    q = c["params"]
    label = f"{kind_text(q)} H={q['hidden_size']} B={q['batch']} T={q['T']}"
    if q.get("num_layers", 1) != 1:
        label += f" L={q['num_layers']}"
    return label + (f" {q.get('dtype')}" if with_dtype else "")


def fb_ms(c):
    """Forward+backward median time in ms, or None when missing or not positive."""
    value = c["values"].get("forward_backward_ms")
    return value if finite(value) and value > 0 else None


def dtype_text(cases):
    """The dtype shared by every case, or None when they differ."""
    dtypes = sorted({str(c["params"].get("dtype")) for c in cases})
    return dtypes[0] if len(dtypes) == 1 else None


def problems(cases):
    """{problem key: {backend: case}} of the cases with a forward+backward time, in order of first appearance
    (the first case of a backend on a problem)."""
    out = {}
    for c in cases:
        if fb_ms(c) is not None:
            out.setdefault(problem_key(c), {}).setdefault(c["params"]["backend"], c)
    return out


def kind_family(kind):
    """'rnn' for the vanilla RNN (rnn_tanh and rnn_relu, pooled as the speed targets pool them), else the kind."""
    return "rnn" if kind in ("rnn_tanh", "rnn_relu") else kind


def median_time_ratios(cases, backends):
    """The speed targets' measure: per group of problems and per backend b of ``backends[1:]``, the median
    over the group's problems of backends[0]'s time / b's time (below 1: backends[0] faster), forward and
    forward+backward. A group is a kind family (:func:`kind_family`) with its dtype, input mode and data
    (problems on other data or in another mode are not pooled with the default ones).
    -> [(group label, dtype, b, problems, forward median or None, forward+backward median or None)] in
    kind order, then the shorter labels (the default data) first, then dtype and backend order; a problem
    counts where both have a forward+backward time."""
    reference, groups = backends[0], {}
    for per in problems(cases).values():
        base = per.get(reference)
        if base is None:
            continue
        q = base["params"]
        family, mode = kind_family(q["kind"]), q.get("input_mode", "linear")
        label = kind_text({**q, "kind": family if mode == "linear" else f"{family} {mode}"})
        for b in backends[1:]:
            if b in per:
                ratios = groups.setdefault((family, label, str(q.get("dtype")), b), ([], []))
                for phase, values in zip(("forward_ms", "forward_backward_ms"), ratios):
                    mine, other = base["values"].get(phase), per[b]["values"].get(phase)
                    if finite(mine) and finite(other) and other > 0:
                        values.append(mine / other)
    order = {k: i for i, k in enumerate(kind_order({key[0] for key in groups}))}
    rank = {b: i for i, b in enumerate(backends)}
    return [(label, dtype, b, len(fb), float(np.median(fwd)) if fwd else None, float(np.median(fb)) if fb else None)
            for (_, label, dtype, b), (fwd, fb) in sorted(groups.items(), key=lambda item: (
                order[item[0][0]], len(item[0][1]), item[0][1], item[0][2], rank[item[0][3]]))]


def scaling_groups(cases):
    """{dim: [(backend, kind, fixed_text, [(size, ms)])]} for groups of cases varying only in dim (T, H or B),
    with >= 3 sizes; ms is the forward+backward time of the first case of a size."""
    out = {}
    for dim, field, _ in DIMS:
        others = [(d, f) for d, f, _ in DIMS if d != dim]
        groups = {}
        for c in cases:
            ms = fb_ms(c)
            if ms is None:
                continue
            q = c["params"]
            key = (q["backend"], q["kind"], q.get("dtype"), q.get("num_layers", 1),
                   tuple(q[f] for _, f in others))
            groups.setdefault(key, {}).setdefault(q[field], ms)
        found = []
        for (backend, kind, _, _, fixed), per in groups.items():
            if len(per) >= 3:
                text = " ".join(f"{d}={v}" for (d, _), v in zip(others, fixed))
                found.append((backend, kind, text, sorted(per.items())))
        if found:
            out[dim] = found
    return out
