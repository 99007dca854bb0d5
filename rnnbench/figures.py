"""PNG figures of a run (``write_figures``), drawn with matplotlib's Agg canvas.

Figures, each written only when the run has data for it (cases with status
"ok" only; never an empty axes):

- ``decay_norm_vs_lag_<kind>.png``: ||ds_{T-1}/ds_{T-1-l}|| against lag l
  (log y), one line per init at its longest T, with Pascanu et al.'s bound
  sigma_1^l dashed in the init's colour where it applies (vanilla RNNs).
- ``decay_rate_vs_gain.png``: fitted decay rate per step against the
  orthogonal gain g, one line per kind, with each line's zero crossing
  (interpolated) marked; written when some kind has two gains or more.
- ``decay_grad_step0_vs_T.png``: gradient norm reaching step 0 against T
  (log-log), one panel per kind, one line per init.
- ``decay_temporal_<kind>.png``: norm of the parameter gradient coming from
  lag l (Pascanu et al.'s temporal decomposition), one line per init.
- ``tbptt_vs_K.png``: cosine similarity and relative error of truncated BPTT
  against full BPTT versus K, k-step solid/circles and chunk dashed/squares,
  one colour per kind, one row of panels per init.

- ``throughput_bars.png`` (``throughput_bars_<n>.png`` past 20 problems):
  forward+backward time per problem (log x), one bar per backend.
- ``throughput_gflops_vs_H.png``: forward+backward GFLOP/s (full count)
  against H (log2 x), colour by backend, marker by kind; written when the
  run has two H or more.
- ``throughput_scaling.png``: log-log forward+backward time against T, H or
  B where only that size varies (>= 3 sizes, the rest fixed), one panel per
  size, the fitted log-log slope in each label.

Colours: one fixed colour per kind (KIND_COLORS) and, in per-kind figures,
one per init (orthogonal gains along a sequential colormap in gain order,
"default" grey, "identity" and "forget_bias:*" their own colours), the same in
every figure of a run; in throughput figures one fixed colour per backend
(BACKEND_COLORS). Only the object API (Figure + FigureCanvasAgg) is
used, so the user's pyplot backend is left alone; output is byte-for-byte
deterministic (no 'Software' PNG metadata).
"""
import math
import re
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogFormatter, MaxNLocator, NullFormatter

KIND_COLORS = {"rnn_tanh": "tab:blue", "rnn_relu": "tab:orange", "lstm": "tab:green", "gru": "tab:red"}
BACKEND_COLORS = {"numba-cpu": "#1b4f9c", "torch": "#e8590c", "numpy": "#6b6b6b", "numba-cuda": "#7b2cbf"}
_SPARE_BACKEND_COLORS = ("#2b8a3e", "#c2255c", "#0b7285", "#5c940d")
_SPARE_COLORS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
DEFAULT_INIT_COLOR = "0.45"
IDENTITY_COLOR = "tab:red"
FORGET_BIAS_COLORS = ("tab:orange", "tab:brown", "tab:pink", "tab:olive")
OTHER_INIT_COLORS = ("tab:cyan", "tab:purple", "tab:gray")
GAIN_CMAP, GAIN_RANGE = "viridis", (0.0, 0.85)  # stop before viridis' pale yellow end

FIGSIZE = (7.0, 4.5)
WIDE_FIGSIZE = (8.6, 4.5)  # room for a legend outside the axes
DPI = 120
MAX_LEGEND_INSIDE = 5
MAX_BAR_PROBLEMS = 20
LAG_LABEL = "lag l (steps)"


# ---- data helpers ---------------------------------------------------------------------------------------

def _ok(data, measurement):
    return [c for c in data.get("cases", []) if c.get("status") == "ok" and c.get("measurement") == measurement]


def _longest_T(cases):
    """{(kind, init): the case with the longest T} (the first such case on ties)."""
    longest = {}
    for c in cases:
        key = (c["params"]["kind"], c["params"]["init"])
        if key not in longest or c["params"]["T"] > longest[key]["params"]["T"]:
            longest[key] = c
    return longest


def _positive(values):
    """Floats with None, non-finite and non-positive entries as NaN (gaps on a log axis)."""
    out = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


def _finite(value):
    return value is not None and not isinstance(value, (bool, str)) and math.isfinite(value)


def _has_points(array):
    return bool(np.isfinite(array).any())


def _kind_order(kinds):
    known = [k for k in KIND_COLORS if k in kinds]
    return known + sorted(set(kinds) - set(KIND_COLORS))


def _kind_color(kind, kinds=()):
    if kind in KIND_COLORS:
        return KIND_COLORS[kind]
    extra = sorted(set(kinds) - set(KIND_COLORS)) or [kind]
    return _SPARE_COLORS[extra.index(kind) % len(_SPARE_COLORS)] if kind in extra else _SPARE_COLORS[0]


def _parse_init(init):
    """'orthogonal:1.5' -> ('orthogonal', 1.5); 'orthogonal' -> ('orthogonal', 1.0); unknown values -> None."""
    name, sep, value = str(init).partition(":")
    if not sep:
        return name, 1.0 if name == "orthogonal" else None
    try:
        return name, float(value)
    except ValueError:
        return name, None


def _gain(init):
    """The orthogonal gain g of an init string, or None when it is not orthogonal."""
    name, value = _parse_init(init)
    return value if name == "orthogonal" and value is not None else None


_FAMILY_ORDER = {"default": 0, "orthogonal": 1, "identity": 2, "forget_bias": 3}


def _init_key(init):
    name, value = _parse_init(init)
    return (_FAMILY_ORDER.get(name, 4), name, -math.inf if value is None else value, str(init))


def _init_colors(inits):
    """Deterministic {init: colour} for a set of init strings (see the module docstring)."""
    inits = sorted(set(inits), key=_init_key)
    gains = sorted({_gain(i) for i in inits if _gain(i) is not None})
    cmap = colormaps[GAIN_CMAP]
    lo, hi = GAIN_RANGE
    forget = [i for i in inits if _parse_init(i)[0] == "forget_bias"]
    other = [i for i in inits if _parse_init(i)[0] not in _FAMILY_ORDER]
    colors = {}
    for init in inits:
        name = _parse_init(init)[0]
        if _gain(init) is not None:
            rank = gains.index(_gain(init))
            colors[init] = cmap(lo + (hi - lo) * (rank / (len(gains) - 1) if len(gains) > 1 else 0.5))
        elif name == "default":
            colors[init] = DEFAULT_INIT_COLOR
        elif name == "identity":
            colors[init] = IDENTITY_COLOR
        elif name == "forget_bias":
            colors[init] = FORGET_BIAS_COLORS[forget.index(init) % len(FORGET_BIAS_COLORS)]
        else:
            colors[init] = OTHER_INIT_COLORS[other.index(init) % len(OTHER_INIT_COLORS)]
    return colors


def _T_text(cases):
    """'T=100' when every case shares T, else 'T=10..100' (each line's T is then in the legend)."""
    Ts = sorted({c["params"]["T"] for c in cases})
    return f"T={Ts[0]}" if len(Ts) == 1 else f"T={Ts[0]}..{Ts[-1]}"


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))


# ---- drawing helpers ------------------------------------------------------------------------------------

def _new_figure(figsize=FIGSIZE):
    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _legend(ax, handles=None, labels=None, outside=None, **kwargs):
    """Legend inside at loc='best' for few entries, else outside to the right of ``ax``."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if outside is None:
        outside = len(handles) > MAX_LEGEND_INSIDE
    if outside:
        return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                         fontsize="small", **kwargs)
    return ax.legend(handles, labels, loc="best", fontsize="small", **kwargs)


def _plain_log_ticks(axis, values):
    """Ticks of a log axis at the values used, written plainly (10, 30, 100 rather than 10^1, 10^2)."""
    axis.set_major_locator(FixedLocator(sorted(set(values))))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def _save(fig, folder, name):
    path = Path(folder) / name
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path


def _lag_lines(ax, cases, key, colors):
    """One line of series[key] against lag per case (in init order); returns the cases drawn."""
    drawn = []
    for (kind, init), c in sorted(cases.items(), key=lambda kv: _init_key(kv[0][1])):
        y = _positive(c.get("series", {}).get(key) or [])
        if _has_points(y):
            ax.semilogy(np.arange(len(y)), y, color=colors[init], lw=1.6, label=init)
            drawn.append(c)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    if len({c["params"]["T"] for c in drawn}) > 1:  # name each line's T only when they differ
        for line, c in zip(ax.get_lines(), drawn):
            line.set_label(f"{c['params']['init']} (T={c['params']['T']})")
    return drawn


# ---- the figures ----------------------------------------------------------------------------------------

def fig_norm_vs_lag(kind, cases, colors, folder):
    """Jacobian norm against lag for one kind, with Pascanu's bound where it applies."""
    fig = _new_figure()
    ax = fig.add_subplot()
    drawn = _lag_lines(ax, cases, "jacobian_norm", colors)
    if not drawn:
        return None
    norms = np.concatenate([_positive(c["series"]["jacobian_norm"]) for c in drawn])
    # an exploding bound would squash the measured lines: keep the axis on the data (in decades, so
    # nothing overflows) and let bounds run off the top, clipped just beyond it
    lo, hi = np.log10(np.nanmin(norms)), np.log10(np.nanmax(norms))
    top = min(hi + (1.0 if hi - lo > 1 else 0.5), 300.0)
    bound_drawn = False
    for c in drawn:
        bound = _positive(c["series"].get("pascanu_bound") or [])
        if _has_points(bound):
            ax.semilogy(np.arange(len(bound)), np.minimum(bound, 10.0 ** (top + 1)),
                        color=colors[c["params"]["init"]], lw=1.0, ls="--")
            bound_drawn = True
    ax.set_ylim(10.0 ** (lo - 0.3), 10.0 ** top)
    handles, labels = ax.get_legend_handles_labels()
    if bound_drawn:
        handles.append(Line2D([], [], color="0.3", lw=1.0, ls="--"))
        labels.append(r"Pascanu bound ($\sigma_1^{\,l}$)")
    ax.set_xlabel(LAG_LABEL)
    ax.set_ylabel(r"$\|\partial s_{T-1}\,/\,\partial s_{T-1-l}\|_2$")
    ax.set_title(f"{kind}: state Jacobian norm vs lag ({_T_text(drawn)})", fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, handles, labels)
    return _save(fig, folder, f"decay_norm_vs_lag_{_safe(kind)}.png")


def _zero_crossings(gains, rates):
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


def fig_rate_vs_gain(longest, folder):
    """Fitted decay rate against orthogonal gain, one line per kind, zero crossings marked."""
    by_kind = {}
    for (kind, init), c in longest.items():
        g, rate = _gain(init), c["values"].get("rate")
        if g is not None and _finite(rate):
            by_kind.setdefault(kind, {})[g] = (rate, c["params"]["T"])
    if not any(len(points) >= 2 for points in by_kind.values()):
        return None
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.axhline(0.0, color="0.25", lw=0.8)
    ax.axvline(1.0, color="0.4", lw=1.0, ls=":")
    crossed = False
    kinds = _kind_order(by_kind)
    for kind in kinds:
        gains = sorted(by_kind[kind])
        rates = [by_kind[kind][g][0] for g in gains]
        color = _kind_color(kind, kinds)
        zeros = _zero_crossings(gains, rates)
        label = kind
        if zeros:
            label += f" (crosses 0 at g≈{', '.join(f'{z:.2f}' for z in zeros)})"
        ax.plot(gains, rates, color=color, marker="o", ms=5, lw=1.6, label=label)
        if zeros:
            ax.plot(zeros, [0.0] * len(zeros), ls="none", marker="D", ms=8, mfc="white", mec=color, mew=1.8)
            crossed = True
    handles, labels = ax.get_legend_handles_labels()
    if crossed:
        handles.append(Line2D([], [], ls="none", marker="D", ms=7, mfc="white", mec="0.3", mew=1.5))
        labels.append("zero crossing (interpolated)")
    Ts = [T for points in by_kind.values() for _, T in points.values()]
    T_text = f"T={Ts[0]}" if len(set(Ts)) == 1 else f"longest T of each, T={min(Ts)}..{max(Ts)}"
    ax.set_xlabel("orthogonal gain g")
    ax.set_ylabel("fitted rate (per step)")
    ax.set_title(f"Decay rate of the Jacobian norm vs gain ({T_text})")
    ax.grid(True, alpha=0.3)
    ax.text(1.0, 0.98, " g = 1", transform=ax.get_xaxis_transform(), ha="left", va="top", fontsize="small",
            color="0.3")
    _legend(ax, handles, labels)
    return _save(fig, folder, "decay_rate_vs_gain.png")


def fig_grad_step0_vs_T(cases, colors, folder):
    """Gradient norm reaching step 0 against T (log-log), one panel per kind, one line per init."""
    lines = {}  # kind -> init -> [(T, value)]
    for c in cases:
        value = c["values"].get("grad_step0")
        if _finite(value) and value > 0:
            lines.setdefault(c["params"]["kind"], {}).setdefault(c["params"]["init"], []).append(
                (c["params"]["T"], value))
    if not lines:
        return None
    kinds = _kind_order(lines)
    ncols = 1 if len(kinds) == 1 else 2
    nrows = math.ceil(len(kinds) / ncols)
    inits = sorted({i for per_kind in lines.values() for i in per_kind}, key=_init_key)
    outside = len(inits) > MAX_LEGEND_INSIDE or len(kinds) > 1
    width = WIDE_FIGSIZE[0] if outside else FIGSIZE[0]
    fig = _new_figure((width, FIGSIZE[1] if nrows == 1 else 3.2 * nrows))
    axes = []
    for i, kind in enumerate(kinds):
        ax = fig.add_subplot(nrows, ncols, i + 1, sharey=None)
        for init in sorted(lines[kind], key=_init_key):
            points = sorted(lines[kind][init])
            ax.loglog([T for T, _ in points], [v for _, v in points], color=colors[init], marker="o", ms=4,
                      lw=1.5, label=init)
        _plain_log_ticks(ax.xaxis, [T for points in lines[kind].values() for T, _ in points])
        ax.set_title(kind, fontsize="medium")
        ax.set_xlabel("sequence length T (steps)")
        if i % ncols == 0:
            ax.set_ylabel(r"$\|\partial L/\partial s_0\|_2$")
        ax.grid(True, which="major", alpha=0.3)
        axes.append(ax)
    handles = [Line2D([], [], color=colors[i], marker="o", ms=4, lw=1.5) for i in inits]
    # one legend for the figure, beside the top-right panel
    _legend(axes[min(ncols, len(axes)) - 1], handles, inits, outside=outside, title="init")
    fig.suptitle("Gradient reaching step 0 vs T (unit loss gradient at step T−1)")
    return _save(fig, folder, "decay_grad_step0_vs_T.png")


def fig_temporal(kind, cases, colors, folder):
    """Norm of the parameter gradient coming from lag l, one line per init."""
    fig = _new_figure()
    ax = fig.add_subplot()
    drawn = _lag_lines(ax, cases, "temporal", colors)
    if not drawn:
        return None
    ax.set_xlabel(LAG_LABEL)
    ax.set_ylabel(r"$\|\partial L/\partial\theta_{T-1-l}\|_2$")
    ax.set_title(f"{kind}: share of ∂L/∂W from lag l, loss at step T−1 ({_T_text(drawn)})", fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax)
    return _save(fig, folder, f"decay_temporal_{_safe(kind)}.png")


_MODE_STYLE = {"kstep": dict(ls="-", marker="o"), "chunk": dict(ls="--", marker="s")}
_MODE_NAME = {"kstep": "k-step", "chunk": "chunk"}


def _tbptt_rows(cases):
    """{init: {kind: {'T', 'full', mode: [(K, cosine, rel_error)]}}} at the longest T of each (kind, init)."""
    longest = {key: c["params"]["T"] for key, c in _longest_T(cases).items()}
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
        elif mode in _MODE_STYLE and _finite(v.get("K")):
            entry.setdefault(mode, []).append((v["K"], v.get("cosine"), v.get("rel_error")))
    return rows


def fig_tbptt_vs_K(cases, folder):
    """Cosine similarity and relative error of truncated BPTT against K; one row of panels per init."""
    panels = []  # (init, [(which, kind_lines)]) for rows with something to draw
    rows = _tbptt_rows(cases)
    for init in sorted(rows, key=_init_key):
        per_kind = rows[init]
        row = []
        for which, index in (("cosine", 1), ("rel_error", 2)):
            found = False
            for entry in per_kind.values():
                for mode in _MODE_STYLE:
                    ys = [p[index] for p in entry.get(mode, [])]
                    found |= any(_finite(y) and (which == "cosine" or y > 0) for y in ys)
            if found:
                row.append(which)
        if row:
            panels.append((init, row, per_kind))
    if not panels:
        return None
    all_kinds = _kind_order({k for _, _, per_kind in panels for k in per_kind})
    ncols = max(len(row) for _, row, _ in panels)
    fig = _new_figure((10.0 if ncols == 2 else WIDE_FIGSIZE[0], 4.2 * len(panels) if len(panels) > 1 else 4.5))
    Ts = sorted({e["T"] for _, _, per_kind in panels for e in per_kind.values()})
    any_full = False
    legend_ax = None
    for r, (init, row, per_kind) in enumerate(panels):
        for col, which in enumerate(row):
            ax = fig.add_subplot(len(panels), ncols, r * ncols + col + 1)
            index = 1 if which == "cosine" else 2
            for kind in _kind_order(per_kind):
                entry = per_kind[kind]
                for mode, style in _MODE_STYLE.items():
                    points = sorted(entry.get(mode, []))
                    ks = [p[0] for p in points]
                    ys = [p[index] if _finite(p[index]) and (which == "cosine" or p[index] > 0) else np.nan
                          for p in points]
                    if _has_points(np.asarray(ys, dtype=np.float64)):
                        ax.plot(ks, ys, color=_kind_color(kind, all_kinds), ms=5, lw=1.5, **style)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis, [p[0] for e in per_kind.values() for m in _MODE_STYLE
                                        for p in e.get(m, [])])
            ax.set_xlabel("truncation K (steps)")
            if which == "cosine":
                if any(e["full"] for e in per_kind.values()):
                    ax.axhline(1.0, color="0.35", lw=1.0, ls=":")
                    any_full = True
                ax.set_ylabel("cosine similarity to full BPTT")
                ax.set_title(f"cosine similarity, init {init}", fontsize="medium")
            else:
                ax.set_yscale("log")
                ax.set_ylabel(r"relative error $\|g_K - g\|\,/\,\|g\|$")
                ax.set_title(f"relative error, init {init}", fontsize="medium")
            ax.grid(True, which="major", alpha=0.3)
            if r == 0 and col == len(row) - 1:
                legend_ax = ax
    handles = [Line2D([], [], color=_kind_color(k, all_kinds), lw=2.5) for k in all_kinds]
    labels = list(all_kinds)
    for mode, style in _MODE_STYLE.items():
        handles.append(Line2D([], [], color="0.2", ms=5, lw=1.5, **style))
        labels.append(_MODE_NAME[mode])
    if any_full:
        handles.append(Line2D([], [], color="0.35", lw=1.0, ls=":"))
        labels.append("full BPTT (cosine 1)")
    _legend(legend_ax, handles, labels, outside=True)
    T_text = f"T={Ts[0]}" if len(Ts) == 1 else f"longest T of each, T={Ts[0]}..{Ts[-1]}"
    fig.suptitle(f"Truncated BPTT against full BPTT vs truncation K ({T_text})")
    return _save(fig, folder, "tbptt_vs_K.png")


# ---- throughput figures ---------------------------------------------------------------------------------

_KIND_MARKERS = {"rnn_tanh": "o", "rnn_relu": "s", "lstm": "^", "gru": "D"}
_SPARE_MARKERS = ("v", "P", "X", "*")
_DIMS = (("T", "T", "sequence length T (steps, log)"), ("H", "hidden_size", "hidden size H (log)"),
         ("B", "batch", "batch size B (log)"))
_FIXED_STYLES = ("-", "--", ":", "-.")


def _backend_order(backends):
    known = [b for b in BACKEND_COLORS if b in backends]
    return known + sorted(set(backends) - set(BACKEND_COLORS))


def _backend_color(backend, backends=()):
    if backend in BACKEND_COLORS:
        return BACKEND_COLORS[backend]
    extra = sorted(set(backends) - set(BACKEND_COLORS)) or [backend]
    return _SPARE_BACKEND_COLORS[extra.index(backend) % len(_SPARE_BACKEND_COLORS)] if backend in extra \
        else _SPARE_BACKEND_COLORS[0]


def _kind_marker(kind, kinds=()):
    if kind in _KIND_MARKERS:
        return _KIND_MARKERS[kind]
    extra = sorted(set(kinds) - set(_KIND_MARKERS)) or [kind]
    return _SPARE_MARKERS[extra.index(kind) % len(_SPARE_MARKERS)] if kind in extra else _SPARE_MARKERS[0]


def _problem_key(c):
    """The problem a throughput case times: params['case'] (shared by all backends of a compare), else its sizes."""
    q = c["params"]
    return q.get("case") or (q["kind"], q["hidden_size"], q["batch"], q["T"], q.get("dtype"), q.get("num_layers", 1))


def _problem_label(c, with_dtype=False):
    q = c["params"]
    label = f"{q['kind']} H={q['hidden_size']} B={q['batch']} T={q['T']}"
    if q.get("num_layers", 1) != 1:
        label += f" L={q['num_layers']}"
    return label + (f" {q.get('dtype')}" if with_dtype else "")


def _fb_ms(c):
    value = c["values"].get("forward_backward_ms")
    return value if _finite(value) and value > 0 else None


def _dtype_text(cases):
    dtypes = sorted({str(c["params"].get("dtype")) for c in cases})
    return dtypes[0] if len(dtypes) == 1 else None


def fig_throughput_bars(cases, folder):
    """Grouped horizontal bars of forward+backward time per problem, one bar per backend (log x);
    split into files of at most MAX_BAR_PROBLEMS problems, in order of first appearance."""
    problems = {}  # key -> {backend: case}, insertion-ordered
    for c in cases:
        if _fb_ms(c) is not None:
            problems.setdefault(_problem_key(c), {}).setdefault(c["params"]["backend"], c)
    if not problems:
        return []
    backends = _backend_order({b for per in problems.values() for b in per})
    dtype = _dtype_text(cases)
    keys = list(problems)
    chunks = [keys[i:i + MAX_BAR_PROBLEMS] for i in range(0, len(keys), MAX_BAR_PROBLEMS)]
    written = []
    for n, chunk in enumerate(chunks, 1):
        height = 0.8 / len(backends)
        fig = _new_figure((WIDE_FIGSIZE[0], max(FIGSIZE[1], 1.6 + len(chunk) * (0.22 + 0.12 * len(backends)))))
        ax = fig.add_subplot()
        for j, backend in enumerate(backends):
            ys, widths = [], []
            for i, key in enumerate(chunk):
                c = problems[key].get(backend)
                if c is not None:
                    ys.append(i - 0.4 + height * (j + 0.5))
                    widths.append(_fb_ms(c))
            if ys:
                ax.barh(ys, widths, height=height * 0.92, color=_backend_color(backend, backends), label=backend)
        ax.set_xscale("log")
        _plain_log_labels(ax.xaxis)
        ax.set_yticks(range(len(chunk)))
        ax.set_yticklabels([_problem_label(next(iter(problems[k].values())), dtype is None) for k in chunk],
                           fontsize="small")
        ax.set_ylim(len(chunk) - 0.5, -0.5)  # first problem on top
        ax.set_xlabel("forward + backward time (ms, log scale)")
        ax.grid(True, axis="x", which="both", alpha=0.3)
        part = f", part {n}/{len(chunks)}" if len(chunks) > 1 else ""
        ax.set_title(f"Forward+backward time per problem{f' ({dtype})' if dtype else ''}{part}",
                     fontsize="medium")
        _legend(ax, outside=True, title="backend")
        name = "throughput_bars.png" if len(chunks) == 1 else f"throughput_bars_{n}.png"
        written.append(_save(fig, folder, name))
    return written


def fig_throughput_gflops_vs_H(cases, folder):
    """Forward+backward GFLOP/s (full count) against H (log2 x): colour by backend, marker by kind;
    a marker per case, a line through the median of each H."""
    points = {}  # (backend, kind) -> H -> [gflops]
    for c in cases:
        g = c["values"].get("forward_backward_gflops_full")
        if _finite(g) and g > 0:
            q = c["params"]
            points.setdefault((q["backend"], q["kind"]), {}).setdefault(q["hidden_size"], []).append(g)
    Hs = sorted({H for per in points.values() for H in per})
    if len(Hs) < 2:
        return None
    backends = _backend_order({b for b, _ in points})
    kinds = _kind_order({k for _, k in points})
    fig = _new_figure(WIDE_FIGSIZE)
    ax = fig.add_subplot()
    for backend in backends:
        for kind in kinds:
            per = points.get((backend, kind))
            if not per:
                continue
            color, marker = _backend_color(backend, backends), _kind_marker(kind, kinds)
            xs = sorted(per)
            ax.plot(xs, [float(np.median(per[H])) for H in xs], color=color, lw=1.3, alpha=0.8)
            allx = [H for H in xs for _ in per[H]]
            ally = [g for H in xs for g in per[H]]
            ax.plot(allx, ally, ls="none", marker=marker, ms=6, color=color, mec="white", mew=0.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_log_labels(ax.yaxis)
    _plain_log_ticks(ax.xaxis, Hs)
    ax.set_xlabel("hidden size H (log2 scale)")
    ax.set_ylabel("forward + backward GFLOP/s (full count, log)")
    dtype = _dtype_text(cases)
    ax.set_title(f"Throughput vs hidden size{f' ({dtype})' if dtype else ''}; line: median over B, T",
                 fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    handles = [Line2D([], [], color=_backend_color(b, backends), lw=2.5) for b in backends]
    handles += [Line2D([], [], ls="none", marker=_kind_marker(k, kinds), color="0.3", ms=6) for k in kinds]
    _legend(ax, handles, backends + kinds, outside=True)
    return _save(fig, folder, "throughput_gflops_vs_H.png")


class _PlainLogFormatter(LogFormatter):
    """LogFormatter's choice of ticks to label, each written plainly (0.3, 20, 100)."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def _plain_log_labels(axis):
    """Plain numbers on a log axis, minor ticks labelled only when it spans little."""
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(minor_thresholds=(1.2, 0.8)))


def _slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _scaling_groups(cases):
    """{dim: [(backend, kind, fixed_text, [(size, ms)])]} for groups varying only in dim, with >= 3 sizes."""
    out = {}
    for dim, field, _ in _DIMS:
        others = [(d, f) for d, f, _ in _DIMS if d != dim]
        groups = {}
        for c in cases:
            ms = _fb_ms(c)
            if ms is None:
                continue
            q = c["params"]
            key = (q["backend"], q["kind"], q.get("dtype"), q.get("num_layers", 1),
                   tuple(q[f] for _, f in others))
            groups.setdefault(key, {}).setdefault(q[field], ms)  # the first case of a size
        found = []
        for (backend, kind, _, _, fixed), per in groups.items():
            if len(per) >= 3:
                text = " ".join(f"{d}={v}" for (d, _), v in zip(others, fixed))
                found.append((backend, kind, text, sorted(per.items())))
        if found:
            out[dim] = found
    return out


def fig_throughput_scaling(cases, folder):
    """Log-log forward+backward time against T, H or B where only that size varies, one panel per size,
    with the fitted log-log slope in each label; colour by backend, marker by kind, line style by fixed sizes."""
    groups = _scaling_groups(cases)
    if not groups:
        return None
    dims = [d for d, _, _ in _DIMS if d in groups]
    xlabels = {d: label for d, _, label in _DIMS}
    backends = _backend_order({g[0] for per in groups.values() for g in per})
    kinds = _kind_order({g[1] for per in groups.values() for g in per})
    fig = _new_figure((WIDE_FIGSIZE[0] + 1.0, 4.0 * len(dims) if len(dims) > 1 else FIGSIZE[1]))
    for i, dim in enumerate(dims):
        ax = fig.add_subplot(len(dims), 1, i + 1)
        fixed_texts = sorted({g[2] for g in groups[dim]})
        for backend, kind, fixed, points in sorted(
                groups[dim], key=lambda g: (backends.index(g[0]), kinds.index(g[1]), g[2])):
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            label = f"{backend} {kind}" + (f" {fixed}" if len(fixed_texts) > 1 else "")
            ax.loglog(xs, ys, color=_backend_color(backend, backends), marker=_kind_marker(kind, kinds), ms=5,
                      lw=1.5, ls=_FIXED_STYLES[fixed_texts.index(fixed) % len(_FIXED_STYLES)], label=f"{label} (slope {_slope(xs, ys):.2f})")
        _plain_log_ticks(ax.xaxis, [p[0] for g in groups[dim] for p in g[3]])
        _plain_log_labels(ax.yaxis)
        lo = ax.get_ylim()[0]
        decade = 10.0 ** math.floor(math.log10(lo))
        if decade >= lo / 1.5:  # reach down to a labelled decade just below the data
            ax.set_ylim(bottom=decade)
        ax.set_xlabel(xlabels[dim])
        ax.set_ylabel("fwd + bwd time (ms, log)")
        fixed = f" ({fixed_texts[0]})" if len(fixed_texts) == 1 else ""
        ax.set_title(f"Time vs {dim}{fixed}", fontsize="medium")
        ax.grid(True, which="major", alpha=0.3)
        _legend(ax, outside=True)
    dtype = _dtype_text(cases)
    fig.suptitle(f"Forward+backward time scaling (log-log){f', {dtype}' if dtype else ''}")
    return _save(fig, folder, "throughput_scaling.png")


# ---- entry point ----------------------------------------------------------------------------------------

def write_figures(data, folder):
    """Write the run's figures (see the module docstring) into ``folder``, created if needed.

    data: a loaded results dict (rnnbench.runs.load_run). Returns the paths
    written, in a fixed order: decay figures (norm vs lag per kind, rate vs
    gain, grad at step 0 vs T, temporal per kind), then tbptt, then throughput
    (bars, GFLOP/s vs H, scaling)."""
    folder = Path(folder)
    decay_cases = _ok(data, "decay")
    tbptt_cases = _ok(data, "tbptt")
    throughput_cases = _ok(data, "throughput")
    if not decay_cases and not tbptt_cases and not throughput_cases:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if decay_cases:
        longest = _longest_T(decay_cases)
        colors = _init_colors(init for _, init in longest)
        kinds = _kind_order({kind for kind, _ in longest})
        per_kind = {k: {key: c for key, c in longest.items() if key[0] == k} for k in kinds}
        written += [fig_norm_vs_lag(k, per_kind[k], colors, folder) for k in kinds]
        written.append(fig_rate_vs_gain(longest, folder))
        written.append(fig_grad_step0_vs_T(decay_cases, colors, folder))
        written += [fig_temporal(k, per_kind[k], colors, folder) for k in kinds]
    if tbptt_cases:
        written.append(fig_tbptt_vs_K(tbptt_cases, folder))
    if throughput_cases:
        written += fig_throughput_bars(throughput_cases, folder)
        written.append(fig_throughput_gflops_vs_H(throughput_cases, folder))
        written.append(fig_throughput_scaling(throughput_cases, folder))
    return [p for p in written if p is not None]
